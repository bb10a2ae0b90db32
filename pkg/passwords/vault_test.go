package passwords

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/koala-stack/koala/pkg/vault"
)

// A passwords.yml that ansible-vault encrypted is filled and written back
// encrypted (ansible-vault reads it), a second run leaves it alone, and a
// wrong password touches nothing.
func TestGenerateVaulted(t *testing.T) {
	if _, err := exec.LookPath("ansible-vault"); err != nil {
		t.Skip("ansible-vault not installed (apt-get install ansible-core)")
	}
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	writeFile(t, pwFile, "vault-pw\n", 0o600)
	path := filepath.Join(dir, "passwords.yml")
	writeFile(t, path, "database_password:\nkeystone_admin_password: kept\n", 0o640)
	av := func(args ...string) string {
		cmd := exec.Command("ansible-vault", args...)
		cmd.Env = append(os.Environ(), "ANSIBLE_CONFIG="+filepath.Join(dir, "none.cfg"), "HOME="+dir)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("ansible-vault %v: %v", args, err)
		}
		return string(out)
	}
	av("encrypt", "--vault-id", "prod@"+pwFile, path)
	t.Cleanup(func() { vault.SetDefault(nil) })

	before, _ := os.ReadFile(path)
	vault.SetDefault(nil)
	if _, err := Generate(path, nil); !errors.Is(err, vault.ErrNoSecret) || !strings.Contains(err.Error(), path) {
		t.Errorf("no password: %v", err)
	}
	vault.SetDefault(vault.NewKeyring(vault.Secret{ID: "prod", Password: []byte("wrong")}))
	if _, err := Generate(path, nil); !errors.Is(err, vault.ErrDecrypt) || !strings.Contains(err.Error(), path) {
		t.Errorf("wrong password: %v", err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("the file changed after a failed run")
	}

	vault.SetDefault(vault.NewKeyring(vault.Secret{ID: "prod", Password: []byte("vault-pw")}))
	filled, err := Generate(path, nil)
	if err != nil || len(filled) != 1 {
		t.Fatalf("filled %v, %v", filled, err)
	}
	data, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(data), "$ANSIBLE_VAULT;1.2;AES256;prod\n") {
		t.Fatalf("written back unencrypted or with another id:\n%.80s", data)
	}
	plain := av("view", "--vault-id", "prod@"+pwFile, path)
	if !strings.Contains(plain, "keystone_admin_password: kept\n") || !passwordRE.MatchString(strings.TrimSpace(strings.TrimPrefix(strings.SplitN(plain, "\n", 2)[0], "database_password:"))) {
		t.Errorf("ansible-vault view:\n%s", plain)
	}
	info, _ := os.Stat(path)
	if filled, err = Generate(path, nil); err != nil || len(filled) != 0 {
		t.Fatalf("second run: %v %v", filled, err)
	}
	again, _ := os.ReadFile(path)
	info2, _ := os.Stat(path)
	if string(again) != string(data) || !os.SameFile(info, info2) {
		t.Error("a second run rewrote the encrypted file")
	}

	// mergepwd: FINAL encrypted as NEW was.
	final := filepath.Join(dir, "final.yml")
	newPath := filepath.Join(dir, "new.yml")
	writeFile(t, newPath, "database_password:\nnew_key:\n", 0o640)
	if err := Merge(path, newPath, final, true, nil); err != nil {
		t.Fatal(err)
	}
	if got := av("view", "--vault-id", "prod@"+pwFile, final); !strings.Contains(got, "new_key: null") && !strings.Contains(got, "new_key:\n") {
		t.Errorf("merged:\n%s", got)
	}
}
