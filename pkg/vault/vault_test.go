package vault

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ansibleVault runs Debian's ansible-vault (skipping without it) in dir.
func ansibleVault(t *testing.T, dir string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("ansible-vault"); err != nil {
		t.Skip("ansible-vault not installed (apt-get install ansible-core)")
	}
	cmd := exec.Command("ansible-vault", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ANSIBLE_CONFIG="+filepath.Join(dir, "none.cfg"), "HOME="+dir)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		errors.As(err, &ee)
		t.Fatalf("ansible-vault %v: %v\n%s", args, err, ee.Stderr)
	}
	return string(out)
}

func writeFile(t *testing.T, path, body string, mode os.FileMode) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// Files and inline values ansible-vault wrote (1.1 and 1.2 with IDs) open
// with the same passwords, and nothing opens with a wrong one.
func TestAnsibleVaultWrote(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "pw"), "secret-pw\n", 0o600)
	writeFile(t, filepath.Join(dir, "prodpw"), "prod-pw", 0o600)
	plain := "db_password: s3cr3t\nnested:\n  k: [1, 2]\n"
	enc := writeFile(t, filepath.Join(dir, "enc.yml"), plain, 0o600)
	ansibleVault(t, dir, "encrypt", "--vault-password-file", "pw", "enc.yml")
	enc12 := writeFile(t, filepath.Join(dir, "enc12.yml"), plain, 0o600)
	ansibleVault(t, dir, "encrypt", "--vault-id", "prod@prodpw", "enc12.yml")
	inline := ansibleVault(t, dir, "encrypt_string", "--vault-id", "prod@prodpw", "--name", "x", "inline value, with: yaml")

	ctx := context.Background()
	ask := func(string) (string, error) { return "", errors.New("no terminal") }
	def, err := ReadSecret(ctx, filepath.Join(dir, "pw"), ask)
	if err != nil || string(def.Password) != "secret-pw" || def.ID != "default" {
		t.Fatalf("password file: %+v %v", def, err)
	}
	prod, err := ReadSecret(ctx, "prod@"+filepath.Join(dir, "prodpw"), ask)
	if err != nil || prod.ID != "prod" {
		t.Fatalf("vault id: %+v %v", prod, err)
	}
	k := NewKeyring(def, prod)
	for _, f := range []string{enc, enc12} {
		data, _ := os.ReadFile(f)
		if !IsEncrypted(data) {
			t.Fatalf("%s not encrypted", f)
		}
		got, err := k.File(f, data)
		if err != nil || string(got) != plain {
			t.Errorf("%s: %q %v", f, got, err)
		}
	}
	var m map[string]any
	if err := k.Unmarshal("inline.yml", []byte("a: 1\n"+inline), &m); err != nil || m["x"] != "inline value, with: yaml" || m["a"] != 1 {
		t.Errorf("inline: %#v %v", m, err)
	}
	if r := k.Revealed(); !contains(r, "inline value, with: yaml") || !contains(r, plain) {
		t.Errorf("revealed: %q", r)
	}

	// Wrong or missing passwords: errors that say what to do, naming the file and line.
	wrong := NewKeyring(Secret{ID: "default", Password: []byte("nope")})
	data, _ := os.ReadFile(enc)
	if _, err := wrong.File(enc, data); !errors.Is(err, ErrDecrypt) || !strings.Contains(err.Error(), enc) {
		t.Errorf("wrong password: %v", err)
	}
	var none *Keyring
	if _, err := none.File(enc, data); !errors.Is(err, ErrNoSecret) || !strings.Contains(err.Error(), "--vault-password-file") {
		t.Errorf("no password: %v", err)
	}
	if err := none.Unmarshal("inline.yml", []byte("a: 1\n"+inline), &m); !errors.Is(err, ErrNoSecret) || !strings.Contains(err.Error(), "inline.yml:2:") {
		t.Errorf("inline, no password: %v", err)
	}
}

// What koala encrypts, ansible-vault decrypts (1.1, and 1.2 with an ID).
func TestAnsibleVaultReads(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "pw"), "secret-pw", 0o600)
	plain := "a: 1\nlong: " + strings.Repeat("x", 200) + "\n"
	for _, s := range []Secret{{ID: "default", Password: []byte("secret-pw")}, {ID: "prod", Password: []byte("secret-pw")}} {
		text, err := NewKeyring(s).Encrypt([]byte(plain))
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]string{"default": "$ANSIBLE_VAULT;1.1;AES256\n", "prod": "$ANSIBLE_VAULT;1.2;AES256;prod\n"}[s.ID]; !strings.HasPrefix(string(text), want) {
			t.Errorf("header: %q", strings.SplitN(string(text), "\n", 2)[0])
		}
		writeFile(t, filepath.Join(dir, "k.yml"), string(text), 0o600)
		if got := ansibleVault(t, dir, "view", "--vault-id", s.ID+"@pw", "k.yml"); got != plain {
			t.Errorf("%s: ansible-vault view: %q", s.ID, got)
		}
	}
}

// A password script's output is the password.
func TestPasswordScript(t *testing.T) {
	script := writeFile(t, filepath.Join(t.TempDir(), "pw.sh"), "#!/bin/sh\necho '  spaced pw  '\n", 0o700)
	s, err := ReadSecret(context.Background(), "dev@"+script, nil)
	if err != nil || string(s.Password) != "  spaced pw  " || s.ID != "dev" {
		t.Errorf("%+v %v", s, err)
	}
	asked := ""
	s, err = ReadSecret(context.Background(), "prod@prompt", func(id string) (string, error) { asked = id; return "typed", nil })
	if err != nil || string(s.Password) != "typed" || asked != "prod" {
		t.Errorf("prompt: %+v %v", s, err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
