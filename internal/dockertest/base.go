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

// Base makes sure the engine has the Debian base image (debian:trixie), made
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
	dir := cacheDir(t, "base")
	defer Lock(t, filepath.Join(dir, ".lock"))()
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

// cacheDir is <user cache dir>/koala/<name>, made if missing.
func cacheDir(t testing.TB, name string) string {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatalf("cache directory: %v", err)
	}
	dir := filepath.Join(cache, "koala", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Lock takes an exclusive lock on file (made if missing), waiting for other
// test processes (go test runs packages in parallel) that hold it, and
// returns the release.
func Lock(t testing.TB, file string) func() {
	t.Helper()
	f, err := os.OpenFile(file, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("lock %s: %v", file, err)
	}
	return func() { f.Close() } // closing releases the lock
}
