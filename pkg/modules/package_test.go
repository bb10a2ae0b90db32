package modules

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPackage changes no package: it asks for one that is installed and, in
// check mode, for one that is not.
func TestPackage(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("apt-get"); err != nil {
		t.Skip("not an apt host")
	}
	out, _ := exec.Command("apt-cache", "policy", "hello").Output()
	haveHello := strings.Contains(string(out), "Candidate:") && !strings.Contains(string(out), "Candidate: (none)")
	installed, _ := exec.Command("dpkg-query", "-W", "-f=${db:Status-Abbrev}", "hello").Output()
	if strings.HasPrefix(string(installed), "ii") {
		haveHello = false // someone installed it: a check-mode install would not change
	}
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			c := tg.conn
			r := run(t, c, "package", map[string]any{"name": []any{"coreutils", "dpkg"}, "state": "present"})
			mustChanged(t, r, false)
			mustChanged(t, run(t, c, "ansible.builtin.apt", map[string]any{"name": "coreutils", "state": "present"}, check), false)
			mustChanged(t, run(t, c, "apt", map[string]any{"name": "koala-no-such-package", "state": "absent"}), false)
			if tg.name == "ssh" {
				return // unprivileged: apt-get -s works, but real changes need become
			}
			if haveHello {
				r = run(t, c, "apt", map[string]any{"name": "hello", "state": "present", "install_recommends": false}, check)
				mustChanged(t, r, true)
				if st, _ := exec.Command("dpkg-query", "-W", "-f=${db:Status-Abbrev}", "hello").Output(); strings.HasPrefix(string(st), "ii") {
					t.Fatal("check mode installed hello")
				}
			}
			r = run(t, c, "apt", map[string]any{"name": "koala-no-such-package"}, check)
			if !r.Failed || !strings.Contains(r.Msg, "koala-no-such-package") || !strings.Contains(r.Msg, c.Host()) {
				t.Errorf("unknown package: %+v", r)
			}
		})
	}
}
