package deploy

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/koala-stack/koala/pkg/engine"
	"github.com/koala-stack/koala/pkg/playbook"
)

// Every lifecycle playbook of the embedded tree loads and validates: YAML,
// task keywords, module arguments, template syntax and referenced files are
// checked as they are before a real run touches any host.
func TestEmbeddedPlaybooksValidate(t *testing.T) {
	cache := t.TempDir()
	tree, err := extractAssets(cache)
	if err != nil {
		t.Fatal(err)
	}
	again, err := extractAssets(cache)
	if err != nil || again != tree {
		t.Fatalf("second extraction = %q, %v; want the same tree %q", again, err, tree)
	}
	rolesDir := filepath.Join(tree, "roles")
	roles := playbook.Source{FS: os.DirFS(rolesDir), Dir: ".", Display: rolesDir, OSRoot: rolesDir}
	for name, a := range Actions {
		if _, err := engine.LoadPlaybook(filepath.Join(tree, "playbook", a.Playbook), []playbook.Source{roles}); err != nil {
			t.Errorf("%s (%s):\n%v", name, a.Playbook, err)
		}
	}
}
