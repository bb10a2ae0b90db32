package modules

import (
	"context"
	"fmt"
	"strings"
)

type fileModule struct{}

func init() { Register(fileModule{}, "file") }

func (fileModule) Args() (accepted, required []string) {
	return []string{"path", "dest", "name", "state", "mode", "owner", "group", "recurse", "src", "force", "follow"},
		[]string{"path|dest|name"}
}

// fileScript inspects and changes a path in one round trip, each change
// through the gate's `change` (Task.script). Lines it prints: "before <state>
// <mode> <owner> <group>", "change <command>" for each change made (or, in
// check mode, that would be made), "fail <message>" for a refusal, and
// "after ..." like before. A command that fails stops it with its stderr.
const fileScript = `
cur() { if [ -L "$p" ]; then echo link; elif [ -d "$p" ]; then echo directory; elif [ -f "$p" ]; then echo file; elif [ -e "$p" ]; then echo other; else echo absent; fi; }
attrs() { [ -e "$p" ] || [ -L "$p" ] && stat $fl -c '%a %U %G %u %g' -- "$p"; }
fail() { echo "fail $*"; exit 0; }
differs() { o=$(find "$@" -print -quit) || exit 1; [ -n "$o" ]; }
fl=-L; [ "$follow" = 1 ] || fl=
b=$(cur); [ "$state" = link ] && fl=
echo "before $b $(attrs)"
[ -n "$state" ] || { if [ "$b" = absent ]; then state=file; elif [ "$b" = link ] && [ -d "$p" ]; then state=directory; else state=$b; fi; }
case $state in
absent) [ "$b" = absent ] || change rm -rf -- "$p"; echo "after absent"; exit 0 ;;
directory)
  if [ ! -d "$p" ]; then
    [ "$b" = absent ] || fail "$p exists and is a $b, not a directory"
    change mkdir -p -- "$p"
  fi ;;
file)
  [ "$b" = absent ] && fail "file $p is absent, cannot continue (use state=touch to create it)"
  [ -d "$p" ] && fail "$p is a directory, not a file" ;;
touch)
  [ -d "$p" ] && [ "$b" != absent ] && [ ! -L "$p" ] && fail "$p is a directory; touch makes files"
  change touch -- "$p" ;;
link|hard)
  if [ "$state" = link ] && [ "$b" = link ] && [ "$(readlink -- "$p")" = "$src" ]; then :
  elif [ "$state" = hard ] && [ "$p" -ef "$src" ]; then :
  else
    [ "$b" = directory ] && fail "$p is a directory, refusing to replace it with a link"
    [ "$b" = absent ] || [ "$b" = link ] || [ "$force" = 1 ] || fail "$p exists and is a $b; set force=true to replace it with a link"
    ( cd -- "$(dirname -- "$p")" 2>/dev/null && [ -e "$src" ] ) || [ "$force" = 1 ] || fail "link source $src does not exist (set force=true to link anyway)"
    if [ "$state" = link ]; then change ln -sfn -- "$src" "$p"; else change ln -f -- "$src" "$p"; fi
  fi ;;
other) ;;
*) fail "unsupported state $state" ;;
esac
if [ -e "$p" ] || [ -L "$p" ]; then
  h=-H; [ "$fl" = -L ] || h=-P
  depth="-maxdepth 0"; [ "$recurse" = 1 ] && [ -d "$p" ] && depth=
  [ -n "$mode" ] && [ "$state" != link ] && differs $h "$p" $depth ! -perm "$mode" && change chmod $R "$mode" -- "$p"
  [ -n "$owner" ] && differs $h "$p" $depth ! -user "$owner" && change chown $R $hl "$owner" -- "$p"
  [ -n "$group" ] && differs $h "$p" $depth ! -group "$group" && change chgrp $R $hl "$group" -- "$p"
fi
echo "after $(cur) $(attrs)"
`

func (fileModule) Run(ctx context.Context, t *Task) (Result, error) {
	a := newArgs(t.Args)
	p := a.str("", "path", "dest", "name")
	state := ""
	if a.has("state") {
		state = a.choice("", "state", "file", "directory", "absent", "touch", "link", "hard")
	}
	mode, hasMode := a.mode("mode")
	owner, group := a.str("", "owner"), a.str("", "group")
	recurse := a.boolean(false, "recurse")
	src := a.str("", "src")
	force := a.boolean(false, "force")
	follow := a.boolean(true, "follow")
	if (state == "link" || state == "hard") && src == "" {
		a.bad("state=%s needs src", state)
	}
	if recurse && state != "" && state != "directory" {
		a.bad("recurse needs state=directory")
	}
	if recurse && state == "" {
		state = "directory"
	}
	if !strings.HasPrefix(p, "/") {
		a.bad("path %q must be absolute", p)
	}
	if err := a.err("file"); err != nil {
		return Result{}, err
	}
	modeS := ""
	if hasMode {
		modeS = fmt.Sprintf("%04o", unixMode(mode))
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "p=%s state=%s mode=%s owner=%s group=%s src=%s\n", quote(p), quote(state), quote(modeS), quote(owner), quote(group), quote(src))
	fmt.Fprintf(&sb, "force=%s follow=%s recurse=%s R=%s hl=%s\n", flag(force), flag(follow), flag(recurse),
		map[bool]string{true: "-R", false: ""}[recurse], map[bool]string{true: "-h", false: ""}[state == "link"])
	sb.WriteString(fileScript)
	res, err := t.exec(ctx, t.script(sb.String()))
	if err != nil {
		return Result{}, fmt.Errorf("file %s: %w", p, err)
	}
	var before, after []string
	var changes []string
	failMsg := ""
	for _, l := range strings.Split(string(res.Stdout), "\n") {
		key, val, _ := strings.Cut(l, " ")
		switch key {
		case "before":
			before = strings.Fields(val)
		case "after":
			after = strings.Fields(val)
		case "change":
			changes = append(changes, val)
		case "fail":
			failMsg = val
		}
	}
	data := map[string]any{"path": p}
	if state == "link" || state == "hard" {
		data["dest"], data["src"] = p, src
	}
	if res.RC != 0 {
		return Result{Failed: true, Data: data, Msg: fmt.Sprintf("host %s: file %s: %s", t.Host, p, firstLine(res.Stderr, res.Stdout))}, nil
	}
	if failMsg != "" {
		return Result{Failed: true, Data: data, Msg: fmt.Sprintf("host %s: %s", t.Host, failMsg)}, nil
	}
	if len(before) == 0 {
		return Result{}, fmt.Errorf("host %s: file %s: unexpected script output %q", t.Host, p, res.Stdout)
	}
	r := Result{Changed: len(changes) > 0, Data: data}
	final := after
	if t.checkMode() {
		// Nothing was applied: report the state asked for.
		final = before
		if state != "" {
			final = append([]string{state}, before[1:]...)
		}
	}
	if len(final) > 0 {
		data["state"] = final[0]
	}
	if len(final) == 6 {
		data["mode"], data["owner"], data["group"] = fmt.Sprintf("%04s", final[1]), final[2], final[3]
		data["uid"], data["gid"] = atoiOr(final[4]), atoiOr(final[5])
	}
	if t.checkMode() {
		if modeS != "" {
			data["mode"] = modeS
		}
		if owner != "" {
			data["owner"] = owner
		}
		if group != "" {
			data["group"] = group
		}
	}
	if r.Changed && t.Diff {
		r.Diff = []Diff{{Path: p, Before: describe(p, before), After: describe(p, final, modeS, owner, group)}}
	}
	return r, nil
}

// describe renders a path's state for --diff; want overrides mode, owner and
// group where given (check mode's "after").
func describe(p string, f []string, want ...string) string {
	if len(f) == 0 {
		return ""
	}
	s := fmt.Sprintf("path: %s\nstate: %s\n", p, f[0])
	if len(f) >= 4 {
		vals := []string{fmt.Sprintf("%04s", f[1]), f[2], f[3]}
		for i, w := range want {
			if w != "" {
				vals[i] = w
			}
		}
		s += fmt.Sprintf("mode: %s\nowner: %s\ngroup: %s\n", vals[0], vals[1], vals[2])
	}
	return s
}

func atoiOr(s string) any {
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err == nil {
		return n
	}
	return s
}
