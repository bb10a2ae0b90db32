package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A relative --configdir reaches the playbook as an absolute CONFIG_DIR: the
// roles read CONFIG_DIR/config/... as override files, and a relative path
// there was looked up among the role's own templates.
func TestLifecycleConfigDirIsAbsolute(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/globals.yml", "kolla_internal_vip_address: 10.0.0.10\n")
	write("etc/passwords.yml", "database_password: x\n")
	write("hosts", "localhost ansible_connection=local\n")
	out := filepath.Join(dir, "config_dir.txt")
	write("tree/playbook/post-deploy.yml", `- hosts: localhost
  gather_facts: false
  tasks:
    - copy:
        content: "{{ CONFIG_DIR }}"
        dest: "`+out+`"
`)
	if err := os.MkdirAll(filepath.Join(dir, "tree/roles"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	var log bytes.Buffer
	app := App()
	app.Writer, app.ErrWriter = &log, &log
	if err := app.Run([]string{"koala", "post-deploy", "-i", "hosts", "--configdir", "etc", "--playbook-dir", "tree"}); err != nil {
		t.Fatalf("post-deploy: %v\n%s", err, log.String())
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("the playbook wrote nothing: %v\n%s", err, log.String())
	}
	if want := filepath.Join(dir, "etc"); strings.TrimSpace(string(got)) != want {
		t.Errorf("CONFIG_DIR = %q, want %q", got, want)
	}
}
