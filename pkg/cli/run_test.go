package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
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

// -K: the password read from the input reaches a sudo that asks for it; a
// wrong one fails the host at the first become task, named, once.
func TestRunAskBecomePass(t *testing.T) {
	f := sshtest.Start(t, 1)
	pw := sshtest.SudoPassword(t)
	t.Setenv("HOME", t.TempDir())
	t.Setenv("ANSIBLE_CONFIG", "")
	dir := t.TempDir()
	inv := filepath.Join(dir, "hosts")
	pb := filepath.Join(dir, "pb.yml")
	os.WriteFile(inv, []byte(f.InventoryINI()), 0o644)
	os.WriteFile(pb, []byte("- hosts: all\n  gather_facts: false\n  become: true\n  become_user: "+sshtest.PasswordUser+
		"\n  tasks:\n    - name: who\n      command: id -un\n      register: who\n    - debug: msg=as-{{ who.stdout }}\n    - name: again\n      command: 'true'\n"), 0o644)
	run := func(input string, args ...string) (string, int) {
		app := App()
		var out bytes.Buffer
		app.Writer, app.ErrWriter, app.Reader = &out, &out, strings.NewReader(input)
		err := app.RunContext(context.Background(), append([]string{"koala", "run", "-i", inv}, args...))
		if err != nil {
			out.WriteString(err.Error())
			return out.String(), ExitCode(err)
		}
		return out.String(), 0
	}
	out, code := run(pw+"\n", "-K", "--json", pb)
	if code != 0 || !strings.Contains(out, "as-"+sshtest.PasswordUser) || strings.Contains(out, pw) {
		t.Errorf("-K: code %d\n%s", code, out)
	}
	out, code = run("wrong-become-pw\n", "-K", pb)
	if code != 2 || !strings.Contains(out, "who") || !strings.Contains(out, "host1") || !strings.Contains(out, "sudo refused the become password") || strings.Contains(out, "wrong-become-pw") {
		t.Errorf("wrong -K: code %d\n%s", code, out)
	}
	// ansible.cfg's become_ask_pass asks as -K does.
	cwd := t.TempDir()
	t.Chdir(cwd)
	os.WriteFile(filepath.Join(cwd, "ansible.cfg"), []byte("[privilege_escalation]\nbecome_ask_pass = True\n"), 0o644)
	if out, code = run(pw+"\n", pb); code != 0 || !strings.Contains(out, "BECOME password:") || !strings.Contains(out, "as-"+sshtest.PasswordUser) {
		t.Errorf("become_ask_pass: code %d\n%s", code, out)
	}
	os.Remove(filepath.Join(cwd, "ansible.cfg"))
	// The password from the inventory, through a template.
	os.WriteFile(inv, []byte(f.InventoryINI()+"[all:vars]\nansible_become_password={{ pw }}\n"), 0o644)
	if out, code = run("", "-e", "pw="+pw, pb); code != 0 || !strings.Contains(out, "as-"+sshtest.PasswordUser) {
		t.Errorf("ansible_become_password: code %d\n%s", code, out)
	}
}

// The same playbook, inventory, vars files and vault passwords through
// ansible-playbook and koala run: the same decrypted values reach the host
// (a file each writes), and koala stars them in its output.
func TestRunVaultLikeAnsible(t *testing.T) {
	if _, err := exec.LookPath("ansible-playbook"); err != nil {
		t.Skip("ansible-playbook not installed (apt-get install ansible-core)")
	}
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("ANSIBLE_CONFIG", filepath.Join(dir, "none.cfg"))
	t.Chdir(dir)
	write := func(name, body string) {
		t.Helper()
		os.MkdirAll(filepath.Dir(name), 0o755)
		if err := os.WriteFile(name, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	vaultCmd := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("ansible-vault", args...).Output()
		if err != nil {
			t.Fatalf("ansible-vault %v: %v", args, err)
		}
		return string(out)
	}
	write("pw", "default-vault-pw\n")
	write("prodpw", "prod-vault-pw\n")
	inline := vaultCmd("encrypt_string", "--vault-id", "default@pw", "--name", "inv_secret", "secret from the inventory")
	write("hosts.yml", "all:\n  hosts:\n    localhost:\n      ansible_connection: local\n  vars:\n"+indent(inline, "    "))
	write("group_vars/all/vault.yml", "gv_secret: secret from group_vars\n")
	write("vars.yml", "vf_secret: secret from a vars file\n")
	write("extra.yml", "ev_secret: secret from extra vars\n")
	vaultCmd("encrypt", "--vault-id", "prod@prodpw", "group_vars/all/vault.yml", "extra.yml")
	vaultCmd("encrypt", "--vault-id", "default@pw", "vars.yml")
	write("pb.yml", `- hosts: all
  gather_facts: false
  vars_files: [vars.yml]
  tasks:
    - copy:
        content: "{{ inv_secret }}|{{ gv_secret }}|{{ vf_secret }}|{{ ev_secret }}\n"
        dest: "{{ out }}"
`)
	flags := []string{"-i", "hosts.yml", "-e", "@extra.yml", "--vault-id", "prod@prodpw", "--vault-password-file", "pw"}
	ansible := exec.Command("ansible-playbook", append(flags, "-e", "out="+filepath.Join(dir, "ansible.out"), "pb.yml")...)
	if out, err := ansible.CombinedOutput(); err != nil {
		t.Fatalf("ansible-playbook: %v\n%s", err, out)
	}
	out, code := runPlaybookCLI(t, append(append([]string{"run"}, flags...), "-e", "out="+filepath.Join(dir, "koala.out"), "--json", "-D", "pb.yml")...)
	want, _ := os.ReadFile("ansible.out")
	got, _ := os.ReadFile("koala.out")
	if code != 0 || string(got) != string(want) || !strings.Contains(string(want), "secret from extra vars") {
		t.Errorf("koala run: code %d, wrote %q, ansible-playbook %q\n%s", code, got, want, out)
	}
	for _, s := range []string{"secret from the inventory", "secret from group_vars", "secret from a vars file", "secret from extra vars"} {
		if strings.Contains(out, s) {
			t.Errorf("%q printed:\n%s", s, out)
		}
	}

	// No password: the error names the file and the flags; a wrong one names the file.
	os.Remove("koala.out")
	out, code = runPlaybookCLI(t, "run", "-i", "hosts.yml", "-e", "out=koala.out", "pb.yml")
	if code != 1 || !strings.Contains(out, "hosts.yml:6: vault value") || !strings.Contains(out, "--ask-vault-pass") {
		t.Errorf("no vault password: code %d\n%s", code, out)
	}
	write("wrong", "nope\n")
	out, code = runPlaybookCLI(t, "run", "-i", "hosts.yml", "--vault-password-file", "wrong", "-e", "out=koala.out", "pb.yml")
	if code != 1 || !strings.Contains(out, "hosts.yml:6: vault value: no vault password given decrypts it") {
		t.Errorf("wrong vault password: code %d\n%s", code, out)
	}
	if _, err := os.Stat("koala.out"); err == nil {
		t.Error("a run with a bad vault password wrote the file")
	}
}

func indent(s, prefix string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if l != "" {
			b.WriteString(prefix + l)
		}
	}
	return b.String()
}

// -e twice, @file among them: each value once (urfave/cli copies a flag to
// its alias through the value's own Set).
func TestExtraVarsRepeated(t *testing.T) {
	dir := t.TempDir()
	vars := filepath.Join(dir, "vars.yml")
	pb := filepath.Join(dir, "pb.yml")
	os.WriteFile(vars, []byte("a: from file\n"), 0o644)
	os.WriteFile(pb, []byte("- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: msg='{{ a }}/{{ b }}'\n"), 0o644)
	out, code := runPlaybookCLI(t, "run", "-i", "h1,", "-e", "@"+vars, "-e", "b=2", "-v", pb)
	if code != 0 || !strings.Contains(out, "from file/2") {
		t.Errorf("code %d\n%s", code, out)
	}
}
