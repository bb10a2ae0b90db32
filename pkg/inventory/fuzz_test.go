package inventory

import (
	"os"
	"path/filepath"
	"testing"
)

// seedFuzz adds every testdata file with one of the extensions (and the
// kolla-ansible samples for INI) to the corpus.
func seedFuzz(f *testing.F, ini bool) {
	var files []string
	_ = filepath.WalkDir("testdata", func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if ini {
		files = append(files, multinode, "../../inventory/all-in-one")
	}
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("[a:children]\nb\n[b:children]\na\n"))
	f.Add([]byte("h[01:03]:22 x=\"[1, {'a': (2,)}]\" y='\\u00e9'\n[g:vars]\nz=0x1F\n"))
	f.Add([]byte("a: &x\n  hosts: {h: *x}\n"))
	f.Add([]byte("a: &x\n  children: {b: *x}\n"))
	f.Add([]byte("a: &x\n  vars: {<<: *x}\n"))
}

// exercise runs the read side of the API over whatever was parsed.
func exercise(t *testing.T, inv *Inventory) {
	inv.reconcile()
	if len(inv.hlist) > 2000 || len(inv.glist) > 2000 {
		return // big ranges are valid but make the fuzzer crawl
	}
	for _, h := range inv.Hosts() {
		_ = inv.HostVars(h)
		_ = inv.GroupNames(h)
	}
	for _, g := range inv.Groups() {
		_ = inv.GroupHosts(g)
	}
	if _, err := inv.ListJSON(); err != nil {
		t.Fatalf("ListJSON: %v", err)
	}
	_ = inv.Graph(true)
	_, _ = inv.Match("all:!ungrouped")
}

func FuzzParseINI(f *testing.F) {
	seedFuzz(f, true)
	f.Fuzz(func(t *testing.T, data []byte) {
		inv := New()
		if err := inv.parseINI("fuzz.ini", data); err != nil {
			return
		}
		exercise(t, inv)
	})
}

func FuzzParseYAML(f *testing.F) {
	seedFuzz(f, false)
	f.Fuzz(func(t *testing.T, data []byte) {
		inv := New()
		if err := inv.parseYAML("fuzz.yml", data); err != nil {
			return
		}
		exercise(t, inv)
	})
}
