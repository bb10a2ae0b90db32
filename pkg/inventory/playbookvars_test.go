package inventory

import (
	"os"
	"path/filepath"
	"testing"
)

// Playbook group_vars sit above the inventory's group_vars of the same level
// (all over all, group over group) and below host vars, as in Ansible.
func TestAddPlaybookVars(t *testing.T) {
	invDir := t.TempDir()
	pbDir := t.TempDir()
	write := func(p, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(invDir, "hosts"), "[control]\nn1 hv=inv-host\nn2\n")
	write(filepath.Join(invDir, "group_vars", "all.yml"), "a: inv-all\nb: inv-all\nc: inv-all\n")
	write(filepath.Join(invDir, "group_vars", "control.yml"), "c: inv-control\nd: inv-control\n")
	write(filepath.Join(pbDir, "group_vars", "all.yml"), "a: pb-all\nb: pb-all\nd: pb-all\nhv: pb-all\nt: \"{{ a }}\"\n")
	write(filepath.Join(pbDir, "group_vars", "control.yml"), "e: pb-control\n")
	write(filepath.Join(pbDir, "host_vars", "n2.yml"), "hv: pb-host\n")

	inv := mustLoad(t, filepath.Join(invDir, "hosts"))
	_ = inv.HostVars("n1") // fill the cache: AddPlaybookVars must drop it
	if err := inv.AddPlaybookVars(pbDir); err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]any{
		// pb all > inv all; inv control > pb all; host var > everything
		"n1": {"a": "pb-all", "b": "pb-all", "c": "inv-control", "d": "inv-control", "e": "pb-control", "hv": "inv-host", "t": "{{ a }}"},
		"n2": {"a": "pb-all", "b": "pb-all", "c": "inv-control", "d": "inv-control", "e": "pb-control", "hv": "pb-host", "t": "{{ a }}"},
	}
	for h, w := range want {
		got := inv.HostVars(h)
		for k, v := range w {
			if got[k] != v {
				t.Errorf("%s: %s = %v, want %v", h, k, got[k], v)
			}
		}
	}
	if err := inv.AddPlaybookVars(filepath.Join(pbDir, "nonexistent")); err != nil {
		t.Errorf("missing playbook dir: %v", err)
	}
}
