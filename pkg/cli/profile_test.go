package cli

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

// --cpuprofile and --memprofile write pprof files (gzip) for any command,
// also one that fails.
func TestProfileFlags(t *testing.T) {
	dir := t.TempDir()
	cpu, mem := filepath.Join(dir, "cpu.prof"), filepath.Join(dir, "mem.prof")
	inv := filepath.Join(writeTree(t, map[string]string{"hosts": "h1\n"}), "hosts")
	if out, err := runKoala(t, "--cpuprofile", cpu, "--memprofile", mem, "inventory", "-i", inv, "--list"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, p := range []string{cpu, mem} {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
			t.Errorf("%s: %v, %d bytes, want a gzipped profile", p, err, len(b))
		}
	}
	if _, err := runKoala(t, "--cpuprofile", filepath.Join(dir, "no", "such", "dir"), "inventory", "-i", inv, "--list"); err == nil {
		t.Error("--cpuprofile into a missing directory: no error")
	}
}

// The soft memory limit is koala's default unless GOMEMLIMIT is set.
func TestDefaultMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	inv := filepath.Join(writeTree(t, map[string]string{"hosts": "h1\n"}), "hosts")
	debug.SetMemoryLimit(math.MaxInt64)
	if _, err := runKoala(t, "inventory", "-i", inv, "--list"); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != defaultMemoryLimit {
		t.Errorf("memory limit %d, want %d", got, defaultMemoryLimit)
	}
	t.Setenv("GOMEMLIMIT", "1GiB")
	debug.SetMemoryLimit(math.MaxInt64)
	if _, err := runKoala(t, "inventory", "-i", inv, "--list"); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("with GOMEMLIMIT set: memory limit %d, want it left alone", got)
	}
}
