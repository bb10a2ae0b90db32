package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/koala-stack/koala/internal/sshtest"
)

func runPlaybookCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	app := App()
	var out bytes.Buffer
	app.Writer, app.ErrWriter = &out, &out
	err := app.RunContext(context.Background(), append([]string{"koala"}, args...))
	code := 0
	if err != nil {
		code = ExitCode(err)
		out.WriteString(err.Error())
	}
	return out.String(), code
}

func TestRunExitCodes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	inv := write("hosts", "h1\nh2\n")
	ok := write("ok.yml", "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: msg={{ greeting }}\n")
	fail := write("fail.yml", "- hosts: all\n  gather_facts: false\n  tasks:\n    - fail: msg=boom\n      when: inventory_hostname == 'h2'\n")
	bad := write("bad.yml", "- hosts: all\n  tasks:\n    - name: typo\n      debug: msg=x\n      whne: true\n")

	out, code := runPlaybookCLI(t, "run", "-i", inv, "-e", "greeting=hello,world", ok)
	if code != 0 || !strings.Contains(out, `"hello,world"`) {
		t.Errorf("ok run: code %d\n%s", code, out)
	}
	out, code = runPlaybookCLI(t, "run", "-i", inv, fail)
	if code != 2 || !strings.Contains(out, "FAILED: h2") || !strings.Contains(out, "boom") {
		t.Errorf("failing run: code %d\n%s", code, out)
	}
	out, code = runPlaybookCLI(t, "run", "-i", inv, bad)
	if code != 1 || !strings.Contains(out, "bad.yml:5: unknown task keyword or module \"whne\" (did you mean \"when\"?)") {
		t.Errorf("bad input: code %d\n%s", code, out)
	}
	out, code = runPlaybookCLI(t, "run", "-i", inv, "--json", "-l", "h1", "-e", "greeting=x", ok)
	if code != 0 || !strings.Contains(out, `{"event":"recap"`) || strings.Contains(out, `"host":"h2"`) {
		t.Errorf("json run: code %d\n%s", code, out)
	}
}

// An ansible.cfg in the current directory gives the login user, the key and
// host_key_checking=False: koala run reaches a real sshd with nothing else
// (an inline host list, a home without known_hosts, which stays so).
func TestRunAnsibleCfg(t *testing.T) {
	f := sshtest.Start(t, 1)
	h := f.Hosts[0]
	home, cwd := t.TempDir(), t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("SSH_AUTH_SOCK", "")
	t.Setenv("ANSIBLE_CONFIG", "")
	t.Chdir(cwd)
	cfg := fmt.Sprintf("[defaults]\nremote_user = %s\nprivate_key_file = %s\nhost_key_checking = False\nforks = 2\n", h.User, h.KeyFile)
	if err := os.WriteFile("ansible.cfg", []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("pb.yml", []byte("- hosts: all\n  gather_facts: false\n  tasks:\n    - command: id -un\n      register: who\n    - debug: msg=user-{{ who.stdout }}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := runPlaybookCLI(t, "run", "-i", h.Address()+",", "-v", "pb.yml")
	if code != 0 || !strings.Contains(out, "user-"+h.User) {
		t.Errorf("code %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(home, ".ssh", "known_hosts")); err == nil {
		t.Error("known_hosts written with host_key_checking = False")
	}
	// Without the file: the same run fails to log in (no user, no key).
	os.Remove("ansible.cfg")
	if out, code = runPlaybookCLI(t, "run", "-i", h.Address()+",", "pb.yml"); code != 2 {
		t.Errorf("without ansible.cfg: code %d\n%s", code, out)
	}
}
