package modules

import (
	"context"
	"fmt"
	"strings"

	"github.com/koala-stack/koala/pkg/transport"
)

type fileModule struct{}

func init() { Register(fileModule{}, "file") }

func (fileModule) Args() (accepted, required []string) {
	return []string{"path", "dest", "name", "state", "mode", "owner", "group", "recurse", "src", "force", "follow"},
		[]string{"path|dest|name"}
}

// fileScript inspects and changes a path in one round trip, each change
// through the gate's `change` (Task.script), starting one process (stat)
// when nothing changes. Lines it prints: "before <state> <mode> <owner>
// <group>", "change <command>" for each change made (or, in check mode, that
// would be made), "fail <message>" for a refusal, and "after ..." like
// before. A command that fails stops it with its stderr.
const fileScript = `
cur() { if [ -L "$p" ]; then k=link; elif [ -d "$p" ]; then k=directory; elif [ -f "$p" ]; then k=file; elif [ -e "$p" ]; then k=other; else k=absent; fi; }
attrs() { a=; if [ -e "$p" ] || [ -L "$p" ]; then a=$(stat $fl -c '%a %U %G %u %g' -- "$p"); fi; }
fail() { echo "fail $*"; exit 0; }
differs() { o=$(find "$@" -print -quit) || exit 1; [ -n "$o" ]; }
fl=-L; [ "$follow" = 1 ] || fl=
cur; b=$k; [ "$state" = link ] && fl=
attrs; echo "before $b $a"
[ -n "$state" ] || { if [ "$b" = absent ]; then state=file; elif [ "$b" = link ] && [ -d "$p" ]; then state=directory; else state=$b; fi; }
case $state in
absent) [ "$b" = absent ] || change rm -rf -- "$p"; echo "after absent"; exit 0 ;;
directory)
  if [ ! -d "$p" ]; then
    [ "$b" = absent ] || fail "$p exists and is a $b, not a directory"
    change mkdir -p -- "$p"; changed=1
  fi ;;
file)
  [ "$b" = absent ] && fail "file $p is absent, cannot continue (use state=touch to create it)"
  [ -d "$p" ] && fail "$p is a directory, not a file" ;;
touch)
  [ -d "$p" ] && [ "$b" != absent ] && [ ! -L "$p" ] && fail "$p is a directory; touch makes files"
  change touch -- "$p"; changed=1 ;;
link|hard)
  if [ "$state" = link ] && [ "$b" = link ] && [ "$(readlink -- "$p")" = "$src" ]; then :
  elif [ "$state" = hard ] && [ "$p" -ef "$src" ]; then :
  else
    [ "$b" = directory ] && fail "$p is a directory, refusing to replace it with a link"
    [ "$b" = absent ] || [ "$b" = link ] || [ "$force" = 1 ] || fail "$p exists and is a $b; set force=true to replace it with a link"
    ( cd -- "$(dirname -- "$p")" 2>/dev/null && [ -e "$src" ] ) || [ "$force" = 1 ] || fail "link source $src does not exist (set force=true to link anyway)"
    if [ "$state" = link ]; then change ln -sfn -- "$src" "$p"; else change ln -f -- "$src" "$p"; fi
    changed=1
  fi ;;
other) ;;
*) fail "unsupported state $state" ;;
esac
if [ -e "$p" ] || [ -L "$p" ]; then
  [ "$changed" = 1 ] && attrs
  if [ "$recurse" = 1 ] && [ -d "$p" ] || [ -z "$a" ]; then
    h=-H; [ "$fl" = -L ] || h=-P
    depth="-maxdepth 0"; [ "$recurse" = 1 ] && [ -d "$p" ] && depth=
    [ -n "$mode" ] && [ "$state" != link ] && differs $h "$p" $depth ! -perm "$mode" && change chmod $R "$mode" -- "$p" && changed=1
    [ -n "$owner" ] && differs $h "$p" $depth ! -user "$owner" && change chown $R $hl "$owner" -- "$p" && changed=1
    [ -n "$group" ] && differs $h "$p" $depth ! -group "$group" && change chgrp $R $hl "$group" -- "$p" && changed=1
  else
    # One path: compared with what stat printed, no find to start.
    set -- $a
    [ -n "$mode" ] && [ "$state" != link ] && [ $((0$1)) -ne $((0$mode)) ] && change chmod "$mode" -- "$p" && changed=1
    [ -n "$owner" ] && [ "$owner" != "$2" ] && [ "$owner" != "$4" ] && change chown $hl "$owner" -- "$p" && changed=1
    [ -n "$group" ] && [ "$group" != "$3" ] && [ "$group" != "$5" ] && change chgrp $hl "$group" -- "$p" && changed=1
  fi
fi
[ "$changed" = 1 ] && { cur; attrs; }
echo "after $k $a"
`

// fileArgs are file's arguments, checked.
type fileArgs struct {
	p, state, modeS, owner, group, src string
	force, follow, recurse             bool
}

func parseFileArgs(args map[string]any) (fileArgs, error) {
	a := newArgs(args)
	fa := fileArgs{p: a.str("", "path", "dest", "name")}
	if a.has("state") {
		fa.state = a.choice("", "state", "file", "directory", "absent", "touch", "link", "hard")
	}
	mode, hasMode := a.mode("mode")
	fa.owner, fa.group = a.str("", "owner"), a.str("", "group")
	fa.recurse = a.boolean(false, "recurse")
	fa.src = a.str("", "src")
	fa.force = a.boolean(false, "force")
	fa.follow = a.boolean(true, "follow")
	if (fa.state == "link" || fa.state == "hard") && fa.src == "" {
		a.bad("state=%s needs src", fa.state)
	}
	if fa.recurse && fa.state != "" && fa.state != "directory" {
		a.bad("recurse needs state=directory")
	}
	if fa.recurse && fa.state == "" {
		fa.state = "directory"
	}
	if !strings.HasPrefix(fa.p, "/") {
		a.bad("path %q must be absolute", fa.p)
	}
	if hasMode {
		fa.modeS = fmt.Sprintf("%04o", unixMode(mode))
	}
	return fa, a.err("file")
}

// body is fileScript with fa's values, for the gate's script or dryRun.
func (fa fileArgs) body() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "p=%s state=%s mode=%s owner=%s group=%s src=%s\n", quote(fa.p), quote(fa.state), quote(fa.modeS), quote(fa.owner), quote(fa.group), quote(fa.src))
	fmt.Fprintf(&sb, "force=%s follow=%s recurse=%s R=%s hl=%s\n", flag(fa.force), flag(fa.follow), flag(fa.recurse),
		map[bool]string{true: "-R", false: ""}[fa.recurse], map[bool]string{true: "-h", false: ""}[fa.state == "link"])
	sb.WriteString(fileScript)
	return sb.String()
}

// inspection is the script as a dry run (loopInspector): when it finds
// nothing to change, its output is the item's whole answer.
func (fileModule) inspection(_ *Task, args map[string]any) (string, string, bool) {
	fa, err := parseFileArgs(args)
	if err != nil {
		return "", "", false
	}
	return fa.p, dryRun(fa.body()), true
}

func (m fileModule) Run(ctx context.Context, t *Task) (Result, error) {
	fa, err := parseFileArgs(t.Args)
	if err != nil {
		return Result{}, err
	}
	p, state, modeS, owner, group, src := fa.p, fa.state, fa.modeS, fa.owner, fa.group, fa.src
	var res transport.Result
	if out, ok := t.ahead(ctx, m, p, dryRun(fa.body())); ok && (t.checkMode() || !fileChanges(out)) {
		res.Stdout = []byte(out)
	} else if res, err = t.exec(ctx, t.script(fa.body())); err != nil {
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
	if r.Changed {
		t.changedPath(p)
	}
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

// fileChanges reports whether fileScript's output asks for a change or
// refuses one.
func fileChanges(out string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "change ") || strings.HasPrefix(l, "fail ") {
			return true
		}
	}
	return false
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
