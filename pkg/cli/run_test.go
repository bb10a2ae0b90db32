package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
