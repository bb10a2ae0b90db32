package modules

import (
	"context"
	"fmt"
	"strings"
)

// aptModule is apt and package (which, on the Debian family koala targets,
// is apt).
type aptModule struct {
	generic bool
}

func init() {
	Register(aptModule{}, "apt")
	Register(aptModule{generic: true}, "package")
}

func (m aptModule) Args() (accepted, required []string) {
	if m.generic {
		return []string{"name", "state", "use"}, []string{"name"}
	}
	return []string{"name", "pkg", "package", "state", "update_cache", "update-cache", "cache_valid_time",
		"install_recommends", "purge", "autoremove", "default_release"}, nil
}

// aptScript inspects and changes packages in one round trip, each change
// through the gate's `change` (Task.script). It prints "cache_updated",
// "packages <names>" (what was, or in check mode would be, installed,
// upgraded or removed) and "fail <message>"; apt's own output goes to
// stderr. An install is simulated first (apt-get -s), so that a package apt
// cannot install fails the same way in check mode and in a real run.
const aptScript = `
fail() { echo "fail $*"; exit 0; }
command -v apt-get >/dev/null 2>&1 || fail "apt-get not found: koala's package module supports apt hosts only"
export DEBIAN_FRONTEND=noninteractive
apt="apt-get -q -y -o DPkg::Lock::Timeout=120 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold $opts"
if [ "$update" = 1 ]; then
  stamp=/var/lib/apt/periodic/update-success-stamp; [ -e $stamp ] || stamp=/var/cache/apt/pkgcache.bin
  if [ "$valid" -gt 0 ] && [ -e $stamp ] && [ $(( $(date +%s) - $(stat -c %Y $stamp) )) -lt "$valid" ]; then :
  else change apt-get -q -o DPkg::Lock::Timeout=120 update; echo cache_updated; fi
fi
[ $# -gt 0 ] || exit 0
# installed <name[=version]>: is it installed (at that version)?
installed() {
  n=${1%%=*}; v=; [ "$n" = "$1" ] || v=${1#*=}
  s=$(dpkg-query -W -f='${db:Status-Abbrev} ${Version}' -- "$n" 2>/dev/null) || return 1
  case $s in ii*) ;; *) return 1 ;; esac
  [ -z "$v" ] || [ "${s#* }" = "$v" ] || [ "${s##* }" = "$v" ]
}
todo=
case $state in
present)
  for p; do installed "$p" || todo="$todo $p"; done
  [ -n "$todo" ] || exit 0
  $apt -s install $todo >&2 || fail "cannot install$todo (apt-get -s install failed)"
  change $apt install $todo ;;
latest)
  todo=$($apt -s install "$@" 2>/dev/null | sed -n 's/^Inst \([^ ]*\).*/\1/p' | tr '\n' ' ')
  if [ -z "$todo" ]; then $apt -s install "$@" >/dev/null 2>&1 || { $apt -s install "$@" >&2; fail "cannot install $*"; }; exit 0; fi
  change $apt install "$@" ;;
absent)
  for p; do s=$(dpkg-query -W -f='${db:Status-Abbrev}' -- "${p%%=*}" 2>/dev/null) || continue
    case $s in ii*|iU*|iF*|iH*|hi*) todo="$todo ${p%%=*}" ;; rc*) [ "$purge" = 1 ] && todo="$todo ${p%%=*}" ;; esac; done
  [ -n "$todo" ] || exit 0
  change $apt $rm $todo ;;
esac
echo "packages $todo"
`

func (m aptModule) Run(ctx context.Context, t *Task) (Result, error) {
	modName := "apt"
	if m.generic {
		modName = "package"
	}
	a := newArgs(t.Args)
	names := a.list("name", "pkg", "package")
	state := a.choice("present", "state", "present", "installed", "latest", "absent", "removed")
	switch state {
	case "installed":
		state = "present"
	case "removed":
		state = "absent"
	}
	update := a.boolean(false, "update_cache", "update-cache")
	valid := a.integer(0, "cache_valid_time")
	recommends := a.boolean(true, "install_recommends")
	purge := a.boolean(false, "purge")
	autoremove := a.boolean(false, "autoremove")
	release := a.str("", "default_release")
	if use := a.str("auto", "use"); use != "auto" && use != "apt" {
		a.bad("use=%s: only apt is supported", use)
	}
	if len(names) == 0 && !update {
		a.bad("give name, or update_cache")
	}
	for _, n := range names {
		if strings.HasPrefix(n, "-") || strings.ContainsAny(n, " \t'\"\\$`;|&<>") {
			a.bad("%q is not a package name", n)
		}
	}
	if err := a.err(modName); err != nil {
		return Result{}, err
	}
	opts := []string{}
	if !recommends {
		opts = append(opts, "--no-install-recommends")
	}
	if release != "" {
		opts = append(opts, "-t", release)
	}
	rm := "remove"
	if purge {
		rm = "remove --purge"
	}
	if autoremove {
		rm += " --autoremove"
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "set -- %s\nstate=%s update=%s valid=%d purge=%s rm=%s opts=%s\n",
		quoteAll(names), state, flag(update), valid, flag(purge), quote(rm), quote(strings.Join(opts, " ")))
	sb.WriteString(aptScript)
	res, err := t.exec(ctx, t.script(sb.String()))
	if err != nil {
		return Result{}, fmt.Errorf("%s %s: %w", modName, strings.Join(names, " "), err)
	}
	data := map[string]any{"cache_updated": false, "stdout": "", "stderr": string(res.Stderr)}
	r := Result{Data: data}
	var changed []string
	for _, l := range strings.Split(string(res.Stdout), "\n") {
		key, val, _ := strings.Cut(l, " ")
		switch key {
		case "cache_updated":
			data["cache_updated"] = true
		case "packages":
			changed = strings.Fields(val)
		case "fail":
			r.Failed, r.Msg = true, fmt.Sprintf("host %s: %s: %s", t.Host, val, lastLine(res.Stderr))
			return r, nil
		}
	}
	if res.RC != 0 {
		r.Failed = true
		r.Msg = fmt.Sprintf("host %s: %s %s of %s failed: %s", t.Host, modName, state, strings.Join(names, " "), lastLine(res.Stderr))
		return r, nil
	}
	// Like Ansible, refreshing the cache alone is a change.
	r.Changed = len(changed) > 0 || (len(names) == 0 && data["cache_updated"] == true)
	if len(changed) > 0 {
		verb := map[string]string{"present": "installed", "latest": "installed or upgraded", "absent": "removed"}[state]
		r.Msg = verb + ": " + strings.Join(changed, " ")
		if t.checkMode() {
			r.Msg = "would have " + r.Msg
		}
	}
	return r, nil
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// lastLine is the last non-empty line of b: where apt says what went wrong.
func lastLine(b []byte) string {
	ls := strings.Split(strings.TrimSpace(string(b)), "\n")
	for i := len(ls) - 1; i >= 0; i-- {
		if s := strings.TrimSpace(ls[i]); s != "" {
			return s
		}
	}
	return "no output"
}
