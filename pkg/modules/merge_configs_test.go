package modules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMergeConfigs(t *testing.T) {
	src := t.TempDir()
	role := filepath.Join(src, "keystone.conf.j2")
	global := filepath.Join(src, "global.conf")
	os.WriteFile(role, []byte("[DEFAULT]\ndebug = False\n\n[database]\nconnection = mysql://{{ who }}\n"), 0o644)
	os.WriteFile(global, []byte("[DEFAULT]\ndebug = True\n"), 0o644)
	missing := filepath.Join(src, "keystone", "host1", "keystone.conf")
	want := "[DEFAULT]\ndebug = True\n\n[database]\nconnection = mysql://world\n"

	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			c := tg.conn
			dest := filepath.Join(tg.dir(t), "keystone.conf")
			a := map[string]any{"sources": []any{role, global, missing}, "dest": dest, "mode": "0660"}

			r := run(t, c, "merge_configs", a, check, diff)
			mustChanged(t, r, true)
			if _, err := os.Stat(dest); err == nil {
				t.Fatal("check mode wrote the file")
			}
			if len(r.Diff) != 1 || r.Diff[0].After != want {
				t.Fatalf("diff: %+v", r.Diff)
			}
			r = run(t, c, "merge_configs", a)
			mustChanged(t, r, true)
			if got := readFile(t, dest); got != want {
				t.Fatalf("merged:\n%s\nwant:\n%s", got, want)
			}
			if st, _ := os.Stat(dest); st.Mode().Perm() != 0o660 {
				t.Errorf("mode %v", st.Mode())
			}
			if sk, _ := r.Data["skipped_sources"].([]any); len(sk) != 1 || sk[0] != missing {
				t.Errorf("skipped_sources %v", r.Data["skipped_sources"])
			}
			mustChanged(t, run(t, c, "merge_configs", a), false)
		})
	}
}

func TestMergeYAMLModule(t *testing.T) {
	src := t.TempDir()
	a1 := filepath.Join(src, "policy.yaml.j2")
	a2 := filepath.Join(src, "override.yaml")
	os.WriteFile(a1, []byte("rule: {{ who }}\nnested:\n  keep: 1\n  x: 1\n"), 0o644)
	os.WriteFile(a2, []byte("nested:\n  x: 2\n"), 0o644)
	tg := localTarget(t)
	dest := filepath.Join(tg.dir(t), "policy.yaml")
	a := map[string]any{"sources": []any{a1, a2}, "dest": dest}
	mustChanged(t, run(t, tg.conn, "merge_yaml", a), true)
	if got, want := readFile(t, dest), "nested:\n  keep: 1\n  x: 2\nrule: world\n"; got != want {
		t.Fatalf("merged:\n%s\nwant:\n%s", got, want)
	}
	mustChanged(t, run(t, tg.conn, "merge_yaml", a), false)
}

func TestMergeConfigsErrors(t *testing.T) {
	tg := localTarget(t)
	dir := tg.dir(t)
	// No source at all: fail rather than write an empty service config.
	r := run(t, tg.conn, "merge_configs", map[string]any{"sources": []any{filepath.Join(dir, "nope.conf")}, "dest": filepath.Join(dir, "out.conf")})
	if !r.Failed || !strings.Contains(r.Msg, "nope.conf") {
		t.Fatalf("want a failure naming the missing source, got %+v", r)
	}
	bad := filepath.Join(dir, "bad.conf")
	os.WriteFile(bad, []byte("[broken\n"), 0o644)
	_, err := runErr(t, tg.conn, "merge_configs", map[string]any{"sources": []any{bad}, "dest": filepath.Join(dir, "out.conf")})
	if err == nil || !strings.Contains(err.Error(), "bad.conf") {
		t.Fatalf("want an error naming the broken source, got %v", err)
	}
}
