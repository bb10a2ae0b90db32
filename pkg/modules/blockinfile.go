package modules

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"regexp"
	"strings"
)

type blockinfileModule struct{}

func init() { Register(blockinfileModule{}, "blockinfile") }

func (blockinfileModule) Args() (accepted, required []string) {
	return []string{"path", "dest", "destfile", "name", "block", "content", "marker", "marker_begin", "marker_end", "state",
		"insertafter", "insertbefore", "create", "backup", "mode", "owner", "group", "validate"}, []string{"path|dest|destfile|name"}
}

// blockEdit is one blockinfile edit, independent of any host.
type blockEdit struct {
	begin, end   string // the marker lines
	block        string
	present      bool
	insertAfter  string // "", "EOF" or a pattern
	insertBefore string // "", "BOF" or a pattern
}

func (blockinfileModule) Run(ctx context.Context, t *Task) (Result, error) {
	a := newArgs(t.Args)
	p := a.str("", "path", "dest", "destfile", "name")
	marker := a.str("# {mark} ANSIBLE MANAGED BLOCK", "marker")
	e := blockEdit{
		block:        a.str("", "block", "content"),
		present:      a.choice("present", "state", "present", "absent") == "present",
		insertAfter:  a.str("", "insertafter"),
		insertBefore: a.str("", "insertbefore"),
	}
	e.begin = strings.ReplaceAll(marker, "{mark}", a.str("BEGIN", "marker_begin"))
	e.end = strings.ReplaceAll(marker, "{mark}", a.str("END", "marker_end"))
	create := a.boolean(false, "create")
	backup := a.boolean(false, "backup")
	mode, hasMode := a.mode("mode")
	owner, group := a.str("", "owner"), a.str("", "group")
	validate := a.str("", "validate")
	if validate != "" && !strings.Contains(validate, "%s") {
		a.bad("validate %q must contain %%s (the path of the new file)", validate)
	}
	if e.insertAfter != "" && e.insertBefore != "" {
		a.bad("give insertafter or insertbefore, not both")
	}
	if !strings.HasPrefix(p, "/") {
		a.bad("path %q must be absolute", p)
	}
	if err := a.err("blockinfile"); err != nil {
		return Result{}, err
	}
	rf, done, err := t.inspectForEdit(ctx, "blockinfile", p, e.present, create)
	if err != nil {
		return Result{}, err
	}
	if done != nil {
		return *done, nil
	}
	after, err := e.apply(rf.content)
	if err != nil {
		return Result{}, fmt.Errorf("blockinfile %s: %w", p, err)
	}
	msg := ""
	switch {
	case bytes.Equal(after, rf.content) && rf.exists:
	case !rf.exists:
		msg = "File created"
	case !e.present:
		msg = "Block removed"
	default:
		msg = "Block inserted"
	}
	if !rf.exists && !rf.parentOK {
		if _, err := t.changeExec(ctx, "create directory of "+p, "mkdir -p -- "+quote(path.Dir(p))); err != nil {
			return Result{}, err
		}
		rf.parentOK = true // made, or in check mode it would be
	}
	r, err := t.write(ctx, putSpec{dest: p, content: after, mode: mode, hasMode: hasMode, owner: owner, group: group, backup: backup, force: true, validate: validate}, rf)
	if err != nil || r.Failed {
		return r, err
	}
	if r.Changed && msg == "" {
		msg = "ownership, perms or SE linux context changed"
	}
	r.Msg = msg
	return r, nil
}

// apply edits content as Ansible's blockinfile does: an existing marked
// block is replaced (or removed) in place; a new one goes after the last
// line matching insertafter, before the last matching insertbefore, or at
// the end.
func (e blockEdit) apply(content []byte) ([]byte, error) {
	lines := splitKeepEnds(content)
	var block [][]byte
	if e.present {
		block = append(block, []byte(e.begin+"\n"))
		if e.block != "" {
			for _, l := range strings.Split(strings.TrimRight(e.block, "\n"), "\n") {
				block = append(block, []byte(l+"\n"))
			}
		}
		block = append(block, []byte(e.end+"\n"))
	}
	n0, n1 := -1, -1
	for i, l := range lines {
		switch string(bytes.TrimRight(l, "\r\n")) {
		case e.begin:
			n0 = i
		case e.end:
			n1 = i
		}
	}
	switch {
	case (n0 < 0 || n1 < 0) && !e.present:
		return content, nil
	case n0 < 0 || n1 < 0:
		var re *regexp.Regexp
		var err error
		after := e.insertAfter != "" && e.insertAfter != "EOF"
		before := e.insertBefore != "" && e.insertBefore != "BOF"
		if after {
			re, err = compilePython(e.insertAfter)
		} else if before {
			re, err = compilePython(e.insertBefore)
		}
		if err != nil {
			return nil, err
		}
		switch {
		case re != nil:
			n0 = -1
			for i, l := range lines {
				if re.Match(bytes.TrimRight(l, "\r\n")) {
					n0 = i
				}
			}
			if n0 < 0 {
				n0 = len(lines)
			} else if after {
				n0++
			}
		case e.insertBefore == "BOF":
			n0 = 0
		default:
			n0 = len(lines)
		}
	case n0 < n1:
		lines = append(lines[:n0], lines[n1+1:]...)
	default:
		lines = append(lines[:n1], lines[n0+1:]...)
		n0 = n1
	}
	if n0 > 0 && !bytes.HasSuffix(lines[n0-1], []byte("\n")) {
		lines[n0-1] = append(append([]byte{}, lines[n0-1]...), '\n')
	}
	out := append(append(append([][]byte{}, lines[:n0]...), block...), lines[n0:]...)
	return bytes.Join(out, nil), nil
}
