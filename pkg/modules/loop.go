package modules

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// Loop lets the items of one loop on one host share a round trip. The engine
// gives every item's Task the same Loop, holding the arguments of every item
// that runs; a module whose inspection is a read-only script (copy, template,
// file) runs the scripts of all items in one command at the first item, and
// each item then reads its own output instead of a round trip of its own.
// Items still apply in order, one after another: only the inspection moves
// ahead, and an item's inspection is not used once an earlier item changed
// its path (or a directory above it).
type Loop struct {
	// Args returns the templated arguments of the items that run (their
	// when holds), in order; called once, at the first inspection ahead,
	// so that a loop of a module that inspects nothing ahead costs nothing.
	Args func() []map[string]any

	mu      sync.Mutex
	ran     bool
	outputs map[string]string // inspection script -> its output
	changed []string          // paths items of this loop changed
}

// loopInspector is a module whose per-item inspection can run ahead.
type loopInspector interface {
	// inspection returns the path an item acts on and its read-only
	// inspection script; ok is false when the item cannot be inspected ahead.
	inspection(t *Task, args map[string]any) (path, script string, ok bool)
}

// ahead returns the output of script run ahead for this loop, running the
// scripts of every item in one command the first time; ok is false when
// there is none (no loop, the script failed, or an earlier item changed p).
func (t *Task) ahead(ctx context.Context, m loopInspector, p, script string) (string, bool) {
	l := t.Loop
	if l == nil {
		return "", false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.ran {
		l.ran = true
		l.outputs = l.run(ctx, t, m)
	}
	for _, q := range l.changed {
		if p == q || strings.HasPrefix(p, strings.TrimSuffix(q, "/")+"/") {
			return "", false
		}
	}
	out, ok := l.outputs[script]
	return out, ok
}

// run runs every item's inspection in one command, each in a subshell (its
// exit and variables stay its own), and splits the output by item. A failed
// round trip leaves every item to inspect on its own.
func (l *Loop) run(ctx context.Context, t *Task, m loopInspector) map[string]string {
	var scripts []string
	seen := map[string]bool{}
	for _, args := range l.Args() {
		if _, s, ok := m.inspection(t, args); ok && !seen[s] {
			seen[s] = true
			scripts = append(scripts, s)
		}
	}
	if len(scripts) < 2 {
		return nil
	}
	mark := "@@koala-" + nonce()
	var sb strings.Builder
	for i, s := range scripts {
		fmt.Fprintf(&sb, "echo %s-item %d\n(\n%s\n)\necho; echo %s-rc $?\n", mark, i, s, mark)
	}
	res, err := t.exec(ctx, sb.String())
	if err != nil || res.RC != 0 {
		return nil
	}
	outs := map[string]string{}
	cur, body := -1, strings.Builder{}
	for _, line := range strings.SplitAfter(string(res.Stdout), "\n") {
		key, val, _ := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
		switch key {
		case mark + "-item":
			cur, _ = strconv.Atoi(val)
			body.Reset()
		case mark + "-rc":
			if cur >= 0 && cur < len(scripts) && val == "0" {
				// The "echo" before the rc line ended a last line without a newline.
				outs[scripts[cur]] = strings.TrimSuffix(body.String(), "\n")
			}
			cur = -1
		default:
			body.WriteString(line)
		}
	}
	return outs
}

// changedPath records that an item of t's loop changed p: later items'
// inspections of p, or of paths under it, are not used.
func (t *Task) changedPath(p string) {
	if t.Loop == nil || t.checkMode() {
		return
	}
	t.Loop.mu.Lock()
	t.Loop.changed = append(t.Loop.changed, p)
	t.Loop.mu.Unlock()
}
