package modules

import (
	"context"
	"fmt"
	"strings"
)

// serviceModule is service and systemd. Hosts may be containers where
// systemd is not PID 1: then it drives /etc/init.d scripts and update-rc.d.
type serviceModule struct {
	systemd bool // the systemd module: name is optional (daemon_reload alone)
	// marker is the directory whose presence means systemd is PID 1
	// ("" = /run/systemd/system; tests point it elsewhere).
	marker string
}

func init() {
	Register(serviceModule{}, "service")
	Register(serviceModule{systemd: true}, "systemd", "systemd_service")
}

func (m serviceModule) Args() (accepted, required []string) {
	if m.systemd {
		return []string{"name", "unit", "service", "state", "enabled", "daemon_reload", "daemon-reload", "daemon_reexec"}, nil
	}
	return []string{"name", "state", "enabled", "daemon_reload"}, []string{"name"}
}

// serviceScript inspects and changes a service in one round trip, each change
// through the gate's `change` (Task.script). It prints "mgr <systemd|sysv>",
// "running <0|1>", "enabled <0|1|->" (- when the unit cannot be enabled),
// "change <what>" per change and "fail <message>". daemon-reload and
// daemon-reexec are changes that are not reported as such (as Ansible).
const serviceScript = `
fail() { echo "fail $*"; exit 0; }
if [ -d "$marker" ]; then
  echo "mgr systemd"
  if [ "$reexec" = 1 ]; then change systemctl daemon-reexec; fi
  if [ "$reload" = 1 ]; then change systemctl daemon-reload; fi
  [ -n "$name" ] || exit 0
  [ "$(systemctl show -p LoadState --value -- "$name")" = not-found ] && fail "could not find the requested service $name: no such systemd unit"
  case $(systemctl is-active -- "$name") in active|activating|reloading) run=1 ;; *) run=0 ;; esac
  case $(systemctl is-enabled -- "$name" 2>/dev/null) in enabled|enabled-runtime|alias) en=1 ;; disabled) en=0 ;; *) en=- ;; esac
  start() { change systemctl start -- "$name"; }; stop() { change systemctl stop -- "$name"; }
  restart() { change systemctl restart -- "$name"; }; reload() { change systemctl reload-or-restart -- "$name"; }
  enable() { change systemctl enable -- "$name"; }; disable() { change systemctl disable -- "$name"; }
else
  echo "mgr sysv"
  [ -n "$name" ] || exit 0
  s=/etc/init.d/$name
  [ -x "$s" ] || fail "could not find the requested service $name: systemd is not running (PID 1 is $(cat /proc/1/comm 2>/dev/null)) and there is no $s"
  if "$s" status >/dev/null 2>&1; then run=1; else run=0; fi
  if ls /etc/rc[2345].d/S[0-9][0-9]"$name" >/dev/null 2>&1; then en=1; else en=0; fi
  start() { change "$s" start; }; stop() { change "$s" stop; }; restart() { change "$s" restart; }
  reload() { change "$s" reload; }
  enable() { ls /etc/rc[0-6S].d/[SK][0-9][0-9]"$name" >/dev/null 2>&1 || change update-rc.d "$name" defaults; change update-rc.d "$name" enable; }
  disable() { change update-rc.d "$name" disable; }
fi
echo "running $run"; echo "enabled $en"
case $state in
started) [ $run = 1 ] || start ;;
stopped) [ $run = 0 ] || stop ;;
restarted) if [ $run = 1 ]; then restart; else start; fi ;;
reloaded) if [ $run = 1 ]; then reload; else start; fi ;;
esac
case $enabled in
1) [ "$en" = - ] && fail "service $name cannot be enabled (static or generated unit)"; [ "$en" = 1 ] || enable ;;
0) [ "$en" = - ] && fail "service $name cannot be disabled (static or generated unit)"; [ "$en" = 0 ] || disable ;;
esac
exit 0
`

func (m serviceModule) Run(ctx context.Context, t *Task) (Result, error) {
	modName := "service"
	if m.systemd {
		modName = "systemd"
	}
	a := newArgs(t.Args)
	name := a.str("", "name", "unit", "service")
	state := ""
	if a.has("state") {
		state = a.choice("", "state", "started", "stopped", "restarted", "reloaded")
	}
	enabled := ""
	if a.has("enabled") {
		enabled = flag(a.boolean(false, "enabled"))
	}
	reload := a.boolean(false, "daemon_reload", "daemon-reload")
	reexec := a.boolean(false, "daemon_reexec")
	if name == "" && (state != "" || enabled != "") {
		a.bad("state and enabled need name")
	}
	if name == "" && !reload && !reexec {
		a.bad("give name, or daemon_reload/daemon_reexec")
	}
	if name != "" && state == "" && enabled == "" && !reload && !reexec {
		a.bad("give at least one of state and enabled")
	}
	if err := a.err(modName); err != nil {
		return Result{}, err
	}
	marker := m.marker
	if marker == "" {
		marker = "/run/systemd/system"
	}
	script := fmt.Sprintf("name=%s state=%s enabled=%s reload=%s reexec=%s marker=%s\n%s",
		quote(name), state, enabled, flag(reload), flag(reexec), quote(marker), serviceScript)
	res, err := t.exec(ctx, t.script(script))
	if err != nil {
		return Result{}, fmt.Errorf("%s %s: %w", modName, name, err)
	}
	data := map[string]any{"name": name}
	var changes []string
	running, en := "", ""
	for _, l := range strings.Split(string(res.Stdout), "\n") {
		key, val, _ := strings.Cut(l, " ")
		switch key {
		case "fail":
			return Result{Failed: true, Data: data, Msg: fmt.Sprintf("host %s: %s", t.Host, val)}, nil
		case "change":
			if !strings.HasPrefix(val, "systemctl daemon-") {
				changes = append(changes, val)
			}
		case "running":
			running = val
		case "enabled":
			en = val
		case "mgr":
			data["service_mgr"] = val
		}
	}
	if res.RC != 0 {
		last := ""
		if len(changes) > 0 {
			last = changes[len(changes)-1] + ": "
		}
		return Result{Failed: true, Data: data, Msg: fmt.Sprintf("host %s: %s %s: %s%s", t.Host, modName, name, last, firstLine(res.Stderr, res.Stdout))}, nil
	}
	switch {
	case state == "stopped":
		data["state"] = "stopped"
	case state != "":
		data["state"] = "started"
	case running == "1":
		data["state"] = "started"
	case running == "0":
		data["state"] = "stopped"
	}
	switch {
	case enabled != "":
		data["enabled"] = enabled == "1"
	case en == "1" || en == "0":
		data["enabled"] = en == "1"
	}
	r := Result{Changed: len(changes) > 0, Data: data}
	if r.Changed {
		r.Msg = strings.Join(changes, "; ")
	}
	return r, nil
}
