package modules

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"regexp"
	"strings"
)

type lineinfileModule struct{}

func init() { Register(lineinfileModule{}, "lineinfile") }

func (lineinfileModule) Args() (accepted, required []string) {
	return []string{"path", "dest", "destfile", "name", "regexp", "regex", "search_string", "line", "value", "state",
			"insertafter", "insertbefore", "create", "backrefs", "firstmatch", "backup", "mode", "owner", "group", "validate"},
		[]string{"path|dest|destfile|name"}
}

// lineEdit is one lineinfile edit, independent of any host.
type lineEdit struct {
	regexp       *regexp.Regexp
	search       string // search_string: a literal substring
	hasSearch    bool
	line         string
	present      bool
	insertAfter  string // "", "EOF" or a pattern
	insertBefore string // "", "BOF" or a pattern
	backrefs     bool
	firstMatch   bool
}

func (lineinfileModule) Run(ctx context.Context, t *Task) (Result, error) {
	a := newArgs(t.Args)
	p := a.str("", "path", "dest", "destfile", "name")
	e := lineEdit{
		line:         a.str("", "line", "value"),
		present:      a.choice("present", "state", "present", "absent") == "present",
		insertAfter:  a.str("", "insertafter"),
		insertBefore: a.str("", "insertbefore"),
		backrefs:     a.boolean(false, "backrefs"),
		firstMatch:   a.boolean(false, "firstmatch"),
	}
	e.search, e.hasSearch = a.str("", "search_string"), a.has("search_string")
	if re := a.str("", "regexp", "regex"); a.has("regexp", "regex") {
		var err error
		if e.regexp, err = compilePython(re); err != nil {
			a.bad("regexp: %v", err)
		}
	}
	create := a.boolean(false, "create")
	backup := a.boolean(false, "backup")
	mode, hasMode := a.mode("mode")
	owner, group := a.str("", "owner"), a.str("", "group")
	validate := a.str("", "validate")
	if validate != "" && !strings.Contains(validate, "%s") {
		a.bad("validate %q must contain %%s (the path of the new file)", validate)
	}
	if e.present && !a.has("line", "value") {
		a.bad("state=present needs line")
	}
	if !e.present && e.regexp == nil && !e.hasSearch && !a.has("line", "value") {
		a.bad("state=absent needs one of regexp, search_string or line")
	}
	if e.insertAfter != "" && e.insertBefore != "" {
		a.bad("give insertafter or insertbefore, not both")
	}
	if e.regexp != nil && e.hasSearch {
		a.bad("give regexp or search_string, not both")
	}
	if e.backrefs && e.regexp == nil {
		a.bad("backrefs needs regexp")
	}
	if !strings.HasPrefix(p, "/") {
		a.bad("path %q must be absolute", p)
	}
	if err := a.err("lineinfile"); err != nil {
		return Result{}, err
	}

	rf, done, err := t.inspectForEdit(ctx, "lineinfile", p, e.present, create)
	if err != nil {
		return Result{}, err
	}
	if done != nil {
		return *done, nil
	}
	after, msg, err := e.apply(rf.content)
	if err != nil {
		return Result{}, fmt.Errorf("lineinfile %s: %w", p, err)
	}
	if !rf.exists && create && msg == "" {
		msg = "file created"
	}
	spec := putSpec{dest: p, content: after, mode: mode, hasMode: hasMode, owner: owner, group: group, backup: backup, force: true, validate: validate}
	if !rf.exists && !rf.parentOK {
		if _, err := t.changeExec(ctx, "create directory of "+p, "mkdir -p -- "+quote(path.Dir(p))); err != nil {
			return Result{}, err
		}
		rf.parentOK = true // made, or in check mode it would be
	}
	r, err := t.write(ctx, spec, rf)
	if err != nil || r.Failed {
		return r, err
	}
	if r.Changed && msg == "" {
		msg = "ownership, perms or SE linux context changed"
	}
	r.Msg = msg
	r.Data["backup"] = r.Data["backup_file"]
	if r.Data["backup"] == nil {
		r.Data["backup"] = ""
	}
	delete(r.Data, "backup_file")
	return r, nil
}

// apply edits content as Ansible's lineinfile does, and says what it did
// ("" when nothing).
func (e lineEdit) apply(content []byte) ([]byte, string, error) {
	lines := splitKeepEnds(content)
	if e.present {
		return e.presentLines(lines)
	}
	var out [][]byte
	removed := 0
	for _, l := range lines {
		trimmed := bytes.TrimRight(l, "\r\n")
		var match bool
		switch {
		case e.regexp != nil:
			match = e.regexp.Match(trimmed)
		case e.hasSearch:
			match = bytes.Contains(trimmed, []byte(e.search))
		default:
			match = string(trimmed) == e.line
		}
		if match {
			removed++
			continue
		}
		out = append(out, l)
	}
	if removed == 0 {
		return content, "", nil
	}
	return bytes.Join(out, nil), fmt.Sprintf("%d line(s) removed", removed), nil
}

func (e lineEdit) presentLines(lines [][]byte) ([]byte, string, error) {
	var ins *regexp.Regexp
	after := e.insertAfter != "" && e.insertAfter != "EOF" && e.insertAfter != "BOF"
	before := e.insertBefore != "" && e.insertBefore != "BOF"
	var err error
	if after {
		ins, err = compilePython(e.insertAfter)
	} else if before {
		ins, err = compilePython(e.insertBefore)
	}
	if err != nil {
		return nil, "", fmt.Errorf("insertafter/insertbefore: %w", err)
	}
	matchIdx, insIdx := -1, -1
	var match []int
	var matchLine []byte
	for i, l := range lines {
		t := bytes.TrimRight(l, "\r\n")
		switch {
		case e.regexp != nil:
			if m := e.regexp.FindSubmatchIndex(t); m != nil {
				matchIdx, match, matchLine = i, m, t
			}
		case e.hasSearch:
			if bytes.Contains(t, []byte(e.search)) {
				matchIdx = i
			}
		default:
			continue
		}
		if matchIdx >= 0 && e.firstMatch {
			break
		}
	}
	if (e.regexp == nil && !e.hasSearch) || matchIdx == -1 {
		for i, l := range lines {
			t := bytes.TrimRight(l, "\r\n")
			if string(t) == e.line {
				matchIdx = i
			} else if ins != nil && ins.Match(t) {
				if after {
					insIdx = i + 1
				} else {
					insIdx = i
				}
				if e.firstMatch {
					break
				}
			}
		}
	}
	newline := []byte(e.line + "\n")
	join := func() []byte { return bytes.Join(lines, nil) }
	insertAt := func(i int) {
		lines = append(lines[:i], append([][]byte{newline}, lines[i:]...)...)
	}
	ensureEOL := func() {
		if n := len(lines); n > 0 && !bytes.HasSuffix(lines[n-1], []byte("\n")) && !bytes.HasSuffix(lines[n-1], []byte("\r")) {
			lines[n-1] = append(append([]byte{}, lines[n-1]...), '\n')
		}
	}
	trim := func(i int) string { return string(bytes.TrimRight(lines[i], "\r\n")) }

	switch {
	case matchIdx != -1:
		want := newline
		if e.backrefs && match != nil {
			want = append(e.regexp.Expand(nil, []byte(pythonTemplate(e.line)), matchLine, match), '\n')
		}
		if !bytes.Equal(lines[matchIdx], want) {
			lines[matchIdx] = want
			return join(), "line replaced", nil
		}
		return join(), "", nil
	case e.backrefs:
		// Without a match there are no groups to fill the line with.
		return join(), "", nil
	case e.insertBefore == "BOF" || e.insertAfter == "BOF":
		insertAt(0)
		return join(), "line added", nil
	case e.insertAfter == "EOF" || insIdx == -1:
		ensureEOL()
		lines = append(lines, newline)
		return join(), "line added", nil
	case after:
		if insIdx == len(lines) {
			if trim(insIdx-1) != e.line {
				ensureEOL()
				lines = append(lines, newline)
				return join(), "line added", nil
			}
			return join(), "", nil
		}
		if trim(insIdx) != e.line {
			insertAt(insIdx)
			return join(), "line added", nil
		}
		return join(), "", nil
	default:
		if insIdx > 0 && trim(insIdx-1) == e.line {
			return join(), "", nil
		}
		insertAt(insIdx)
		return join(), "line added", nil
	}
}

// splitKeepEnds splits b into lines that keep their "\n", as Python's readlines.
func splitKeepEnds(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out = append(out, b)
			break
		}
		out = append(out, b[:i+1])
		b = b[i+1:]
	}
	return out
}

// compilePython compiles a Python regular expression with Go's RE2, which
// shares its common syntax; lookarounds and backreferences are reported.
func compilePython(s string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(s)
	if err != nil {
		return nil, fmt.Errorf("%q: %w (Go's RE2 syntax: no lookaround or backreferences)", s, err)
	}
	return re, nil
}

// pythonTemplate turns a Python replacement (\1, \g<1>, \g<name>) into a Go
// Expand template.
func pythonTemplate(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '$':
			b.WriteString("$$")
		case c == '\\' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j := i + 1
			for j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			b.WriteString("${" + s[i+1:j] + "}")
			i = j - 1
		case c == '\\' && strings.HasPrefix(s[i+1:], "g<"):
			if end := strings.IndexByte(s[i:], '>'); end > 0 {
				b.WriteString("${" + s[i+3:i+end] + "}")
				i += end
			} else {
				b.WriteByte(c)
			}
		case c == '\\' && i+1 < len(s) && s[i+1] == '\\':
			b.WriteByte('\\')
			i++
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
