package configdir

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadLayersInOrder(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "globals.yml"), "a: 1\nb: 1\n")
	write(t, filepath.Join(dir, "globals.d", "20-b.yml"), "b: 3\n")
	write(t, filepath.Join(dir, "globals.d", "10-a.yml"), "b: 2\nc: 2\n")
	write(t, filepath.Join(dir, "passwords.yml"), "keystone_admin_password: x\ndatabase_password:\n")
	d, err := Load(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, l := range d.Globals {
		files = append(files, filepath.Base(l.File))
	}
	if !reflect.DeepEqual(files, []string{"globals.yml", "10-a.yml", "20-b.yml"}) {
		t.Fatalf("layer order %v", files)
	}
	if g := d.MergedGlobals(); g["b"] != 3 || g["c"] != 2 || g["a"] != 1 {
		t.Fatalf("merged globals %v", g)
	}
	if ev := d.ExtraVars(); len(ev) != 4 || ev[3]["keystone_admin_password"] != "x" {
		t.Fatalf("extra vars %v", ev)
	}
	if m := d.MissingPasswords([]string{"keystone_admin_password", "database_password", "rabbitmq_password"}); !reflect.DeepEqual(m, []string{"database_password", "rabbitmq_password"}) {
		t.Fatalf("missing %v", m)
	}
}

func TestLoadReportsEveryProblemWithFileAndLine(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "globals.yml"), "a: 1\nb: [\n")
	write(t, filepath.Join(dir, "globals.d", "x.yml"), "ok: true\n  bad: indent\n")
	_, err := Load(dir, "")
	if err == nil {
		t.Fatal("want errors")
	}
	msg := err.Error()
	for _, want := range []string{"globals.yml:", "x.yml:2:", "passwords.yml: missing"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
}

func TestLoadCompatFiles(t *testing.T) {
	compat := filepath.Join("..", "..", "templates", "etc", "kolla")
	dir := t.TempDir()
	for _, f := range []string{"globals.yml", "passwords.yml"} {
		data, err := os.ReadFile(filepath.Join(compat, f))
		if err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, f), string(data))
	}
	d, err := Load(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(d.Passwords.Vars); n != 106 {
		t.Fatalf("upstream passwords.yml has 106 keys, read %d", n)
	}
	if err := d.Validate(); err != nil {
		t.Fatalf("upstream globals.yml: %v", err)
	}
}
