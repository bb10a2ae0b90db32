package build_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/koala-stack/koala/internal/dockertest"
	"github.com/koala-stack/koala/internal/imagetest"
	"github.com/koala-stack/koala/pkg/build"
)

// The integration tests build on the local Docker engine. They share one build
// of base -> openstack-base -> keystone-base -> keystone (the slow part,
// internal/imagetest), made by the first test that needs it.

var itVars = imagetest.Vars

func docker(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestIntegrationKeystoneImage(t *testing.T) {
	imagetest.Keystone(t)
	ref := itVars.Ref("keystone")
	var labels map[string]string
	if err := json.Unmarshal([]byte(docker(t, "image", "inspect", "-f", "{{json .Config.Labels}}", ref)), &labels); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"org.opencontainers.image.title":    "keystone",
		"org.opencontainers.image.version":  "it",
		"org.opencontainers.image.created":  "2023-11-14T22:13:20Z", // SOURCE_DATE_EPOCH=1700000000
		"org.opencontainers.image.revision": "it",
		"build-date":                        "20231114",
	} {
		if labels[k] != v {
			t.Errorf("label %s = %q, want %q (all: %v)", k, labels[k], v, labels)
		}
	}
	if got := docker(t, "image", "inspect", "-f", "{{json .Config.Entrypoint}} {{json .Config.Cmd}}", ref); got != `["dumb-init","--single-child","--"] ["kolla_start"]` {
		t.Errorf("entrypoint/cmd: %s", got)
	}
	if got := docker(t, "run", "--rm", "--entrypoint", "sh", ref, "-c", "id -u keystone; id -g keystone; id -u kolla; readlink /usr/local/bin/kolla_start; id -nG keystone; ls /var/lib/apt/lists | wc -l"); got != "42425\n42425\n42400\nkolla-runtime\nkeystone kolla\n0" {
		t.Errorf("users, runtime link, apt lists:\n%s", got)
	}
}

// kolla-ansible's contract: the host's config directory is mounted at
// /var/lib/kolla/config_files; kolla_start copies the files with their owner and
// mode and execs the command.
func TestIntegrationKollaStart(t *testing.T) {
	imagetest.Keystone(t)
	cfg := t.TempDir()
	os.Chmod(cfg, 0o755)
	if err := os.WriteFile(filepath.Join(cfg, "keystone.conf"), []byte("[DEFAULT]\ndebug = True\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cj := `{"command": "sleep infinity",
  "config_files": [{"source": "/var/lib/kolla/config_files/keystone.conf", "dest": "/etc/keystone/keystone.conf", "owner": "keystone", "perm": "0600"}],
  "permissions": [{"path": "/var/log/kolla/keystone", "owner": "keystone:kolla", "recurse": true}]}`
	if err := os.WriteFile(filepath.Join(cfg, "config.json"), []byte(cj), 0o600); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("koala-it-keystone-%d", os.Getpid())
	docker(t, "run", "-d", "--name", name, "-e", "KOLLA_CONFIG_STRATEGY=COPY_ALWAYS",
		"-v", cfg+":/var/lib/kolla/config_files:ro", itVars.Ref("keystone"))
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", name).Run() })
	var state string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		state = docker(t, "exec", name, "sh", "-c", "ps -eo args | grep -x 'sleep infinity' || true")
		if state != "" {
			break
		}
	}
	if state != "sleep infinity" {
		t.Fatalf("the command did not start within 60s; logs:\n%s", docker(t, "logs", name))
	}
	if got := docker(t, "exec", name, "stat", "-c", "%U:%G %a", "/etc/keystone/keystone.conf", "/var/log/kolla/keystone"); got != "keystone:keystone 600\nkeystone:kolla 755" {
		t.Errorf("owner/mode:\n%s", got)
	}
	if got := docker(t, "exec", name, "cat", "/etc/keystone/keystone.conf"); !strings.Contains(got, "debug = True") {
		t.Errorf("keystone.conf: %q", got)
	}
}

// A failed image fails its children with parent_error; the others are built.
func TestIntegrationFailureAndRetries(t *testing.T) {
	b := imagetest.Builder(t)
	tr, err := build.LoadTree(fstest.MapFS{
		"users.yml":               {Data: []byte("kolla: 42400\n")},
		"ok/Dockerfile.j2":        {Data: []byte("FROM {{ base_image }}:{{ base_tag }}\nRUN echo ok > /ok\n")},
		"bad/Dockerfile.j2":       {Data: []byte("FROM {{ base_image }}:{{ base_tag }}\nRUN echo failing on purpose; exit 3\n")},
		"bad-child/Dockerfile.j2": {Data: []byte("FROM {{ image_prefix }}bad:{{ tag }}\nRUN true\n")},
	}, "testtree")
	if err != nil {
		t.Fatal(err)
	}
	pl, err := build.NewPlan(tr, tr.NewRenderer(itVars, nil), itVars, build.Selection{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	o := build.RunOptions{WorkDir: t.TempDir(), LogsDir: t.TempDir(), Retries: 1, Threads: 2}
	if err := pl.WriteContexts(ctx, tr, o); err != nil {
		t.Fatal(err)
	}
	sum, err := pl.Run(ctx, b, o)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(sum.Built, ",") != "ok" || len(sum.Failed) != 2 ||
		sum.Failed[0].Name != "bad" || sum.Failed[0].Status != build.StatusError || !strings.Contains(sum.Failed[0].Error, "exit code: 3") ||
		sum.Failed[1].Name != "bad-child" || sum.Failed[1].Status != build.StatusParentError {
		t.Errorf("summary: %+v", sum)
	}
	// Wall times for what was built or tried; none for an image never started.
	if _, ok := sum.Seconds["bad-child"]; ok || sum.Seconds["ok"] <= 0 || sum.Seconds["bad"] <= 0 {
		t.Errorf("summary seconds: %v, want ok and bad > 0 and no bad-child", sum.Seconds)
	}
	log, _ := os.ReadFile(filepath.Join(o.LogsDir, "bad.log"))
	if !strings.Contains(string(log), "failing on purpose") || !strings.Contains(string(log), "=== retry 1 of 1") {
		t.Errorf("bad.log lacks the RUN output or the retry:\n%s", log)
	}
	docker(t, "rmi", itVars.Ref("ok"))
}

// --push: the engine pushes to Debian's docker-registry, run on loopback.
func TestIntegrationPush(t *testing.T) {
	b := imagetest.Builder(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	// The engine pushes to a 127.0.0.1 registry over plain HTTP.
	addr := dockertest.Registry(t, "")
	base := "http://" + addr + "/v2/"

	v := itVars
	v.Registry = addr
	tr, err := build.LoadTree(fstest.MapFS{
		"users.yml":           {Data: []byte("kolla: 42400\n")},
		"small/Dockerfile.j2": {Data: []byte("FROM {{ base_image }}:{{ base_tag }}\nRUN echo small > /small\n")},
	}, "testtree")
	if err != nil {
		t.Fatal(err)
	}
	pl, err := build.NewPlan(tr, tr.NewRenderer(v, nil), v, build.Selection{})
	if err != nil {
		t.Fatal(err)
	}
	o := build.RunOptions{WorkDir: t.TempDir(), Push: true}
	if err := pl.WriteContexts(ctx, tr, o); err != nil {
		t.Fatal(err)
	}
	sum, err := pl.Run(ctx, b, o)
	if err != nil || !sum.OK() {
		t.Fatalf("push run: %v %+v", err, sum)
	}
	resp, err := http.Get(base + "koala-test/small/tags/list")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tags struct{ Tags []string }
	if err := json.NewDecoder(resp.Body).Decode(&tags); err != nil || strings.Join(tags.Tags, ",") != "it" {
		t.Errorf("registry tags of koala-test/small: %v (err %v)", tags.Tags, err)
	}
	// Again: the engine and the registry have it, unchanged. Without it in
	// the engine: the registry's copy carries the inputs hash, unchanged.
	for i, what := range []string{"in the engine and the registry", "in the registry only"} {
		if i == 1 {
			docker(t, "rmi", v.Ref("small"))
		}
		if sum, err = pl.Run(ctx, b, o); err != nil || !sum.OK() || strings.Join(sum.Unchanged, ",") != "small" || len(sum.Built) != 0 {
			t.Errorf("push run, image %s: %v %+v", what, err, sum)
		}
	}
}

// A rebuild whose inputs did not change is no solve: the image already carries
// their hash. A changed context file rebuilds its image; a changed parent
// rebuilds its children; --no-cache rebuilds everything.
func TestIntegrationUnchanged(t *testing.T) {
	b := imagetest.Builder(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	v := itVars
	v.Tag = fmt.Sprintf("unchanged-%d", os.Getpid())
	files := fstest.MapFS{
		"users.yml":             {Data: []byte("kolla: 42400\n")},
		"parent/Dockerfile.j2":  {Data: []byte("FROM {{ base_image }}:{{ base_tag }}\nRUN echo parent > /parent\n")},
		"child/Dockerfile.j2":   {Data: []byte("FROM {{ image_prefix }}parent:{{ tag }}\nCOPY extend_start.sh /\n")},
		"child/extend_start.sh": {Data: []byte("echo one\n")},
		"sibling/Dockerfile.j2": {Data: []byte("FROM {{ base_image }}:{{ base_tag }}\nRUN echo sibling > /sibling\n")},
	}
	t.Cleanup(func() {
		for _, n := range []string{"parent", "child", "sibling"} {
			exec.Command("docker", "rmi", v.Ref(n)).Run()
		}
	})
	run := func(o build.RunOptions) *build.Summary {
		t.Helper()
		tr, err := build.LoadTree(files, "testtree")
		if err != nil {
			t.Fatal(err)
		}
		pl, err := build.NewPlan(tr, tr.NewRenderer(v, nil), v, build.Selection{})
		if err != nil {
			t.Fatal(err)
		}
		o.WorkDir = t.TempDir()
		if err := pl.WriteContexts(ctx, tr, o); err != nil {
			t.Fatal(err)
		}
		sum, err := pl.Run(ctx, b, o)
		if err != nil || !sum.OK() {
			t.Fatalf("run: %v %+v", err, sum)
		}
		return sum
	}
	check := func(what string, sum *build.Summary, built, unchanged string) {
		t.Helper()
		if got := strings.Join(sum.Built, ","); got != built {
			t.Errorf("%s: built %q, want %q", what, got, built)
		}
		if got := strings.Join(sum.Unchanged, ","); got != unchanged {
			t.Errorf("%s: unchanged %q, want %q", what, got, unchanged)
		}
	}
	check("first build", run(build.RunOptions{}), "child,parent,sibling", "")
	label := docker(t, "image", "inspect", "-f", `{{index .Config.Labels "`+build.InputsLabel+`"}}`, v.Ref("child"))
	if !strings.HasPrefix(label, "sha256:") {
		t.Errorf("child's %s label: %q", build.InputsLabel, label)
	}
	id := docker(t, "image", "inspect", "-f", "{{.Id}}", v.Ref("child"))
	sum := run(build.RunOptions{})
	check("no change", sum, "", "child,parent,sibling")
	if len(sum.Seconds) != 0 {
		t.Errorf("no-change run timed solves: %v", sum.Seconds)
	}
	if got := docker(t, "image", "inspect", "-f", "{{.Id}}", v.Ref("child")); got != id {
		t.Errorf("no-change run replaced the child image: %s, was %s", got, id)
	}

	files["child/extend_start.sh"] = &fstest.MapFile{Data: []byte("echo two\n")}
	check("child's context changed", run(build.RunOptions{}), "child", "parent,sibling")

	files["parent/Dockerfile.j2"] = &fstest.MapFile{Data: []byte("FROM {{ base_image }}:{{ base_tag }}\nRUN echo parent2 > /parent\n")}
	check("parent changed", run(build.RunOptions{}), "child,parent", "sibling")

	check("--no-cache", run(build.RunOptions{NoCache: true}), "child,parent,sibling", "")
	check("after --no-cache", run(build.RunOptions{}), "", "child,parent,sibling")
}
