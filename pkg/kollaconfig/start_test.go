package kollaconfig

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// startEnv makes a PATH holding a kolla_extend_start that sets ARGS, as service
// images' extend_start scripts do.
func startEnv(t *testing.T, f *fixture) []string {
	t.Helper()
	bin := f.p("/usr/local/bin")
	f.write("/usr/local/bin/kolla_extend_start", "ARGS=\"--from-extend\"\necho extended\n", 0o755)
	return []string{"PATH=" + bin + ":/usr/bin:/bin"}
}

func TestStart(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("kolla_start calls sudo when not root")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	f := newFixture(t)
	f.write(cfgDir+"/a.conf", "A", 0o644)
	f.config(map[string]any{
		"command":      "echo service",
		"config_files": []map[string]any{{"source": cfgDir + "/a.conf", "dest": "/etc/a.conf", "owner": "kolla", "perm": "0600"}},
	})
	path := startEnv(t, f)
	t.Setenv("PATH", strings.TrimPrefix(path[0], "PATH="))
	argv, err := Start(func(k string) string { return f.env[k] }, &f.log, &f.log)
	if err != nil {
		t.Fatalf("Start: %v\n%s", err, f.log.String())
	}
	if got := f.read("/etc/a.conf"); got != "A" {
		t.Errorf("config not copied before start: %q", got)
	}
	run := func(extra ...string) string {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = append(path, extra...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", argv, err, out)
		}
		return string(out)
	}
	if got, want := run(), "extended\nRunning command: 'echo service --from-extend'\nservice --from-extend\n"; got != want {
		t.Errorf("kolla_start output %q, want %q", got, want)
	}
	if got, want := run("KOLLA_SKIP_EXTEND_START="), "Running command: 'echo service'\nservice\n"; got != want {
		t.Errorf("with KOLLA_SKIP_EXTEND_START: %q, want %q", got, want)
	}

	// A failing kolla_set_configs stops the start with its exit status.
	os.Remove(f.p(cfgDir + "/a.conf"))
	if _, err := Start(func(k string) string { return f.env[k] }, &f.log, &f.log); ExitCode(err) != 1 {
		t.Errorf("Start with a missing source: %v (exit %d), want exit 1", err, ExitCode(err))
	}
}

func TestStartScriptWithoutExtendStart(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	dir := t.TempDir()
	rc := filepath.Join(dir, "run_command")
	if err := os.WriteFile(rc, []byte("echo ok\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "-c", StartScript, "kolla_start", rc)
	cmd.Env = []string{"PATH=" + dir + ":/usr/bin:/bin"}
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "Running command: 'echo ok'\nok\n" {
		t.Errorf("got %q, %v", out, err)
	}
}
