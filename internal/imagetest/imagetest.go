// Package imagetest builds the tree's keystone image chain (base ->
// openstack-base -> keystone-base -> keystone) for tests that need a real
// Kolla image: pkg/build's integration tests, and keystone_register's test,
// which runs Keystone from it. BuildKit's cache makes every build after the
// first quick; a lock file keeps parallel test packages from building it at
// the same time.
package imagetest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/koala-stack/koala/images"
	"github.com/koala-stack/koala/internal/dockertest"
	"github.com/koala-stack/koala/pkg/baseimage"
	"github.com/koala-stack/koala/pkg/build"
)

// Epoch is the chain's SOURCE_DATE_EPOCH.
const Epoch = "1700000000"

// Vars are the chain's build variables: images named koala-test/<image>:it.
var Vars = build.Vars{BaseImage: "debian", BaseTag: baseimage.DefaultSuite, InstallType: "binary", Namespace: "koala-test", Tag: "it"}

// Builder returns a Builder on the local engine (closed with the test), with
// the base image the chain starts from, or skips the test, saying why.
func Builder(t testing.TB) *build.Builder {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, err := build.NewBuilder(ctx, build.BuilderOptions{DialTimeout: 15 * time.Second})
	if err != nil {
		t.Skipf("integration test: no Docker engine with BuildKit reachable: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	dockertest.Base(t) // every image here is built FROM debian:<baseimage.DefaultSuite>
	return b
}

var chain struct {
	once sync.Once
	sum  *build.Summary
	err  error
}

// Keystone builds the chain once per test process and returns the keystone
// image's reference; it fails t if the chain did not build.
func Keystone(t testing.TB) string {
	t.Helper()
	b := Builder(t)
	chain.once.Do(func() {
		defer dockertest.Lock(t, filepath.Join(os.TempDir(), "koala-imagetest-keystone.lock"))()
		chain.sum, chain.err = buildChain(b)
	})
	if chain.err != nil {
		t.Fatalf("building the keystone chain: %v", chain.err)
	}
	if !chain.sum.OK() || len(chain.sum.Built) != 4 {
		t.Fatalf("keystone chain: %+v", chain.sum)
	}
	return Vars.Ref("keystone")
}

func buildChain(b *build.Builder) (*build.Summary, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "koala-it-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	rt, err := runtimeBin(ctx, dir)
	if err != nil {
		return nil, err
	}
	tr, err := build.LoadTree(images.FS, "embedded")
	if err != nil {
		return nil, err
	}
	pl, err := build.NewPlan(tr, tr.NewRenderer(Vars, nil), Vars, build.Selection{Regexes: []string{"^keystone$"}})
	if err != nil {
		return nil, err
	}
	o := build.RunOptions{WorkDir: filepath.Join(dir, "work"), RuntimeBin: rt, Threads: 4, SourceDateEpoch: Epoch, Revision: "it", Progress: os.Stderr, ProgressMode: "plain"}
	if err := pl.WriteContexts(ctx, tr, o); err != nil {
		return nil, err
	}
	return pl.Run(ctx, b, o)
}

// runtimeBin builds cmd/kolla-runtime, the in-image runtime, into dir.
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
