package modules

import (
	"crypto/sha256"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/koala-stack/koala/internal/sshtest"
)

// Only gate.go reads Task.Check or uploads: every other module file changes
// a host through the gate, so check mode cannot be forgotten by a new module.
func TestOnlyTheGateReadsCheck(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") || name == "gate.go" {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok && (sel.Sel.Name == "Check" || sel.Sel.Name == "Upload") {
				t.Errorf("%s: .%s outside gate.go: changes go through the gate (change, changeExec, upload, script)", fset.Position(sel.Pos()), sel.Sel.Name)
			}
			return true
		})
	}
}

// checkModeTests names, for every module that can change something, the
// test that runs it in check mode on a real host; readOnly modules change
// nothing. A new module must be in one of them.
var (
	checkModeTests = map[string]string{
		"copy": "TestCheckModeChangesNothing", "template": "TestCheckModeChangesNothing", "file": "TestCheckModeChangesNothing",
		"lineinfile": "TestCheckModeChangesNothing", "blockinfile": "TestCheckModeChangesNothing", "replace": "TestCheckModeChangesNothing",
		"command": "TestCheckModeChangesNothing", "shell": "TestCheckModeChangesNothing", "raw": "TestCheckModeChangesNothing",
		"modprobe": "TestCheckModeChangesNothing",
		"sysctl":   "TestSysctl", "user": "TestUserGroup", "group": "TestUserGroup",
		"service": "TestService", "systemd": "TestServiceSystemd", "apt": "TestPackage", "package": "TestPackage",
		"merge_configs": "TestMergeConfigs", "merge_yaml": "TestMergeYAMLModule",
		"get_url": "TestGetURL", "uri": "TestURI",
		"mysql_db": "TestMySQLModules", "mysql_user": "TestMySQLModules", "mysql_query": "TestMySQLModules",
		"keystone_register": "TestKeystoneRegister", "kolla_container": "TestKollaContainerCheckMode",
		"kolla_certificates": "TestKollaCertificates",
	}
	readOnly = []string{"stat", "find", "slurp", "setup", "wait_for", "wait_for_connection", "registry_image", "kolla_container_facts"}
)

func TestEveryModuleHasACheckModeTest(t *testing.T) {
	tests := map[string]bool{}
	fset := token.NewFileSet()
	files, _ := filepath.Glob("*_test.go")
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok {
				tests[fn.Name.Name] = true
			}
		}
	}
	covered := map[Module]bool{}
	for name, test := range checkModeTests {
		m, ok := Lookup(name)
		if !ok || !tests[test] {
			t.Errorf("%s: module found %v, test %s found %v", name, ok, test, tests[test])
		}
		covered[m] = true
	}
	for _, name := range readOnly {
		m, ok := Lookup(name)
		if !ok {
			t.Errorf("read-only module %s not found", name)
		}
		covered[m] = true
	}
	for _, name := range (Catalog{}).Names() {
		if m, _ := Lookup(name); !covered[m] {
			t.Errorf("module %s: not in checkModeTests (name the test that runs it in check mode on a real host) nor in readOnly", name)
		}
	}
}

// snapshot describes every path under dir: kind, mode, owner and content.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		st, err := os.Lstat(p)
		if err != nil {
			return err
		}
		line := fmt.Sprintf("%s %v", p, st.Mode())
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			line += fmt.Sprintf(" %d:%d", sys.Uid, sys.Gid)
		}
		if st.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			line += fmt.Sprintf(" %x", sha256.Sum256(data))
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// Every module that changes files or runs commands, in check mode on each
// target: it reports the change a real run then makes (or, where Ansible
// does, skips), and the host is left exactly as it was.
func TestCheckModeChangesNothing(t *testing.T) {
	tpl := filepath.Join(t.TempDir(), "app.conf.j2")
	if err := os.WriteFile(tpl, []byte("hello {{ who }}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			dir := tg.dir(t)
			for name, body := range map[string]string{"old.conf": "a=1\nb=2\n", "gone.conf": "x\n", "mode.conf": "same\n"} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
			if tg.name == "ssh" { // files the unprivileged login user may change
				if out, err := exec.Command("chown", "-R", sshtest.User, dir).CombinedOutput(); err != nil {
					t.Fatalf("chown: %v: %s", err, out)
				}
			}
			at := func(name string) string { return filepath.Join(dir, name) }
			cases := []struct {
				module string
				args   map[string]any
				skip   bool // skipped in check mode, as Ansible does
			}{
				{"file", map[string]any{"path": at("newdir/deeper"), "state": "directory", "mode": "0750"}, false},
				{"file", map[string]any{"path": at("gone.conf"), "state": "absent"}, false},
				{"file", map[string]any{"path": at("mode.conf"), "mode": "0600"}, false},
				{"file", map[string]any{"path": at("link"), "src": at("old.conf"), "state": "link"}, false},
				{"file", map[string]any{"path": at("touched"), "state": "touch"}, false},
				{"copy", map[string]any{"dest": at("new.conf"), "content": "new\n"}, false},
				{"copy", map[string]any{"dest": at("old.conf"), "content": "a=9\n", "backup": true, "validate": "test -s %s"}, false},
				{"copy", map[string]any{"dest": at("mode.conf"), "content": "same\n", "mode": "0640"}, false},
				{"template", map[string]any{"src": tpl, "dest": at("app.conf")}, false},
				{"lineinfile", map[string]any{"path": at("made/by/lineinfile.conf"), "line": "c=3", "create": true}, false},
				{"lineinfile", map[string]any{"path": at("old.conf"), "regexp": "^b=", "line": "b=5"}, false},
				{"blockinfile", map[string]any{"path": at("old.conf"), "block": "x=1\ny=2"}, false},
				{"replace", map[string]any{"path": at("old.conf"), "regexp": "^x=1$", "replace": "x=4"}, false}, // the block's line
				{"command", map[string]any{"_raw_params": "touch " + at("sub/by-command"), "creates": at("sub/by-command")}, false},
				{"command", map[string]any{"argv": []any{"touch", at("sub/by-argv")}}, true},
				{"shell", map[string]any{"_raw_params": "echo hi > " + at("sub/by-shell")}, true},
				{"raw", map[string]any{"_raw_params": "echo hi > " + at("sub/by-raw")}, true},
				{"modprobe", map[string]any{"name": "koala_no_such_module"}, false},
			}
			for _, c := range cases {
				before := snapshot(t, dir)
				r := run(t, tg.conn, c.module, c.args, check, diff)
				if after := snapshot(t, dir); after != before {
					t.Errorf("%s %v in check mode changed the host:\nbefore:\n%s\nafter:\n%s", c.module, c.args, before, after)
				}
				switch {
				case r.Failed:
					t.Errorf("%s %v in check mode failed: %s", c.module, c.args, r.Msg)
				case c.skip && !r.Skipped:
					t.Errorf("%s %v: check mode did not skip: %+v", c.module, c.args, r)
				case !c.skip && !r.Changed:
					t.Errorf("%s %v: check mode reports no change: %+v", c.module, c.args, r)
				}
				if c.module == "modprobe" {
					continue // loading a module that does not exist fails for real
				}
				// A real run makes the change check mode reported.
				if r := run(t, tg.conn, c.module, c.args); r.Failed || !r.Changed {
					t.Errorf("%s %v for real: %+v", c.module, c.args, r)
				}
				if snapshot(t, dir) == before {
					t.Errorf("%s %v for real changed nothing", c.module, c.args)
				}
			}
		})
	}
}
