package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/koala-stack/koala/pkg/inventory"
)

func runInventoryCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	app := App()
	var out, errOut bytes.Buffer
	app.Writer, app.ErrWriter = &out, &errOut
	err := app.Run(append([]string{"koala"}, args...))
	return out.String(), err
}

func TestInventoryCommand(t *testing.T) {
	const src = "../inventory/testdata/tricky.ini"
	inv, err := inventory.Load(src)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := inv.ListJSON()
	got, err := runInventoryCmd(t, "inventory", "-i", src, "--list")
	if err != nil || got != string(want)+"\n" {
		t.Errorf("--list: err %v, output differs from ListJSON:\n%s", err, got)
	}
	got, err = runInventoryCmd(t, "inventory", "-i", src, "--list-hosts", "web:&db")
	if err != nil || got != "db1\ndb5\n" {
		t.Errorf("--list-hosts = %q, %v", got, err)
	}
	got, err = runInventoryCmd(t, "inventory", "-i", src, "--graph", "db")
	if err != nil || got != "@db:\n  |--db1\n  |--db5\n" {
		t.Errorf("--graph db = %q, %v", got, err)
	}
	if _, err = runInventoryCmd(t, "inventory", "-i", src, "--list", "--graph"); ExitCode(err) != 5 {
		t.Errorf("two actions: exit code %d (%v), want 5", ExitCode(err), err)
	}
	if _, err = runInventoryCmd(t, "inventory", "-i", src, "--host", "web"); err == nil || !strings.Contains(err.Error(), "selects 13 hosts") {
		t.Errorf("--host with a group: %v", err)
	}
}

// A host list given inline reaches the inventory whole, as ansible-playbook
// takes it, trailing comma and all; -t lists are still split.
func TestInlineInventory(t *testing.T) {
	for _, tc := range []struct{ arg, want string }{
		{"h1,h2,", "h1\nh2\n"},
		{"h1,", "h1\n"},
		{"h1,[::1]:2222,h3:2200", "h1\n::1\nh3\n"},
	} {
		got, err := runInventoryCmd(t, "inventory", "-i", tc.arg, "--list-hosts", "all")
		if err != nil || got != tc.want {
			t.Errorf("-i %q: %q, %v; want %q", tc.arg, got, err, tc.want)
		}
	}
	got, err := runInventoryCmd(t, "inventory", "-i", "h1,h3:2200,", "--host", "h3")
	if err != nil || !strings.Contains(got, `"ansible_port": 2200`) {
		t.Errorf("--host h3 = %q, %v", got, err)
	}
	// ansible-playbook -i 'h1,h2,' -t a,b: the playbook runs on both hosts, tags split.
	dir := t.TempDir()
	pb := filepath.Join(dir, "pb.yml")
	if err := os.WriteFile(pb, []byte("- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: msg=A\n      tags: a\n    - debug: msg=B\n      tags: b\n    - debug: msg=C\n      tags: c\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := runPlaybookCLI(t, "run", "-i", "h1,h2,", "-t", "a,b", "-v", pb)
	if code != 0 || !strings.Contains(out, "h1") || !strings.Contains(out, "h2") || !strings.Contains(out, "A") || !strings.Contains(out, "B") || strings.Contains(out, "\"C\"") {
		t.Errorf("run -i h1,h2, -t a,b: code %d\n%s", code, out)
	}
}
