package modules

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestUserGroup creates and removes uniquely named accounts only.
func TestUserGroup(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	for _, tg := range targets(t) {
		if tg.name == "ssh" {
			continue // useradd needs root; ssh-become covers SSH
		}
		t.Run(tg.name, func(t *testing.T) {
			c := tg.conn
			id := nonce()[:6]
			g1, g2, u := "koala-g1-"+id, "koala-g2-"+id, "koala-u-"+id
			t.Cleanup(func() {
				exec.Command("userdel", "-r", u).Run()
				exec.Command("groupdel", g1).Run()
				exec.Command("groupdel", g2).Run()
			})
			ga := map[string]any{"name": g1, "system": true}
			mustChanged(t, run(t, c, "group", ga, check), true)
			if exec.Command("getent", "group", g1).Run() == nil {
				t.Fatal("check mode created the group")
			}
			r := run(t, c, "group", ga)
			mustChanged(t, r, true)
			if _, ok := r.Data["gid"].(int); !ok {
				t.Errorf("gid %v", r.Data)
			}
			mustChanged(t, run(t, c, "group", ga), false)
			mustChanged(t, run(t, c, "group", map[string]any{"name": g2}), true)

			home := t.TempDir() + "/home"
			ua := map[string]any{"name": u, "groups": []any{g1}, "shell": "/bin/sh", "home": home, "comment": "koala test",
				"password": "$6$salt$notarealhashbutfine"}
			mustChanged(t, run(t, c, "user", ua, check), true)
			if exec.Command("getent", "passwd", u).Run() == nil {
				t.Fatal("check mode created the user")
			}
			r = run(t, c, "user", ua)
			mustChanged(t, r, true)
			if r.Data["home"] != home || r.Data["shell"] != "/bin/sh" || r.Data["groups"] != g1 || r.Data["password"] != "NOT_LOGGING_PASSWORD" {
				t.Errorf("user data %v", r.Data)
			}
			if st, err := os.Stat(home); err != nil || !st.IsDir() {
				t.Errorf("home not created: %v", err)
			}
			mustChanged(t, run(t, c, "user", ua), false)

			// append adds g2 and keeps g1; without append the list is exact.
			mustChanged(t, run(t, c, "user", map[string]any{"name": u, "groups": g2, "append": true}), true)
			out, _ := exec.Command("id", "-Gn", u).Output()
			if !strings.Contains(string(out), g1) || !strings.Contains(string(out), g2) {
				t.Errorf("append: groups %q", out)
			}
			mustChanged(t, run(t, c, "user", map[string]any{"name": u, "groups": []any{g1, g2}}), false)
			mustChanged(t, run(t, c, "user", map[string]any{"name": u, "groups": []any{g2}}), true)
			out, _ = exec.Command("id", "-Gn", u).Output()
			if strings.Contains(string(out), g1) {
				t.Errorf("exact groups: %q", out)
			}

			r = run(t, c, "user", map[string]any{"name": u, "group": "koala-no-such-group"})
			if !r.Failed || !strings.Contains(r.Msg, "koala-no-such-group") || !strings.Contains(r.Msg, c.Host()) {
				t.Errorf("unknown group: %+v", r)
			}

			absent := map[string]any{"name": u, "state": "absent", "remove": true}
			mustChanged(t, run(t, c, "user", absent, check), true)
			mustChanged(t, run(t, c, "user", absent), true)
			mustChanged(t, run(t, c, "user", absent), false)
			mustChanged(t, run(t, c, "group", map[string]any{"name": g1, "state": "absent"}), true)
			mustChanged(t, run(t, c, "group", map[string]any{"name": g1, "state": "absent"}), false)
		})
	}
}
