package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGenpwdAndMergepwdCommands(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "passwords.yml"), []byte("b:\na: set\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KOLLA_CONFIG_PATH", dir)
	var out bytes.Buffer
	app := App()
	app.Writer, app.ErrWriter = &out, &out
	if err := app.Run([]string{"koala", "genpwd"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "filled 1 empty keys") {
		t.Errorf("genpwd output %q", out.String())
	}
	final := filepath.Join(dir, "final.yml")
	if err := os.WriteFile(filepath.Join(dir, "new.yml"), []byte("a:\nc:\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := app.Run([]string{"koala", "mergepwd", "--old", filepath.Join(dir, "passwords.yml"),
		"--new", filepath.Join(dir, "new.yml"), "--final", final, "--clean"})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(final); string(got) != "a: set\nc:\n" {
		t.Errorf("mergepwd --clean wrote %q", got)
	}
	t.Setenv("HOME", dir)
	out.Reset()
	if err := app.Run([]string{"koala", "genpwd", "-p=~/new.yml"}); err != nil || !strings.Contains(out.String(), filepath.Join(dir, "new.yml")) {
		t.Errorf("genpwd -p=~/new.yml: %v, %q", err, out.String())
	}
	err = app.Run([]string{"koala", "genpwd", "-p", filepath.Join(dir, "absent.yml")})
	if err == nil || ExitCode(err) != 1 || !strings.Contains(err.Error(), "is missing") {
		t.Errorf("genpwd on a missing file: %v (exit %d)", err, ExitCode(err))
	}
}
