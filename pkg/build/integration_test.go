package build

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/koala-stack/koala/internal/dockertest"
)

// The integration tests build on the local Docker engine. They share one build
// of base -> openstack-base -> keystone-base -> keystone (the slow part), made by
// the first test that needs it.

var itVars = Vars{BaseImage: "debian", BaseTag: "bookworm", InstallType: "binary", Namespace: "koala-test", Tag: "it"}

const itEpoch = "1700000000" // SOURCE_DATE_EPOCH of the shared chain

var chain struct {
	once sync.Once
	sum  *Summary
	err  error
}

// engine returns a Builder on the local engine or skips the test, saying why.
func engine(t *testing.T) *Builder {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, err := NewBuilder(ctx, BuilderOptions{DialTimeout: 15 * time.Second})
	if err != nil {
		t.Skipf("integration test: no Docker engine with BuildKit reachable: %v", err)
	}
	dockertest.Base(t) // every image here is built FROM debian:bookworm
	t.Cleanup(func() { b.Close() })
	return b
}

// runtimeBin builds cmd/kolla-runtime into a temporary directory.
func runtimeBin(ctx context.Context, dir string) (string, error) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	out := filepath.Join(dir, "kolla-runtime")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, "./cmd/kolla-runtime")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/kolla-runtime: %w\n%s", err, b)
	}
	return out, nil
}

// keystoneChain builds the shared chain once and fails t if it did not build.
func keystoneChain(t *testing.T, b *Builder) {
	t.Helper()
	chain.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
		defer cancel()
		dir, err := os.MkdirTemp("", "koala-it-")
		if err != nil {
			chain.err = err
			return
		}
		defer os.RemoveAll(dir)
		rt, err := runtimeBin(ctx, dir)
		if err != nil {
			chain.err = err
			return
		}
		tr, err := LoadTree(imagesFS(), "embedded")
		if err != nil {
			chain.err = err
			return
		}
		pl, err := NewPlan(tr, tr.NewRenderer(itVars, nil), itVars, Selection{Regexes: []string{"^keystone$"}})
		if err != nil {
			chain.err = err
			return
		}
		o := RunOptions{WorkDir: filepath.Join(dir, "work"), RuntimeBin: rt, Threads: 4, SourceDateEpoch: itEpoch, Revision: "it", Progress: os.Stderr, ProgressMode: "plain"}
		if err := pl.WriteContexts(ctx, tr, o); err != nil {
			chain.err = err
			return
		}
		chain.sum, chain.err = pl.Run(ctx, b, o)
	})
	if chain.err != nil {
		t.Fatalf("building the keystone chain: %v", chain.err)
	}
	if !chain.sum.OK() || len(chain.sum.Built) != 4 {
		t.Fatalf("keystone chain: %+v", chain.sum)
	}
}

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
	b := engine(t)
	keystoneChain(t, b)
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
	b := engine(t)
	keystoneChain(t, b)
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
	b := engine(t)
	tr, err := LoadTree(fstest.MapFS{
		"users.yml":               {Data: []byte("kolla: 42400\n")},
		"ok/Dockerfile.j2":        {Data: []byte("FROM {{ base_image }}:{{ base_tag }}\nRUN echo ok > /ok\n")},
		"bad/Dockerfile.j2":       {Data: []byte("FROM {{ base_image }}:{{ base_tag }}\nRUN echo failing on purpose; exit 3\n")},
		"bad-child/Dockerfile.j2": {Data: []byte("FROM {{ image_prefix }}bad:{{ tag }}\nRUN true\n")},
	}, "testtree")
	if err != nil {
		t.Fatal(err)
	}
	pl, err := NewPlan(tr, tr.NewRenderer(itVars, nil), itVars, Selection{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	o := RunOptions{WorkDir: t.TempDir(), LogsDir: t.TempDir(), Retries: 1, Threads: 2}
	if err := pl.WriteContexts(ctx, tr, o); err != nil {
		t.Fatal(err)
	}
	sum, err := pl.Run(ctx, b, o)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(sum.Built, ",") != "ok" || len(sum.Failed) != 2 ||
		sum.Failed[0].Name != "bad" || sum.Failed[0].Status != StatusError || !strings.Contains(sum.Failed[0].Error, "exit code: 3") ||
		sum.Failed[1].Name != "bad-child" || sum.Failed[1].Status != StatusParentError {
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

// --push: the engine pushes to a registry container made here from Debian's
// docker-registry package (no registry image can be pulled).
func TestIntegrationPush(t *testing.T) {
	b := engine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	regDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(regDir, "config.yml"), []byte("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /var/lib/registry\nhttp:\n  addr: :5000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := b.Build(ctx, Spec{
		Name: "registry", ContextDir: regDir, Tags: []string{"koala-test/registry:it"},
		Dockerfile: []byte("FROM debian:bookworm\nRUN apt-get update && apt-get install -y --no-install-recommends docker-registry && rm -rf /var/lib/apt/lists/*\n" +
			"COPY config.yml /etc/docker/registry/config.yml\nCMD [\"docker-registry\", \"serve\", \"/etc/docker/registry/config.yml\"]\n"),
	})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	name := fmt.Sprintf("koala-it-registry-%d", os.Getpid())
	docker(t, "run", "-d", "--name", name, "-p", fmt.Sprintf("127.0.0.1:%d:5000", port), "koala-test/registry:it")
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", name).Run() })
	base := fmt.Sprintf("http://127.0.0.1:%d/v2/", port)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		resp, err := http.Get(base)
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("registry did not answer within 30s: %v\n%s", err, docker(t, "logs", name))
		}
	}

	v := itVars
	v.Registry = fmt.Sprintf("127.0.0.1:%d", port)
	tr, err := LoadTree(fstest.MapFS{
		"users.yml":           {Data: []byte("kolla: 42400\n")},
		"small/Dockerfile.j2": {Data: []byte("FROM {{ base_image }}:{{ base_tag }}\nRUN echo small > /small\n")},
	}, "testtree")
	if err != nil {
		t.Fatal(err)
	}
	pl, err := NewPlan(tr, tr.NewRenderer(v, nil), v, Selection{})
	if err != nil {
		t.Fatal(err)
	}
	o := RunOptions{WorkDir: t.TempDir(), Push: true}
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
	docker(t, "rmi", v.Ref("small"))
}
