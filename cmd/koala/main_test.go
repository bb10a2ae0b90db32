package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The test binary runs main when asked, so that it can be started under the
// in-image names.
func TestMain(m *testing.M) {
	if os.Getenv("KOALA_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// koala is multi-call: called as a runtime tool (a symlink in the image) or as
// kolla-runtime, it is the in-image runtime; called as koala, the CLI.
func TestMultiCall(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"healthcheck_listen", []string{"x"}, 2, "usage: healthcheck_listen PROCESS PORT"},
		{"kolla-runtime", []string{"healthcheck_socket"}, 2, "usage: healthcheck_socket PROCESS SOCKET"},
		{"kolla-runtime", nil, 2, "usage: kolla-runtime TOOL [ARGS]"},
		{"kolla_set_configs", []string{"--bogus"}, 2, "flag provided but not defined"},
		{"koala", []string{"inventory"}, 1, "Required flag \"inventory\" not set"},
	} {
		link := filepath.Join(dir, tc.name)
		os.Remove(link)
		if err := os.Symlink(exe, link); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(link, tc.args...)
		cmd.Env = append(os.Environ(), "KOALA_TEST_MAIN=1")
		out, err := cmd.CombinedOutput()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		if code != tc.code || !strings.Contains(string(out), tc.want) {
			t.Errorf("%s %v: exit %d, output %q; want %d and %q", tc.name, tc.args, code, out, tc.code, tc.want)
		}
	}
}
