package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/koala-stack/koala/pkg/inventory"
)

func runInventoryCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	app := App()
	var out, errOut bytes.Buffer
	app.Writer, app.ErrWriter = &out, &errOut
	err := app.Run(append([]string{"koala"}, args...))
	return out.String(), err
}

func TestInventoryCommand(t *testing.T) {
	const src = "../inventory/testdata/tricky.ini"
	inv, err := inventory.Load(src)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := inv.ListJSON()
	got, err := runInventoryCmd(t, "inventory", "-i", src, "--list")
	if err != nil || got != string(want)+"\n" {
		t.Errorf("--list: err %v, output differs from ListJSON:\n%s", err, got)
	}
	got, err = runInventoryCmd(t, "inventory", "-i", src, "--list-hosts", "web:&db")
	if err != nil || got != "db1\ndb5\n" {
		t.Errorf("--list-hosts = %q, %v", got, err)
	}
	got, err = runInventoryCmd(t, "inventory", "-i", src, "--graph", "db")
	if err != nil || got != "@db:\n  |--db1\n  |--db5\n" {
		t.Errorf("--graph db = %q, %v", got, err)
	}
	if _, err = runInventoryCmd(t, "inventory", "-i", src, "--list", "--graph"); ExitCode(err) != 5 {
		t.Errorf("two actions: exit code %d (%v), want 5", ExitCode(err), err)
	}
	if _, err = runInventoryCmd(t, "inventory", "-i", src, "--host", "web"); err == nil || !strings.Contains(err.Error(), "selects 13 hosts") {
		t.Errorf("--host with a group: %v", err)
	}
}
