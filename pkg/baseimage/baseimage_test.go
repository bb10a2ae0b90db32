package baseimage

import (
	"archive/tar"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
)

func engine(t *testing.T) *client.Client {
	t.Helper()
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatalf("docker client: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Ping(ctx); err != nil {
		t.Skipf("SKIP: no Docker engine reachable (%v)", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// writeTar writes a one-file root file system.
func writeTar(t *testing.T, path, content string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	if err := tw.WriteHeader(&tar.Header{Name: "etc/koala-test", Mode: 0o644, Size: int64(len(content))}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte(content)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestEnsureImportsCachedTarball: a cached tarball is imported (no debootstrap),
// and a second run finds the image present and does nothing.
func TestEnsureImportsCachedTarball(t *testing.T) {
	c := engine(t)
	ctx := context.Background()
	dir := t.TempDir()
	suite := "koalatest"
	tag := fmt.Sprintf("koala-baseimage-test:%d", time.Now().UnixNano())
	writeTar(t, TarballPath(dir, suite), "hello\n")
	t.Cleanup(func() { c.ImageRemove(context.Background(), tag, image.RemoveOptions{Force: true}) })

	o := Options{Suite: suite, Tag: tag, CacheDir: dir, Mirror: "http://127.0.0.1:9/unused"}
	res, err := Ensure(ctx, c, o)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	if res.Outcome != Imported || res.ImageID == "" {
		t.Fatalf("first Ensure = %+v, want outcome %q with an image ID", res, Imported)
	}
	res2, err := Ensure(ctx, c, o)
	if err != nil {
		t.Fatalf("second Ensure: %v", err)
	}
	if res2.Outcome != Present || res2.ImageID != res.ImageID {
		t.Fatalf("second Ensure = %+v, want outcome %q and image %s", res2, Present, res.ImageID)
	}
}

// TestImportReportsEngineError: a file that is not a tarball is refused with the
// engine's message, not silently accepted.
func TestImportReportsEngineError(t *testing.T) {
	c := engine(t)
	bad := filepath.Join(t.TempDir(), "bad.tar")
	if err := os.WriteFile(bad, []byte(strings.Repeat("not a tar\n", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	tag := fmt.Sprintf("koala-baseimage-bad:%d", time.Now().UnixNano())
	t.Cleanup(func() { c.ImageRemove(context.Background(), tag, image.RemoveOptions{Force: true}) })
	if err := Import(context.Background(), c, bad, tag); err == nil {
		t.Fatalf("Import of a non-tarball succeeded")
	}
}

func TestDefaults(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/x/cache")
	o := Options{}
	if err := o.defaults(); err != nil {
		t.Fatal(err)
	}
	if o.Tag != "debian:trixie" || o.Mirror != DefaultMirror || o.CacheDir != "/x/cache/koala/base" {
		t.Fatalf("defaults = %+v", o)
	}
	if got := TarballPath(o.CacheDir, o.Suite); got != "/x/cache/koala/base/debian-trixie.tar" {
		t.Fatalf("TarballPath = %s", got)
	}
}
