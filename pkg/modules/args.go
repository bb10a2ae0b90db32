package modules

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/koala-stack/koala/pkg/transport"
)

// args reads a task's arguments with Ansible's loose typing ("yes", "True",
// 1 are all true; a list may be a comma-separated string) and collects every
// bad value, so one error reports them all.
type args struct {
	m    map[string]any
	errs []string
}

func newArgs(m map[string]any) *args { return &args{m: m} }

// get returns the first of names that is set (names are a name and its aliases).
func (a *args) get(names ...string) (any, string, bool) {
	for _, n := range names {
		if v, ok := a.m[n]; ok && v != nil {
			return v, n, true
		}
	}
	return nil, "", false
}

func (a *args) has(names ...string) bool {
	_, _, ok := a.get(names...)
	return ok
}

func (a *args) bad(format string, v ...any) {
	a.errs = append(a.errs, fmt.Sprintf(format, v...))
}

// str returns a string argument; numbers and booleans are formatted.
func (a *args) str(def string, names ...string) string {
	v, n, ok := a.get(names...)
	if !ok {
		return def
	}
	switch x := v.(type) {
	case string:
		return x
	case int, int64, uint64, float64, bool:
		return fmt.Sprint(x)
	}
	a.bad("%s: want a string, got %T", n, v)
	return def
}

// choice returns a string argument that must be one of choices.
func (a *args) choice(def string, name string, choices ...string) string {
	s := a.str(def, name)
	for _, c := range choices {
		if s == c {
			return s
		}
	}
	a.bad("%s: %q is not one of %s", name, s, strings.Join(choices, ", "))
	return def
}

// boolean parses Ansible's booleans.
func (a *args) boolean(def bool, names ...string) bool {
	v, n, ok := a.get(names...)
	if !ok {
		return def
	}
	b, err := parseBool(v)
	if err != nil {
		a.bad("%s: %v", n, err)
		return def
	}
	return b
}

func parseBool(v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case int:
		return x != 0, nil
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "yes", "true", "on", "1", "y", "t":
			return true, nil
		case "no", "false", "off", "0", "n", "f", "":
			return false, nil
		}
	}
	return false, fmt.Errorf("%v is not a boolean (use true or false)", v)
}

func (a *args) integer(def int, names ...string) int {
	v, n, ok := a.get(names...)
	if !ok {
		return def
	}
	switch x := v.(type) {
	case int:
		return x
	case int64:
		return int(x)
	case uint64:
		return int(x)
	case float64:
		if x == float64(int(x)) {
			return int(x)
		}
	case string:
		if i, err := strconv.Atoi(strings.TrimSpace(x)); err == nil {
			return i
		}
	}
	a.bad("%s: %v is not an integer", n, v)
	return def
}

// list returns a list of strings; a string is split on commas.
func (a *args) list(names ...string) []string {
	v, n, ok := a.get(names...)
	if !ok {
		return nil
	}
	switch x := v.(type) {
	case string:
		if strings.TrimSpace(x) == "" {
			return nil
		}
		var out []string
		for _, s := range strings.Split(x, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out
	case []string:
		return x
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			switch s := e.(type) {
			case string:
				out = append(out, s)
			case int, int64, float64, bool:
				out = append(out, fmt.Sprint(s))
			default:
				a.bad("%s: list element %v is not a string", n, e)
			}
		}
		return out
	case int, int64, float64:
		return []string{fmt.Sprint(x)}
	}
	a.bad("%s: want a list, got %T", n, v)
	return nil
}

// mode parses a file mode: an octal string ("0644", "644") or a number that
// YAML already read as octal (0644 unquoted). ok is false when unset.
func (a *args) mode(names ...string) (mode fs.FileMode, ok bool) {
	v, n, set := a.get(names...)
	if !set {
		return 0, false
	}
	switch x := v.(type) {
	case int:
		if x >= 0 && x <= 0o7777 {
			return toFileMode(uint32(x)), true
		}
	case string:
		s := strings.TrimSpace(x)
		s = strings.TrimPrefix(s, "0o")
		if u, err := strconv.ParseUint(s, 8, 32); err == nil && u <= 0o7777 {
			return toFileMode(uint32(u)), true
		}
		if strings.ContainsAny(s, "=+-") {
			a.bad("%s: symbolic mode %q is not supported; give an octal mode such as \"0644\"", n, x)
			return 0, false
		}
	}
	a.bad("%s: %v is not an octal file mode (quote it: \"0644\")", n, v)
	return 0, false
}

// toFileMode converts Unix permission bits (with setuid/setgid/sticky) to fs.FileMode.
func toFileMode(u uint32) fs.FileMode {
	m := fs.FileMode(u & 0o777)
	if u&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if u&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if u&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// unixMode is the inverse of toFileMode.
func unixMode(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		u |= 0o1000
	}
	return u
}

// octal formats a mode the way `stat -c %a` prints it.
func octal(m fs.FileMode) string { return strconv.FormatUint(uint64(unixMode(m)), 8) }

// err returns all collected problems, prefixed with the module name.
func (a *args) err(module string) error {
	if len(a.errs) == 0 {
		return nil
	}
	return fmt.Errorf("%s: bad arguments: %s", module, strings.Join(a.errs, "; "))
}

// quote makes s one word for /bin/sh.
var quote = transport.Quote

// quoteAll quotes every word and joins them with spaces.
func quoteAll(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = quote(w)
	}
	return strings.Join(q, " ")
}

// exec runs a command on t's host with the task's environment.
func (t *Task) exec(ctx context.Context, cmd string) (transport.Result, error) {
	res, err := t.Conn.Exec(ctx, transport.Command{Cmd: cmd, Env: t.Env})
	if err != nil {
		return res, fmt.Errorf("host %s: %w", t.Host, err)
	}
	return res, nil
}

// mustExec is exec for the modules' own inspection scripts: a non-zero exit
// is an error that carries the script's stderr.
func (t *Task) mustExec(ctx context.Context, what, cmd string) (transport.Result, error) {
	res, err := t.exec(ctx, cmd)
	if err != nil {
		return res, fmt.Errorf("%s: %w", what, err)
	}
	if res.RC != 0 {
		return res, fmt.Errorf("host %s: %s: exit status %d: %s", t.Host, what, res.RC, firstLine(res.Stderr, res.Stdout))
	}
	return res, nil
}

// firstLine returns the trimmed first non-empty of outs, for error messages.
func firstLine(outs ...[]byte) string {
	for _, o := range outs {
		if s := strings.TrimSpace(string(o)); s != "" {
			return s
		}
	}
	return "no output"
}

// failed is a failed Result with a message.
func failed(format string, v ...any) Result {
	return Result{Failed: true, Msg: fmt.Sprintf(format, v...)}
}

// lines splits command output into Ansible's *_lines form.
func lines(b []byte) []any {
	s := string(bytes.TrimRight(b, "\n"))
	if s == "" {
		return []any{}
	}
	parts := strings.Split(s, "\n")
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = strings.TrimSuffix(p, "\r")
	}
	return out
}
