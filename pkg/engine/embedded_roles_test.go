package engine

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/koala-stack/koala/pkg/playbook"
)

// A role inside an embedded file system (no path on disk, as koala's roles/
// in the binary) renders its templates and copies its files: the modules
// read them through the engine.
func TestRoleFromEmbeddedFS(t *testing.T) {
	out := t.TempDir()
	roles := fstest.MapFS{
		"web/tasks/main.yml": {Data: []byte(`- template: {src: app.conf.j2, dest: "{{ out }}/app.conf"}
- copy: {src: data.txt, dest: "{{ out }}/data.txt"}
- merge_configs: {sources: [extra.ini.j2, "{{ out }}/no-such-override.ini"], dest: "{{ out }}/merged.ini"}
`)},
		"web/templates/app.conf.j2":  {Data: []byte("who = {{ who }}\n")},
		"web/templates/extra.ini.j2": {Data: []byte("[DEFAULT]\nwho = {{ who }}\n")},
		"web/files/data.txt":         {Data: []byte("plain\n")},
		"web/defaults/main.yml":      {Data: []byte("who: world\n")},
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"site.yml": "- hosts: all\n  gather_facts: false\n  roles: [web]\n"})
	pb, err := LoadPlaybook(filepath.Join(dir, "site.yml"), []playbook.Source{{FS: roles, Dir: ".", Display: "embedded/roles"}})
	if err != nil {
		t.Fatal(err)
	}
	col := &collector{}
	recap, err := Run(context.Background(), Options{Inventory: loadInv(t, "h1 ansible_connection=local\n"), Playbook: pb,
		ExtraVars: []map[string]any{{"out": out}}, Sinks: []Sink{col}})
	if err != nil {
		t.Fatal(err)
	}
	if s := recap.Hosts["h1"]; s.Failed != 0 || s.Changed != 3 {
		t.Fatalf("recap %+v; events %v", s, col.events)
	}
	for name, want := range map[string]string{"app.conf": "who = world\n", "data.txt": "plain\n", "merged.ini": "[DEFAULT]\nwho = world\n"} {
		got, err := os.ReadFile(filepath.Join(out, name))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want)
		}
	}
}
