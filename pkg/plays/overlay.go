package plays

import (
	"errors"
	"io/fs"
	"testing/fstest"
)

// Overlay is dir with the generated playbooks added under Dir: a file of
// dir's own wins, so an operator's copy can replace a generated playbook.
func Overlay(dir fs.FS, generated map[string][]byte) fs.FS {
	m := fstest.MapFS{}
	for name, data := range generated {
		m[name] = &fstest.MapFile{Data: data, Mode: 0o444}
	}
	return overlay{base: dir, gen: m}
}

type overlay struct {
	base fs.FS
	gen  fstest.MapFS
}

func (o overlay) Open(name string) (fs.File, error) {
	f, err := o.base.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return o.gen.Open(name)
	}
	return f, err
}
