package dockertest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/client"

	"github.com/koala-stack/koala/pkg/baseimage"
)

// Base makes sure the engine has the Debian base image (debian:bookworm), made
// as `koala lab base` makes it: debootstrap once, the tarball cached, then
// imported. Tests that build FROM it must not rely on an image an earlier run
// left behind: on a fresh engine with no registry, BuildKit would go to Docker
// Hub for it and fail. Test packages run in parallel processes, so a lock file
// beside the cached tarball makes the others wait instead of debootstrapping
// the same suite at the same time. It skips when no engine is reachable and
// returns the image reference.
func Base(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(Socket); err != nil {
		t.Skipf("no Docker engine at %s: %v", Socket, err)
	}
	eng, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatalf("docker client: %v", err)
	}
	defer eng.Close()
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatalf("cache directory for the base tarball: %v", err)
	}
	dir := filepath.Join(cache, "koala", "base")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("lock %s: %v", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	res, err := baseimage.Ensure(ctx, eng, baseimage.Options{CacheDir: dir, Log: Log(t)})
	if err != nil {
		t.Fatalf("base image (debootstrap needs root and Debian's mirror): %v", err)
	}
	if res.Outcome != baseimage.Present {
		t.Logf("base image %s %s", res.Tag, res.Outcome)
	}
	return res.Tag
}

// Log is an io.Writer that sends each write to t.Log.
func Log(t testing.TB) logWriter { return logWriter{t} }

type logWriter struct{ t testing.TB }

func (l logWriter) Write(b []byte) (int, error) {
	l.t.Helper()
	l.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
