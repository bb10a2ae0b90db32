package modules

import (
	"bytes"
	"context"
	"fmt"
	"strings"
)

type replaceModule struct{}

func init() { Register(replaceModule{}, "replace") }

func (replaceModule) Args() (accepted, required []string) {
	return []string{"path", "dest", "destfile", "name", "regexp", "replace", "after", "before", "backup", "mode", "owner", "group"},
		[]string{"path|dest|destfile|name", "regexp"}
}

// Run replaces every match of regexp (multiline, as Python's re.MULTILINE)
// in the file, optionally only between the after and before patterns.
func (replaceModule) Run(ctx context.Context, t *Task) (Result, error) {
	a := newArgs(t.Args)
	p := a.str("", "path", "dest", "destfile", "name")
	pattern := a.str("", "regexp")
	repl := pythonTemplate(a.str("", "replace"))
	after, before := a.str("", "after"), a.str("", "before")
	backup := a.boolean(false, "backup")
	mode, hasMode := a.mode("mode")
	owner, group := a.str("", "owner"), a.str("", "group")
	re, err := compilePython("(?m)" + pattern)
	if err != nil {
		a.bad("regexp: %v", err)
	}
	if !strings.HasPrefix(p, "/") {
		a.bad("path %q must be absolute", p)
	}
	if err := a.err("replace"); err != nil {
		return Result{}, err
	}
	rf, err := t.inspect(ctx, p, "", -1)
	if err != nil {
		return Result{}, err
	}
	if !rf.exists || !rf.haveContent {
		return Result{Failed: true, Data: map[string]any{"rc": 257}, Msg: fmt.Sprintf("host %s: path %s does not exist or is not a regular file", t.Host, p)}, nil
	}
	content := rf.content
	// The section to work on: after the first match of after, before the
	// first match of before (after that).
	start, end := 0, len(content)
	if after != "" {
		are, err := compilePython("(?m)" + after)
		if err != nil {
			return Result{}, fmt.Errorf("replace: after: %w", err)
		}
		if m := are.FindIndex(content); m != nil {
			start = m[1]
		}
	}
	if before != "" {
		bre, err := compilePython("(?m)" + before)
		if err != nil {
			return Result{}, fmt.Errorf("replace: before: %w", err)
		}
		if m := bre.FindIndex(content[start:]); m != nil {
			end = start + m[0]
		}
	}
	n := len(re.FindAllIndex(content[start:end], -1))
	section := re.ReplaceAll(content[start:end], []byte(repl))
	out := append(append(append([]byte{}, content[:start]...), section...), content[end:]...)
	msg := ""
	if !bytes.Equal(out, content) {
		msg = fmt.Sprintf("%d replacements made", n)
	}
	r, err := t.write(ctx, putSpec{dest: p, content: out, mode: mode, hasMode: hasMode, owner: owner, group: group, backup: backup, force: true}, rf)
	if err != nil || r.Failed {
		return r, err
	}
	if r.Changed && msg == "" {
		msg = "ownership, perms or SE linux context changed"
	}
	r.Msg = msg
	return r, nil
}
