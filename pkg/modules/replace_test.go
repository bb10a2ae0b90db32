package modules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReplaceAndModprobe(t *testing.T) {
	t.Parallel()
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			c := tg.conn
			p := filepath.Join(tg.dir(t), "conf")
			os.WriteFile(p, []byte("[a]\nport = 1\n[b]\nport = 2\nport = 3\n[c]\nport = 4\n"), 0o644)
			if tg.name == "ssh" {
				os.Chown(p, ownerUID(t, filepath.Dir(p)), -1)
			}
			a := map[string]any{"path": p, "regexp": `^port = (\d+)$`, "replace": `port = 9\1`, "after": `\[b\]`, "before": `\[c\]`}
			mustChanged(t, run(t, c, "replace", a, check), true)
			r := run(t, c, "replace", a, diff)
			mustChanged(t, r, true)
			if got := readFile(t, p); got != "[a]\nport = 1\n[b]\nport = 92\nport = 93\n[c]\nport = 4\n" || r.Msg != "2 replacements made" {
				t.Errorf("replace: %q %q", got, r.Msg)
			}
			a["regexp"] = `^port = 9(\d)$`
			a["replace"] = `port = 9\1`
			mustChanged(t, run(t, c, "replace", a), false)

			// Only modules the kernel already has: present changes nothing,
			// absent is asked in check mode only.
			mustChanged(t, run(t, c, "modprobe", map[string]any{"name": "kernel"}), false)
			mustChanged(t, run(t, c, "community.general.modprobe", map[string]any{"name": "kernel", "state": "absent"}, check), true)
			if _, err := os.Stat("/sys/module/kernel"); err != nil {
				t.Fatal("check mode removed a module")
			}
			r = run(t, c, "modprobe", map[string]any{"name": "koala_no_such_module"})
			if !r.Failed || !strings.Contains(r.Msg, "koala_no_such_module") || !strings.Contains(r.Msg, c.Host()) {
				t.Errorf("missing module: %+v", r)
			}
		})
	}
}
