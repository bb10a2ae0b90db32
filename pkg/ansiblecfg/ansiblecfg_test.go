package ansiblecfg

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// ansibleEnv clears what would change Ansible's (and koala's) choice and
// gives the test a home of its own.
func ansibleEnv(t *testing.T) (home string) {
	t.Helper()
	home = t.TempDir()
	t.Setenv("HOME", home)
	for _, e := range os.Environ() {
		if k, _, _ := strings.Cut(e, "="); strings.HasPrefix(k, "ANSIBLE_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	return home
}

func write(t *testing.T, path, body string, mode os.FileMode) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// ansibleDump is `ansible-config dump --only-changed` as NAME -> value, with
// CONFIG_FILE; nil when Ansible is not installed.
func ansibleDump(t *testing.T) map[string]string {
	t.Helper()
	if _, err := exec.LookPath("ansible-config"); err != nil {
		return nil
	}
	out, err := exec.Command("ansible-config", "dump", "--only-changed").CombinedOutput()
	if err != nil {
		t.Fatalf("ansible-config dump: %v\n%s", err, out)
	}
	m := map[string]string{}
	line := regexp.MustCompile(`^([A-Z_]+)\([^)]*\) = (.*)$`)
	for _, l := range strings.Split(string(out), "\n") {
		if s := line.FindStringSubmatch(l); s != nil {
			m[s[1]] = s[2]
		}
	}
	return m
}

// Find picks the file ansible-config picks, in each of Ansible's places.
func TestFind(t *testing.T) {
	home := ansibleEnv(t)
	cwd := t.TempDir()
	t.Chdir(cwd)
	check := func(what, want string) {
		t.Helper()
		got := Find(nil)
		if got != want {
			t.Errorf("%s: Find = %q, want %q", what, got, want)
		}
		if dump := ansibleDump(t); dump != nil && strings.TrimPrefix(dump["CONFIG_FILE"], "None") != want {
			t.Errorf("%s: ansible-config reads %q, koala %q", what, dump["CONFIG_FILE"], want)
		}
	}
	if _, err := os.Stat("/etc/ansible/ansible.cfg"); err == nil {
		t.Skip("/etc/ansible/ansible.cfg exists: the no-file case cannot be tried")
	}
	check("nothing", "")
	user := write(t, filepath.Join(home, ".ansible.cfg"), "[defaults]\n", 0o644)
	check("~/.ansible.cfg", user)
	local := write(t, filepath.Join(cwd, "ansible.cfg"), "[defaults]\n", 0o644)
	check("./ansible.cfg", local)

	if err := os.Chmod(cwd, 0o777); err != nil {
		t.Fatal(err)
	}
	var warned string
	if got := Find(func(w string) { warned = w }); got != user || !strings.Contains(warned, "world-writable") {
		t.Errorf("world-writable cwd: Find = %q, warning %q", got, warned)
	}
	os.Chmod(cwd, 0o755)

	env := write(t, filepath.Join(t.TempDir(), "conf", "my.cfg"), "[defaults]\n", 0o644)
	t.Setenv("ANSIBLE_CONFIG", env)
	check("ANSIBLE_CONFIG file", env)
	dir := filepath.Dir(write(t, filepath.Join(t.TempDir(), "ansible.cfg"), "[defaults]\n", 0o644))
	t.Setenv("ANSIBLE_CONFIG", dir)
	check("ANSIBLE_CONFIG directory", filepath.Join(dir, "ansible.cfg"))
}

// The settings koala reads, as Ansible reads them from the same file.
func TestLoad(t *testing.T) {
	home := ansibleEnv(t)
	t.Chdir(t.TempDir())
	path := write(t, "ansible.cfg", `# an operator's file
[defaults]
HOST_KEY_CHECKING = False ; inline comment
forks=7
remote_user = ops
private_key_file = ~/k
timeout = 12
vault_password_file = ~/.vault_pass
ask_vault_pass = yes
become_password_file = ~/.become_pass
[privilege_escalation]
become_ask_pass = True
[ssh_connection]
ssh_args = -o StrictHostKeyChecking=yes -o ControlMaster=auto
`, 0o644)
	path, _ = filepath.Abs(path)
	c, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"ansible_host_key_checking":    "false",
		"ansible_user":                 "ops",
		"ansible_ssh_private_key_file": "~/k",
		"ansible_timeout":              "12",
		"ansible_ssh_args":             "-o StrictHostKeyChecking=yes -o ControlMaster=auto",
	}
	if !c.AskVaultPass || !c.AskBecomePass || c.BecomePasswordFile != filepath.Join(home, ".become_pass") {
		t.Errorf("ask/become settings: %+v", c)
	}
	if c.File != path || c.Forks != 7 || len(c.ConnVars) != len(want) || len(c.VaultIdentities) != 1 || c.VaultIdentities[0] != filepath.Join(home, ".vault_pass") {
		t.Errorf("got %+v", c)
	}
	for k, v := range want {
		if c.ConnVars[k] != v {
			t.Errorf("%s = %#v, want %#v", k, c.ConnVars[k], v)
		}
	}
	if dump := ansibleDump(t); dump != nil {
		for name, got := range map[string]string{
			"HOST_KEY_CHECKING": "False", "DEFAULT_FORKS": "7", "DEFAULT_REMOTE_USER": "ops",
			"DEFAULT_TIMEOUT": "12", "DEFAULT_PRIVATE_KEY_FILE": filepath.Join(home, "k"),
			"DEFAULT_ASK_VAULT_PASS": "True", "DEFAULT_BECOME_ASK_PASS": "True", "BECOME_PASSWORD_FILE": filepath.Join(home, ".become_pass"),
		} {
			if dump[name] != got {
				t.Errorf("ansible-config has %s = %q, koala read %q", name, dump[name], got)
			}
		}
	}

	// The environment wins over the file.
	t.Setenv("ANSIBLE_HOST_KEY_CHECKING", "yes")
	t.Setenv("ANSIBLE_FORKS", "3")
	t.Setenv("ANSIBLE_VAULT_IDENTITY_LIST", "dev@a, prod@b")
	if c, err = Load(nil); err != nil || c.ConnVars["ansible_host_key_checking"] != "true" || c.Forks != 3 || len(c.VaultIdentities) != 3 || c.VaultIdentities[2] != "prod@b" {
		t.Errorf("environment over the file: %+v, %v", c, err)
	}
	t.Setenv("ANSIBLE_FORKS", "")
	os.Unsetenv("ANSIBLE_FORKS")

	for body, msg := range map[string]string{
		"[defaults]\nforks = many\n":              `[defaults] forks: "many" is not a number`,
		"[defaults]\nhost_key_checking = maybe\n": `[defaults] host_key_checking: "maybe" is not a boolean`,
		"[defaults\n": "read ansible config",
	} {
		write(t, path, body, 0o644)
		t.Setenv("ANSIBLE_HOST_KEY_CHECKING", "")
		os.Unsetenv("ANSIBLE_HOST_KEY_CHECKING")
		if _, err := Load(nil); err == nil || !strings.Contains(err.Error(), msg) || !strings.Contains(err.Error(), path) {
			t.Errorf("%q: %v, want %q naming the file", body, err, msg)
		}
	}
}
