package modules

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeInitScript installs a harmless, uniquely named /etc/init.d script whose
// "daemon" is a state file, and removes it (and its rc links) afterwards.
func fakeInitScript(t *testing.T) (name, stateFile string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("installing an init script needs root")
	}
	name = "koala-test-" + nonce()
	stateFile = filepath.Join(t.TempDir(), "state")
	script := fmt.Sprintf(`#!/bin/sh
### BEGIN INIT INFO
# Provides:          %[1]s
# Required-Start:
# Required-Stop:
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: koala module test service
### END INIT INFO
f=%[2]s
case "$1" in
start) echo started >"$f" ;;
stop) rm -f "$f" ;;
restart|reload) echo "$1" >>"$f.log"; echo started >"$f" ;;
status) [ -f "$f" ] ;;
*) exit 3 ;;
esac
`, name, stateFile)
	p := "/etc/init.d/" + name
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		exec.Command("update-rc.d", "-f", name, "remove").Run()
		os.Remove(p)
	})
	return name, stateFile
}

func TestService(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		t.Skip("systemd runs this machine: the test's init script would need a unit")
	}
	name, state := fakeInitScript(t)
	for _, tg := range targets(t) {
		if tg.name == "ssh" {
			continue // starting services needs root; ssh-become covers the SSH path
		}
		t.Run(tg.name, func(t *testing.T) {
			c := tg.conn
			a := map[string]any{"name": name, "state": "started", "enabled": true}
			mustChanged(t, run(t, c, "service", a, check), true)
			if _, err := os.Stat(state); err == nil {
				t.Fatal("check mode started the service")
			}
			if matches, _ := filepath.Glob("/etc/rc2.d/S*" + name); len(matches) > 0 {
				t.Fatal("check mode enabled the service")
			}
			r := run(t, c, "service", a)
			mustChanged(t, r, true)
			if r.Data["state"] != "started" || r.Data["enabled"] != true {
				t.Errorf("data %v", r.Data)
			}
			if _, err := os.Stat(state); err != nil {
				t.Fatal("service not started")
			}
			if matches, _ := filepath.Glob("/etc/rc2.d/S*" + name); len(matches) != 1 {
				t.Fatalf("service not enabled: %v", matches)
			}
			mustChanged(t, run(t, c, "ansible.builtin.systemd", a), false)

			mustChanged(t, run(t, c, "service", map[string]any{"name": name, "state": "restarted"}), true)
			if log := readFile(t, state+".log"); !strings.Contains(log, "restart") {
				t.Errorf("restart not run: %q", log)
			}
			a = map[string]any{"name": name, "state": "stopped", "enabled": false}
			mustChanged(t, run(t, c, "service", a), true)
			mustChanged(t, run(t, c, "service", a), false)
			if _, err := os.Stat(state); err == nil {
				t.Error("service not stopped")
			}
			os.Remove(state + ".log")
		})
	}
	c := localTarget(t).conn
	r := run(t, c, "service", map[string]any{"name": "koala-no-such-service", "state": "started"})
	if !r.Failed || !strings.Contains(r.Msg, "koala-no-such-service") || !strings.Contains(r.Msg, c.Host()) {
		t.Errorf("missing service: %+v", r)
	}
}
