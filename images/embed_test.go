package images

import (
	"bytes"
	"io/fs"
	"os"
	"strings"
	"testing"
)

// The embedded tree is the directory: every file of images/ (but Go's own) is
// in FS with the same bytes, and FS holds nothing else.
func TestEmbeddedTreeIsTheDirectory(t *testing.T) {
	disk := os.DirFS(".")
	want := map[string]bool{}
	err := fs.WalkDir(disk, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".go") {
			return err
		}
		want[p] = true
		a, _ := fs.ReadFile(disk, p)
		b, err := fs.ReadFile(FS, p)
		if err != nil {
			t.Errorf("%s is in images/ but not embedded: %v", p, err)
		} else if !bytes.Equal(a, b) {
			t.Errorf("%s differs between images/ and the embedded tree", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) < 10 {
		t.Fatalf("found only %d files in images/: the test reads the wrong directory", len(want))
	}
	err = fs.WalkDir(FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".go") {
			return err
		}
		if !want[p] {
			t.Errorf("%s is embedded but not in images/", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
