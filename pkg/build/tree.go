package build

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// TemplateName is the file that makes a directory of the tree an image.
const TemplateName = "Dockerfile.j2"

// Tree is a Dockerfile.j2 image tree: every directory holding a Dockerfile.j2 is
// an image named after the directory; macros.j2 and users.yml sit at the root.
type Tree struct {
	FS     fs.FS
	Root   string            // where FS comes from, for messages ("embedded" or a directory)
	Images map[string]*Image // by name
	Users  map[string]int    // users.yml: fixed UID (= GID) per user
	Blocks map[string]string // block name -> image whose template declares it
}

// Image is one directory of the tree.
type Image struct {
	Name     string
	Dir      string   // directory in Tree.FS; its files other than Dockerfile.j2 join the build context
	Template string   // Dir/Dockerfile.j2
	Blocks   []string // {% block %} names the template declares
}

var blockRE = regexp.MustCompile(`\{%-?\s*block\s+([A-Za-z0-9_]+)\s*-?%\}`)

// LoadTree discovers the images of fsys. root names fsys in messages.
func LoadTree(fsys fs.FS, root string) (*Tree, error) {
	t := &Tree{FS: fsys, Root: root, Images: map[string]*Image{}, Blocks: map[string]string{}}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || d.Name() != TemplateName {
			return nil
		}
		dir := path.Dir(p)
		name := path.Base(dir)
		if dir == "." {
			return fmt.Errorf("%s: a Dockerfile.j2 at the root of the tree has no image name; put it in a directory", t.where(p))
		}
		if other, ok := t.Images[name]; ok {
			return fmt.Errorf("image %q is defined twice: %s and %s", name, t.where(other.Template), t.where(p))
		}
		src, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		img := &Image{Name: name, Dir: dir, Template: p}
		for _, m := range blockRE.FindAllSubmatch(src, -1) {
			b := string(m[1])
			if other, ok := t.Blocks[b]; ok && other != name {
				return fmt.Errorf("%s: block %q is already declared by image %s; block names must be unique in the tree", t.where(p), b, other)
			}
			t.Blocks[b] = name
			img.Blocks = append(img.Blocks, b)
		}
		t.Images[name] = img
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("image tree %s: %w", root, err)
	}
	if len(t.Images) == 0 {
		return nil, fmt.Errorf("image tree %s: no %s found", root, TemplateName)
	}
	users, err := fs.ReadFile(fsys, "users.yml")
	if err != nil {
		return nil, fmt.Errorf("image tree %s: %w", root, err)
	}
	if err := yaml.Unmarshal(users, &t.Users); err != nil {
		return nil, fmt.Errorf("%s: %w", t.where("users.yml"), err)
	}
	return t, nil
}

// Names returns the image names, sorted.
func (t *Tree) Names() []string { return sortedKeys(t.Images) }

func (t *Tree) where(p string) string {
	if t.Root == "" || t.Root == "embedded" {
		return "images/" + p
	}
	return path.Join(t.Root, p)
}

// contextFiles lists the image's files other than Dockerfile.j2 (paths relative to
// its directory): they join its build context.
func (t *Tree) contextFiles(img *Image) ([]string, error) {
	var files []string
	err := fs.WalkDir(t.FS, img.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			// A subdirectory holding its own Dockerfile.j2 is another image.
			if p != img.Dir {
				if _, err := fs.Stat(t.FS, path.Join(p, TemplateName)); err == nil {
					return fs.SkipDir
				}
			}
			return nil
		}
		if p == img.Template {
			return nil
		}
		files = append(files, strings.TrimPrefix(p, img.Dir+"/"))
		return nil
	})
	sort.Strings(files)
	return files, err
}

// open opens a file of the tree.
func (t *Tree) open(p string) (io.ReadCloser, error) {
	f, err := t.FS.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: not in the image tree", t.where(p))
	}
	return f, err
}

// fromLine is where(p) with the line of the template's first FROM, for
// messages about the parent it names.
func (t *Tree) fromLine(p string) string {
	f, err := t.open(p)
	if err != nil {
		return t.where(p)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if fields := strings.Fields(sc.Text()); len(fields) > 0 && strings.EqualFold(fields[0], "FROM") {
			return fmt.Sprintf("%s:%d", t.where(p), n)
		}
	}
	return t.where(p)
}
