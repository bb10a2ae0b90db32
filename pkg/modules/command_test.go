package modules

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestSplitArgs(t *testing.T) {
	for in, want := range map[string][]string{
		`echo hi`:                   {"echo", "hi"},
		`echo 'a b' "c \"d\"" e\ f`: {"echo", "a b", `c "d"`, "e f"},
		`  x   ''  `:                {"x", ""},
		`a"b"'c'`:                   {"abc"},
	} {
		got, err := splitArgs(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("splitArgs(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := splitArgs(`echo 'oops`); err == nil {
		t.Error("unterminated quote accepted")
	}
}

func TestCommandModules(t *testing.T) {
	t.Parallel()
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			dir := tg.dir(t)
			c := tg.conn

			r := run(t, c, "command", map[string]any{"argv": []any{"printf", "%s\n", "a b", "$HOME"}})
			mustChanged(t, r, true)
			if r.Data["stdout"] != "a b\n$HOME" || !reflect.DeepEqual(r.Data["stdout_lines"], []any{"a b", "$HOME"}) {
				t.Errorf("argv not passed literally: %q", r.Data["stdout"])
			}
			r = run(t, c, "ansible.builtin.command", map[string]any{"_raw_params": "sh -c 'echo out; echo err >&2; exit 3'"})
			if !r.Failed || r.Data["rc"] != 3 || r.Data["stderr"] != "err" || r.Msg != "non-zero return code" {
				t.Errorf("failing command: %+v", r)
			}
			r = run(t, c, "shell", map[string]any{"_raw_params": "cat; pwd; echo $SECRET", "chdir": dir, "stdin": "in"})
			if r.Data["stdout"] != "in\n"+dir {
				t.Errorf("shell stdin/chdir: %q", r.Data["stdout"])
			}

			// The environment reaches the command and not its arguments.
			task := &Task{Host: c.Host(), Conn: c, Env: map[string]string{"SECRET": "s3cr3t"},
				Args: map[string]any{"_raw_params": "echo $SECRET; ps -eo args | grep -c 's3[c]r3t'; true"}}
			m, _ := Lookup("shell")
			r, err := m.Run(t.Context(), task)
			if err != nil || !strings.HasPrefix(r.Data["stdout"].(string), "s3cr3t\n") {
				t.Fatalf("env: %v %v", r.Data["stdout"], err)
			}
			// The bracket keeps grep's own pattern from matching itself.
			if n := strings.TrimPrefix(r.Data["stdout"].(string), "s3cr3t\n"); n != "0" {
				t.Errorf("secret seen in %s process arguments", n)
			}

			marker := filepath.Join(dir, "made")
			a := map[string]any{"_raw_params": "touch " + marker, "creates": filepath.Join(dir, "ma*")}
			mustChanged(t, run(t, c, "command", a, check), true)
			if _, err := os.Stat(marker); err == nil {
				t.Fatal("check mode ran the command")
			}
			mustChanged(t, run(t, c, "command", a), true)
			r = run(t, c, "command", a)
			mustChanged(t, r, false)
			if !strings.Contains(r.Msg, "exists") {
				t.Errorf("creates msg: %q", r.Msg)
			}
			mustChanged(t, run(t, c, "command", a, check), false)
			r = run(t, c, "shell", map[string]any{"cmd": "echo ran", "removes": filepath.Join(dir, "nothing")})
			mustChanged(t, r, false)

			r = run(t, c, "shell", map[string]any{"_raw_params": "echo hi"}, check)
			if !r.Skipped {
				t.Errorf("check mode: command not skipped: %+v", r)
			}
			r = run(t, c, "shell", map[string]any{"_raw_params": "echo $0", "executable": "/bin/bash"})
			if r.Data["stdout"] != "/bin/bash" {
				t.Errorf("executable: %q", r.Data["stdout"])
			}
			r = run(t, c, "raw", map[string]any{"_raw_params": "echo raw"})
			mustChanged(t, r, true)
			if r.Data["stdout"] != "raw\n" {
				t.Errorf("raw: %q", r.Data["stdout"])
			}
		})
	}
}

func TestCatalog(t *testing.T) {
	var c Catalog
	for _, n := range c.Names() {
		if _, _, ok := c.Args(n); !ok {
			t.Errorf("%s listed but not found", n)
		}
		if _, ok := Lookup("ansible.builtin." + n); !ok && !strings.Contains(n, ".") {
			t.Errorf("ansible.builtin.%s not found", n)
		}
	}
	if accepted, required, ok := c.Args("copy"); !ok || !slices.Contains(accepted, "dest") || !slices.Contains(required, "dest") {
		t.Errorf("copy: %v %v %v", accepted, required, ok)
	}
	if _, _, ok := c.Args("nosuchmodule"); ok {
		t.Error("unknown module found")
	}
}
