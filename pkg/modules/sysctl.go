package modules

import (
	"bytes"
	"context"
	"fmt"
	"strings"
)

type sysctlModule struct{}

func init() { Register(sysctlModule{}, "sysctl", "ansible.posix.sysctl") }

func (sysctlModule) Args() (accepted, required []string) {
	return []string{"name", "key", "value", "val", "state", "sysctl_file", "sysctl_set", "reload", "ignoreerrors"},
		[]string{"name|key"}
}

func (sysctlModule) Run(ctx context.Context, t *Task) (Result, error) {
	a := newArgs(t.Args)
	name := a.str("", "name", "key")
	present := a.choice("present", "state", "present", "absent") == "present"
	value := ""
	if v, _, ok := a.get("value", "val"); ok {
		if b, isBool := v.(bool); isBool {
			value = flag(b)
		} else {
			value = a.str("", "value", "val")
		}
	}
	value = normSysctl(value)
	file := a.str("/etc/sysctl.conf", "sysctl_file")
	set := a.boolean(false, "sysctl_set")
	reload := a.boolean(true, "reload")
	ignore := a.boolean(false, "ignoreerrors")
	if present && value == "" {
		a.bad("state=present needs value")
	}
	if strings.ContainsAny(name, " \t=\n") || strings.Contains(name, "..") || name == "" {
		a.bad("name %q is not a sysctl key", name)
	}
	if err := a.err("sysctl"); err != nil {
		return Result{}, err
	}
	key := strings.ReplaceAll(name, "/", ".")
	proc := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")

	// One round trip reads the kernel's value and the file (with what
	// writing it back needs).
	script := fmt.Sprintf("[ -r %s ] && echo \"proc $(cat %s)\"\n", quote(proc), quote(proc)) + inspectScript(file, "", -1)
	res, err := t.mustExec(ctx, "read sysctl "+name, script)
	if err != nil {
		return Result{}, err
	}
	var cur string
	var haveProc bool
	for _, l := range strings.Split(string(res.Stdout), "\n") {
		if v, ok := strings.CutPrefix(l, "proc "); ok {
			cur, haveProc = normSysctl(v), true
		}
	}
	rf := parseRemoteFile(res.Stdout)
	if rf.exists && !rf.haveContent {
		return failed("host %s: sysctl_file %s is not a regular file", t.Host, file), nil
	}
	content, fileExists := rf.content, rf.exists
	if !haveProc && !ignore && (set || present) {
		return failed("host %s: sysctl %s: no such key (%s does not exist)", t.Host, name, proc), nil
	}
	newContent := editSysctl(content, key, value, present)
	fileChange := !bytes.Equal(newContent, content) || (!fileExists && present)
	setChange := set && present && haveProc && cur != value
	r := Result{Changed: fileChange || setChange, Data: map[string]any{"name": name, "value": value, "sysctl_file": file}}
	if t.Diff && fileChange {
		r.Diff = []Diff{{Path: file, Before: string(content), After: string(newContent)}}
	}
	if !r.Changed {
		return r, nil
	}
	if fileChange {
		wr, err := t.write(ctx, putSpec{dest: file, content: newContent, force: true}, rf)
		if err != nil {
			return Result{}, err
		}
		if wr.Failed {
			return wr, nil
		}
	}
	var cmds []string
	if setChange {
		// Without procps the kernel file is written directly.
		cmds = append(cmds, fmt.Sprintf("if command -v sysctl >/dev/null; then sysctl -q -w %s; else printf '%%s\\n' %s > %s; fi",
			quote(key+"="+value), quote(value), quote(proc)))
	}
	if fileChange && reload {
		e := ""
		if ignore {
			e = "-e "
		}
		cmds = append(cmds, fmt.Sprintf("sysctl -q %s-p %s", e, quote(file)))
	}
	if len(cmds) > 0 {
		if _, err := t.change("apply sysctl "+name, func() error {
			out, err := t.exec(ctx, strings.Join(cmds, " && "))
			if err != nil {
				return err
			}
			if out.RC != 0 && !ignore {
				r.Failed, r.Msg = true, fmt.Sprintf("host %s: apply sysctl %s=%s: %s", t.Host, name, value, firstLine(out.Stderr, out.Stdout))
			}
			return nil
		}); err != nil {
			return Result{}, err
		}
	}
	return r, nil
}

// normSysctl compares values as the kernel prints them: whitespace-separated
// fields joined by single spaces.
func normSysctl(v string) string { return strings.Join(strings.Fields(v), " ") }

// editSysctl sets (or, present=false, removes) key in a sysctl.conf: the
// first line for key becomes "key=value" and later duplicates are dropped;
// a missing key is appended. Comments and other keys are kept as they are.
func editSysctl(content []byte, key, value string, present bool) []byte {
	lines := splitKeepEnds(content)
	var out [][]byte
	done := false
	for _, l := range lines {
		t := strings.TrimSpace(string(l))
		if t != "" && t[0] != '#' && t[0] != ';' {
			k, v, _ := strings.Cut(t, "=")
			if strings.ReplaceAll(strings.TrimSpace(k), "/", ".") == key {
				if present && !done {
					done = true
					if normSysctl(v) == value {
						out = append(out, l)
					} else {
						out = append(out, []byte(key+"="+value+"\n"))
					}
				}
				continue
			}
		}
		out = append(out, l)
	}
	if present && !done {
		if n := len(out); n > 0 && !bytes.HasSuffix(out[n-1], []byte("\n")) {
			out = append(out, []byte("\n"))
		}
		out = append(out, []byte(key+"="+value+"\n"))
	}
	return bytes.Join(out, nil)
}
