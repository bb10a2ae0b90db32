package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/koala-stack/koala/internal/dockertest"
)

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func runKoala(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	app := App()
	var out bytes.Buffer
	app.Writer, app.ErrWriter = &out, &out
	err := app.RunContext(ctx, append([]string{"koala"}, args...))
	return out.String(), err
}

// Bad input is reported with file and line and builds nothing (no engine needed).
func TestBuildImagesBadInput(t *testing.T) {
	conf := writeTree(t, map[string]string{"koala-build.conf": "[DEFAULT]\nthreads = 2\n[profile]\n"})
	override := writeTree(t, map[string]string{"o.j2": "{% block nova_footer %}RUN true{% endblock %}\n"})
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--profile", "nope"}, `unknown profile "nope"`},
		{[]string{"--config-file", filepath.Join(conf, "koala-build.conf")}, "koala-build.conf:3: unknown section [profile]"},
		{[]string{"--template-override", filepath.Join(override, "o.j2")}, "o.j2:1: block nova_footer: no image of the tree declares it"},
		{[]string{"--install-type", "rpm"}, `--install-type "rpm"`},
		{[]string{"--images-dir", writeTree(t, map[string]string{"users.yml": "{}\n", "a/Dockerfile.j2": "FROM x\nRUN {% if %}\n"})}, "a/Dockerfile.j2:2: syntax error"},
	}
	for _, c := range cases {
		out, err := runKoala(t, append([]string{"build-images", "--template-only", "--work-dir", t.TempDir()}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q (output %s)", c.args, err, c.want, out)
		}
		if ExitCode(err) == 0 {
			t.Errorf("%v: exit status 0", c.args)
		}
	}
}

func TestBuildImagesListAndTemplateOnly(t *testing.T) {
	out, err := runKoala(t, "build-images", "--list-images", "^keystone$")
	if err != nil || out != "base\nkeystone\nkeystone-base\nopenstack-base\n" {
		t.Errorf("--list-images: %v %q", err, out)
	}
	work := t.TempDir()
	rt := filepath.Join(writeTree(t, map[string]string{"kolla-runtime": "x"}), "kolla-runtime")
	if _, err := runKoala(t, "build-images", "--template-only", "--work-dir", work, "--runtime-bin", rt, "--registry", "r:5000", "--tag", "t9", "^glance-api$"); err != nil {
		t.Fatal(err)
	}
	df, err := os.ReadFile(filepath.Join(work, "glance-api", "Dockerfile"))
	if err != nil || !strings.HasPrefix(string(df), "FROM r:5000/kolla/glance-base:t9\n") {
		t.Errorf("glance-api Dockerfile: %v\n%s", err, df)
	}
}

// A failed image makes the command exit 1, and the summary says what happened.
func TestBuildImagesExitStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
	dockertest.Base(t) // the tree's images are FROM debian:trixie
	tree := writeTree(t, map[string]string{
		"users.yml":          "kolla: 42400\n",
		"good/Dockerfile.j2": "FROM {{ base_image }}:{{ base_tag }}\nRUN echo good\n",
		"bad/Dockerfile.j2":  "FROM {{ base_image }}:{{ base_tag }}\nRUN exit 7\n",
	})
	sum := filepath.Join(t.TempDir(), "summary.json")
	out, err := runKoala(t, "build-images", "--images-dir", tree, "--namespace", "koala-test", "--tag", "cli", "--progress", "plain", "--summary-json", sum)
	if ExitCode(err) != 1 {
		t.Fatalf("exit status %d (%v), want 1; output:\n%s", ExitCode(err), err, out)
	}
	var s struct {
		Built  []string
		Failed []struct{ Name, Status string }
	}
	data, _ := os.ReadFile(sum)
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	if strings.Join(s.Built, ",") != "good" || len(s.Failed) != 1 || s.Failed[0].Name != "bad" || s.Failed[0].Status != "error" {
		t.Errorf("summary: %s", data)
	}
	exec.Command("docker", "rmi", "koala-test/good:cli").Run()
}
