package modules

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/koala-stack/koala/pkg/transport"
)

type userModule struct{}
type groupModule struct{}

func init() {
	Register(userModule{}, "user")
	Register(groupModule{}, "group")
}

func (userModule) Args() (accepted, required []string) {
	return []string{"name", "user", "state", "uid", "group", "groups", "append", "shell", "home", "create_home", "createhome",
		"move_home", "system", "comment", "password", "update_password", "remove", "force", "non_unique"}, []string{"name|user"}
}

func (groupModule) Args() (accepted, required []string) {
	return []string{"name", "state", "gid", "system", "non_unique"}, []string{"name"}
}

// Both scripts make each change through the gate's `change` (Task.script),
// which prints "change <command>" (made, or in check mode due); they print
// "entry <getent line>" for the result; a failing command stops them with
// its stderr. Secrets (the password hash) arrive in the environment.
const groupScript = `
e=$(getent group -- "$name")
if [ "$state" = absent ]; then
  [ -z "$e" ] || change groupdel -- "$name"
  exit 0
fi
if [ -z "$e" ]; then
  set --; [ -n "$gid" ] && set -- -g "$gid"; [ "$system" = 1 ] && set -- "$@" -r; [ "$nonunique" = 1 ] && set -- "$@" -o
  change groupadd "$@" -- "$name"
elif [ -n "$gid" ] && [ "$(echo "$e" | cut -d: -f3)" != "$gid" ]; then
  set --; [ "$nonunique" = 1 ] && set -- -o
  change groupmod "$@" -g "$gid" -- "$name"
fi
echo "entry $(getent group -- "$name")"
`

const userScript = `
e=$(getent passwd -- "$name")
if [ "$state" = absent ]; then
  set --; [ "$remove" = 1 ] && set -- -r; [ "$force" = 1 ] && set -- "$@" -f
  [ -z "$e" ] || change userdel "$@" -- "$name"
  exit 0
fi
# member_of: the user's supplementary groups, one a line.
member_of() { getent group | awk -F: -v u="$name" '{n=split($4,m,","); for(i=1;i<=n;i++) if (m[i]==u) print $1}'; }
set_password() { printf '%s:%s\n' "$name" "$KOALA_PASSWORD" | chpasswd -e; }
if [ -z "$e" ]; then
  set --
  [ -n "$uid" ] && set -- "$@" -u "$uid"; [ "$nonunique" = 1 ] && set -- "$@" -o
  [ -n "$group" ] && set -- "$@" -g "$group"
  [ -n "$groups" ] && set -- "$@" -G "$groups"
  [ -n "$shell" ] && set -- "$@" -s "$shell"
  [ -n "$home" ] && set -- "$@" -d "$home"
  [ -n "$comment" ] && set -- "$@" -c "$comment"
  [ "$system" = 1 ] && set -- "$@" -r
  if [ "$createhome" = 1 ]; then set -- "$@" -m; else set -- "$@" -M; fi
  change useradd "$@" -- "$name"
  [ -z "$KOALA_PASSWORD" ] || change set_password
else
  f() { echo "$e" | cut -d: -f$1; }
  set --
  [ -n "$uid" ] && [ "$uid" != "$(f 3)" ] && set -- "$@" -u "$uid"
  if [ -n "$group" ]; then
    g=$(getent group -- "$group" | cut -d: -f3)
    [ -n "$g" ] || { echo "group $group does not exist" >&2; exit 1; }
    [ "$g" = "$(f 4)" ] || set -- "$@" -g "$group"
  fi
  [ -n "$shell" ] && [ "$shell" != "$(f 7)" ] && set -- "$@" -s "$shell"
  [ -n "$home" ] && [ "$home" != "$(f 6)" ] && { set -- "$@" -d "$home"; [ "$movehome" = 1 ] && set -- "$@" -m; }
  [ "$setcomment" = 1 ] && [ "$comment" != "$(f 5)" ] && set -- "$@" -c "$comment"
  if [ "$setgroups" = 1 ]; then
    cur=$(member_of); diff=
    for g in $(echo "$groups" | tr ',' ' '); do echo "$cur" | grep -qxF -- "$g" || diff=1; done
    if [ "$append" != 1 ]; then
      for g in $cur; do case ",$groups," in *",$g,"*) ;; *) diff=1 ;; esac; done
    fi
    if [ -n "$diff" ]; then if [ "$append" = 1 ]; then set -- "$@" -a -G "$groups"; else set -- "$@" -G "$groups"; fi; fi
  fi
  [ $# -eq 0 ] || change usermod "$@" -- "$name"
  if [ -n "$KOALA_PASSWORD" ] && [ "$updatepw" = always ]; then
    [ "$(getent shadow -- "$name" | cut -d: -f2)" = "$KOALA_PASSWORD" ] || change set_password
  fi
fi
echo "entry $(getent passwd -- "$name")"
echo "groups $(member_of | tr '\n' ',' | sed 's/,$//')"
`

func (groupModule) Run(ctx context.Context, t *Task) (Result, error) {
	a := newArgs(t.Args)
	name := a.str("", "name")
	state := a.choice("present", "state", "present", "absent")
	gid := ""
	if a.has("gid") {
		gid = strconv.Itoa(a.integer(0, "gid"))
	}
	system := a.boolean(false, "system")
	nonUnique := a.boolean(false, "non_unique")
	checkAccountName(a, name)
	if err := a.err("group"); err != nil {
		return Result{}, err
	}
	script := fmt.Sprintf("name=%s state=%s gid=%s system=%s nonunique=%s\n%s",
		quote(name), state, gid, flag(system), flag(nonUnique), groupScript)
	changes, entries, r, err := t.accountScript(ctx, "group", name, script, nil)
	if err != nil || r.Failed {
		return r, err
	}
	r.Data["state"], r.Data["system"] = state, system
	if f := strings.Split(entries["entry"], ":"); len(f) >= 3 {
		r.Data["gid"] = atoiOr(f[2])
	} else if gid != "" {
		r.Data["gid"] = atoiOr(gid)
	}
	r.Changed = len(changes) > 0
	return r, nil
}

func (userModule) Run(ctx context.Context, t *Task) (Result, error) {
	a := newArgs(t.Args)
	name := a.str("", "name", "user")
	state := a.choice("present", "state", "present", "absent")
	uid := ""
	if a.has("uid") {
		uid = strconv.Itoa(a.integer(0, "uid"))
	}
	groups := a.list("groups")
	v := map[string]string{
		"name": name, "state": state, "uid": uid, "group": a.str("", "group"), "groups": strings.Join(groups, ","),
		"shell": a.str("", "shell"), "home": a.str("", "home"), "comment": a.str("", "comment"),
		"append": flag(a.boolean(false, "append")), "createhome": flag(a.boolean(true, "create_home", "createhome")),
		"movehome": flag(a.boolean(false, "move_home")), "system": flag(a.boolean(false, "system")),
		"remove": flag(a.boolean(false, "remove")), "force": flag(a.boolean(false, "force")),
		"nonunique": flag(a.boolean(false, "non_unique")), "setgroups": flag(a.has("groups")),
		"setcomment": flag(a.has("comment")), "updatepw": a.choice("always", "update_password", "always", "on_create"),
	}
	password := a.str("", "password")
	checkAccountName(a, name)
	if strings.ContainsAny(password, ":\n") {
		a.bad("password must be a crypt(3) hash without ':' or newlines")
	}
	if err := a.err("user"); err != nil {
		return Result{}, err
	}
	var sb strings.Builder
	for _, k := range []string{"name", "state", "uid", "group", "groups", "shell", "home", "comment", "append", "createhome",
		"movehome", "system", "remove", "force", "nonunique", "setgroups", "setcomment", "updatepw"} {
		fmt.Fprintf(&sb, "%s=%s\n", k, quote(v[k]))
	}
	sb.WriteString(userScript)
	var secrets map[string]string
	if password != "" {
		secrets = map[string]string{"KOALA_PASSWORD": password}
	}
	changes, entries, r, err := t.accountScript(ctx, "user", name, sb.String(), secrets)
	if err != nil || r.Failed {
		return r, err
	}
	r.Changed = len(changes) > 0
	r.Data["state"] = state
	if f := strings.Split(entries["entry"], ":"); len(f) == 7 {
		r.Data["uid"], r.Data["group"] = atoiOr(f[2]), atoiOr(f[3])
		r.Data["comment"], r.Data["home"], r.Data["shell"] = f[4], f[5], f[6]
		r.Data["groups"] = entries["groups"]
	}
	if state == "present" {
		r.Data["system"] = v["system"] == "1"
		r.Data["create_home"] = v["createhome"] == "1"
	}
	if password != "" {
		r.Data["password"] = "NOT_LOGGING_PASSWORD"
	}
	return r, nil
}

// checkAccountName refuses names useradd/groupadd would misread.
func checkAccountName(a *args, name string) {
	if name == "" || strings.HasPrefix(name, "-") || strings.ContainsAny(name, ":, \t\n/") {
		a.bad("%q is not a valid account name", name)
	}
}

// accountScript runs a user/group script, secrets passed in its environment,
// and collects its change lines and its "entry"/"groups" lines.
func (t *Task) accountScript(ctx context.Context, kind, name, script string, secrets map[string]string) ([]string, map[string]string, Result, error) {
	env := t.Env
	if len(secrets) > 0 {
		env = map[string]string{}
		for k, v := range t.Env {
			env[k] = v
		}
		for k, v := range secrets {
			env[k] = v
		}
	}
	res, err := t.Conn.Exec(ctx, transport.Command{Cmd: t.script(script), Env: env})
	if err != nil {
		return nil, nil, Result{}, fmt.Errorf("host %s: %s %s: %w", t.Host, kind, name, err)
	}
	data := map[string]any{"name": name}
	var changes []string
	entries := map[string]string{}
	for _, l := range strings.Split(string(res.Stdout), "\n") {
		key, val, _ := strings.Cut(l, " ")
		switch key {
		case "change":
			changes = append(changes, val)
		case "entry", "groups":
			entries[key] = val
		}
	}
	if res.RC != 0 {
		what := ""
		if len(changes) > 0 {
			what = " (" + strings.Fields(changes[len(changes)-1])[0] + ")"
		}
		return nil, nil, Result{Failed: true, Data: data,
			Msg: fmt.Sprintf("host %s: %s %s%s: %s", t.Host, kind, name, what, firstLine(res.Stderr, res.Stdout))}, nil
	}
	return changes, entries, Result{Data: data}, nil
}
