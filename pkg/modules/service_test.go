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

// TestServiceSystemd drives the systemd branch with a fake systemctl (this
// machine's PID 1 is not systemd, and a test must not pretend it is for
// everyone else).
func TestServiceSystemd(t *testing.T) {
	t.Parallel()
	bin, st, marker := t.TempDir(), t.TempDir(), t.TempDir()
	fake := `#!/bin/sh
case "$1" in
show) echo loaded ;;
is-active) [ -f "$ST/active" ] && { echo active; exit 0; }; echo inactive; exit 3 ;;
is-enabled) [ -f "$ST/enabled" ] && { echo enabled; exit 0; }; echo disabled; exit 1 ;;
start|restart|reload-or-restart) touch "$ST/active"; echo "$1" >>"$ST/log" ;;
stop) rm -f "$ST/active" ;;
enable) touch "$ST/enabled" ;;
disable) rm -f "$ST/enabled" ;;
daemon-reload) echo daemon-reload >>"$ST/log" ;;
*) echo "unexpected $*" >&2; exit 1 ;;
esac
`
	if err := os.WriteFile(filepath.Join(bin, "systemctl"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	c := localTarget(t).conn
	env := map[string]string{"PATH": bin + ":" + os.Getenv("PATH"), "ST": st}
	do := func(a map[string]any, check bool) Result {
		t.Helper()
		r, err := serviceModule{systemd: true, marker: marker}.Run(t.Context(), &Task{Host: "local", Conn: c, Env: env, Args: a, Check: check})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a := map[string]any{"name": "koala-fake.service", "state": "started", "enabled": true, "daemon_reload": true}
	mustChanged(t, do(a, true), true)
	if _, err := os.Stat(filepath.Join(st, "active")); err == nil {
		t.Fatal("check mode started the unit")
	}
	r := do(a, false)
	mustChanged(t, r, true)
	if r.Data["service_mgr"] != "systemd" || r.Data["enabled"] != true || r.Data["state"] != "started" {
		t.Errorf("data %v", r.Data)
	}
	mustChanged(t, do(a, false), false)
	mustChanged(t, do(map[string]any{"name": "koala-fake.service", "state": "reloaded"}, false), true)
	if log := readFile(t, filepath.Join(st, "log")); !strings.Contains(log, "reload-or-restart") || !strings.Contains(log, "daemon-reload") {
		t.Errorf("log %q", log)
	}
	a = map[string]any{"name": "koala-fake.service", "state": "stopped", "enabled": false}
	mustChanged(t, do(a, false), true)
	mustChanged(t, do(a, false), false)
}
