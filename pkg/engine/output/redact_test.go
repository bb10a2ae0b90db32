package output_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/koala-stack/koala/pkg/engine"
	"github.com/koala-stack/koala/pkg/engine/output"
	"github.com/koala-stack/koala/pkg/inventory"
)

// A passwords.yml value never reaches the terminal view or the JSON events,
// whichever way a task prints it: a command's stdout and stderr, a debug
// message, a failure message, a task name, a loop label, a file diff, or the
// value URL-encoded in a connection URL.
func TestSecretsNeverReachTheOutput(t *testing.T) {
	const secret = "Zq3pW9rT5yU7iO1pA2sD4fG6hJ8kL0"
	const special = "p@ss/w:rd with space!"
	dir := t.TempDir()
	file := filepath.Join(dir, "keystone.conf")
	if err := os.WriteFile(file, []byte("[database]\nconnection = mysql://keystone:old@db/keystone\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pb := filepath.Join(dir, "site.yml")
	if err := os.WriteFile(pb, []byte(`- hosts: all
  gather_facts: false
  tasks:
    - name: print
      shell: "echo out {{ keystone_database_password }}"
      register: printed
    - name: registered
      debug: var=printed.stdout
    - name: debug
      debug: msg="the password is {{ keystone_database_password }}"
    - name: url
      debug: msg="mysql://keystone:{{ database_password | urlencode }}@db/keystone"
    - name: loop
      debug: msg=x
      loop: ["{{ keystone_database_password }}"]
    - name: diff
      copy:
        dest: `+file+`
        content: "[database]\nconnection = mysql://keystone:{{ keystone_database_password }}@db/keystone\n"
    - name: fails
      shell: "echo failing with {{ keystone_database_password }}; echo err {{ keystone_database_password }} >&2; exit 3"
`), 0o644); err != nil {
		t.Fatal(err)
	}
	invFile := filepath.Join(dir, "hosts")
	os.WriteFile(invFile, []byte("h1 ansible_connection=local\n"), 0o644)
	inv, err := inventory.Load(invFile)
	if err != nil {
		t.Fatal(err)
	}
	play, err := engine.LoadPlaybook(pb, nil)
	if err != nil {
		t.Fatal(err)
	}
	passwords := map[string]any{"keystone_database_password": secret, "database_password": special,
		"nova_ssh_key": map[string]any{"private_key": "-----BEGIN KEY-----\nAAAAsecretkeymaterial\n-----END KEY-----\n"}}
	var term, js bytes.Buffer
	_, err = engine.Run(context.Background(), engine.Options{
		Inventory: inv, Playbook: play, Diff: true, Verbosity: 2,
		ExtraVars: []map[string]any{passwords},
		Secrets:   engine.SecretValues(passwords),
		Sinks: []engine.Sink{
			output.NewTerminal(&term, output.TerminalOptions{Verbose: 2, Diff: true}),
			output.NewJSON(&js),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(file)
	if !strings.Contains(string(b), secret) {
		t.Fatalf("the task did not write the secret (the test shows nothing): %s", b)
	}
	for name, out := range map[string]string{"terminal": term.String(), "json": js.String()} {
		for _, leak := range []string{secret, special, strings.ReplaceAll(special, " ", "+"), "p%40ss%2Fw%3Ard", "secretkeymaterial"} {
			if strings.Contains(out, leak) {
				t.Errorf("%s output contains %q:\n%s", name, leak, out)
			}
		}
		// The output is still there, starred.
		for _, want := range []string{"out ********", "err ********", "the password is ********", "failing with ********"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s output lacks %q:\n%s", name, want, out)
			}
		}
	}
}
