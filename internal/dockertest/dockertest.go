// Package dockertest gives tests a tiny image on the local Docker engine
// without a base OS image or a registry: a static Go program (probe/) imported
// as the image's only file.
package dockertest

import (
	"archive/tar"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// ProbeImage is the image's reference. Its one file, /probe, prints
// PROBE_WORD and exits with `/probe exit N`, exits 0 with `/probe healthy`,
// and otherwise sleeps until SIGTERM.
const ProbeImage = "koala-test/probe:1"

// Socket is where the local engine listens.
const Socket = "/var/run/docker.sock"

// Probe skips the test when no engine is reachable, and otherwise makes sure
// ProbeImage exists (built with `go build`, imported with `docker import`).
func Probe(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(Socket); err != nil {
		t.Skipf("no Docker engine at %s: %v", Socket, err)
	}
	if exec.Command("docker", "image", "inspect", ProbeImage).Run() == nil {
		return ProbeImage
	}
	_, self, _, _ := runtime.Caller(0)
	bin := filepath.Join(t.TempDir(), "probe")
	build := exec.Command("go", "build", "-o", bin, filepath.Join(filepath.Dir(self), "probe"))
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build probe: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "probe", Mode: 0o755, Size: int64(len(data))}); err != nil {
		t.Fatal(err)
	}
	tw.Write(data)
	tw.Close()
	imp := exec.Command("docker", "import", "-", ProbeImage)
	imp.Stdin = &buf
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("docker import: %v\n%s", err, out)
	}
	return ProbeImage
}
