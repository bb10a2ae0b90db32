package build

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/koala-stack/koala/pkg/template"
)

// Vars are the values every template sees.
type Vars struct {
	BaseImage   string // FROM of base (default debian)
	BaseTag     string // default trixie
	InstallType string // binary (Debian packages) or source
	Registry    string // may be empty
	Namespace   string // default kolla
	Tag         string // default 2025.1
}

// ImagePrefix is "<registry>/<namespace>/" (or "<namespace>/"): what a tree image's
// reference starts with.
func (v Vars) ImagePrefix() string {
	p := v.Namespace + "/"
	if v.Registry != "" {
		p = strings.TrimSuffix(v.Registry, "/") + "/" + p
	}
	return p
}

// Ref is the full reference of a tree image.
func (v Vars) Ref(image string) string { return v.ImagePrefix() + image + ":" + v.Tag }

// Override is a parsed --template-override file: blocks that replace the tree's
// blocks of the same name (header/footer or any other), and package lists given
// as blocks named <image>_packages_append / <image>_packages_remove whose content
// is whitespace-separated package names.
type Override struct {
	Path   string
	src    string
	blocks map[string]bool // non-package blocks it defines
	Append map[string][]string
	Remove map[string][]string
}

var (
	overrideBlockRE = regexp.MustCompile(`(?s)\{%-?\s*block\s+([A-Za-z0-9_]+)\s*-?%\}(.*?)\{%-?\s*endblock(?:\s+[A-Za-z0-9_]+)?\s*-?%\}`)
	extendsRE       = regexp.MustCompile(`^\s*\{%-?\s*extends\s+parent_template\s*-?%\}`)
	commentRE       = regexp.MustCompile(`(?s)\{#.*?#\}`)
)

// LoadOverride reads and checks a template-override file against the tree: its
// syntax, and that every block it defines belongs to an image of the tree.
func (t *Tree) LoadOverride(path string) (*Override, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("template override: %w", err)
	}
	src := string(data)
	// Kolla's overrides start with {% extends parent_template %}; koala adds the
	// extends itself, so blank it out (keeping line numbers).
	if m := extendsRE.FindStringIndex(src); m != nil {
		src = src[:m[0]] + strings.Repeat(" ", m[1]-m[0]) + src[m[1]:]
	}
	o := &Override{Path: path, src: src, blocks: map[string]bool{}, Append: map[string][]string{}, Remove: map[string][]string{}}
	if err := template.New().Check(path, src); err != nil {
		return nil, fmt.Errorf("template override: %w", err)
	}
	var errs []string
	lineOf := func(off int) int { return 1 + strings.Count(src[:off], "\n") }
	rest := overrideBlockRE.ReplaceAllStringFunc(src, func(s string) string { return strings.Repeat(" ", len(s)) })
	rest = commentRE.ReplaceAllStringFunc(rest, func(s string) string { return strings.Repeat(" ", len(s)) })
	if i := strings.IndexFunc(rest, func(r rune) bool { return r != ' ' && r != '\n' && r != '\t' && r != '\r' }); i >= 0 {
		errs = append(errs, fmt.Sprintf("%s:%d: text outside {%% block %%}: an override holds only blocks (and {%% extends parent_template %%})", path, lineOf(i)))
	}
	for _, m := range overrideBlockRE.FindAllStringSubmatchIndex(src, -1) {
		name, body := src[m[2]:m[3]], src[m[4]:m[5]]
		line := lineOf(m[0])
		if img, list, ok := t.packageBlock(name); ok {
			if img == "" {
				errs = append(errs, fmt.Sprintf("%s:%d: block %s: no image %q in the tree", path, line, name, strings.TrimSuffix(strings.TrimSuffix(name, "_packages_append"), "_packages_remove")))
				continue
			}
			if list == "append" {
				o.Append[img] = append(o.Append[img], strings.Fields(body)...)
			} else {
				o.Remove[img] = append(o.Remove[img], strings.Fields(body)...)
			}
			continue
		}
		if _, ok := t.Blocks[name]; !ok {
			errs = append(errs, fmt.Sprintf("%s:%d: block %s: no image of the tree declares it (blocks are <image>_header, <image>_footer, <image>_packages_append, <image>_packages_remove with - in image names written _)", path, line, name))
			continue
		}
		o.blocks[name] = true
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("template override has %d error(s):\n  %s", len(errs), strings.Join(errs, "\n  "))
	}
	return o, nil
}

// packageBlock recognises <image>_packages_append/_remove; img is "" when the
// name has that shape but no such image exists.
func (t *Tree) packageBlock(block string) (img, list string, ok bool) {
	for _, l := range []string{"append", "remove"} {
		if base, found := strings.CutSuffix(block, "_packages_"+l); found {
			for name := range t.Images {
				if strings.ReplaceAll(name, "-", "_") == base {
					return name, l, true
				}
			}
			return "", l, true
		}
	}
	return "", "", false
}

// Rendered is an image's rendered Dockerfile and what its FROM says.
type Rendered struct {
	Name       string
	Dockerfile []byte
	From       string // the FROM reference
	FromLine   int
	Parent     string // tree image the FROM names; "" for an external image
}

// Renderer renders images of a tree with one set of variables and an optional
// override, through pkg/template (koala's one pongo2 set-up).
type Renderer struct {
	tree *Tree
	vars Vars
	ov   *Override
	eng  *template.Engine
}

// virtChild is the virtual template an override becomes: the override's
// blocks, extending the image's template.
const virtChild = "__koala__/child/"

// NewRenderer prepares rendering; ov may be nil.
func (t *Tree) NewRenderer(v Vars, ov *Override) *Renderer {
	r := &Renderer{tree: t, vars: v, ov: ov}
	r.eng = template.NewWithLoader(treeLoader{r})
	return r
}

// treeLoader resolves every name from the tree's root, and serves the
// virtual override template.
type treeLoader struct{ r *Renderer }

func (l treeLoader) Abs(_, name string) string { return name }

func (l treeLoader) Get(name string) (io.Reader, error) {
	if img, ok := strings.CutPrefix(name, virtChild); ok {
		// Same line numbers as the override file: the extends goes on line 1.
		return strings.NewReader(`{% extends "` + l.r.tree.Images[img].Template + `" %}` + l.r.ov.src), nil
	}
	return l.r.tree.open(name)
}

// Render renders one image and reads its FROM.
func (r *Renderer) Render(name string) (*Rendered, error) {
	img, ok := r.tree.Images[name]
	if !ok {
		return nil, fmt.Errorf("no image %q in the tree %s", name, r.tree.Root)
	}
	file := img.Template
	if r.ov != nil {
		file = virtChild + name
	}
	out, err := r.eng.RenderFile(file, r.context(name))
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", name, r.renameErr(err))
	}
	rd := &Rendered{Name: name, Dockerfile: tidy([]byte(out))}
	sc := bufio.NewScanner(bytes.NewReader(rd.Dockerfile))
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && strings.EqualFold(f[0], "FROM") {
			rd.From, rd.FromLine = f[1], n
			if strings.HasPrefix(f[1], "--") && len(f) >= 3 {
				rd.From = f[2]
			}
			break
		}
	}
	if rd.From == "" {
		return nil, fmt.Errorf("%s: rendered Dockerfile has no FROM", r.tree.where(img.Template))
	}
	prefix, suffix := r.vars.ImagePrefix(), ":"+r.vars.Tag
	if strings.HasPrefix(rd.From, prefix) && strings.HasSuffix(rd.From, suffix) {
		parent := strings.TrimSuffix(strings.TrimPrefix(rd.From, prefix), suffix)
		if _, ok := r.tree.Images[parent]; !ok {
			return nil, fmt.Errorf("%s: FROM %s: missing parent: no image %q in the tree %s", r.tree.where(img.Template), rd.From, parent, r.tree.Root)
		}
		rd.Parent = parent
	}
	return rd, nil
}

func (r *Renderer) context(name string) map[string]any {
	v := r.vars
	return map[string]any{
		"image_name":   name,
		"base_image":   v.BaseImage,
		"base_tag":     v.BaseTag,
		"install_type": v.InstallType,
		"registry":     v.Registry,
		"namespace":    v.Namespace,
		"tag":          v.Tag,
		"image_prefix": v.ImagePrefix(),
		// packages("<image>", "pkg pkg ...", ...) -> the packages, space-separated,
		// with the override's <image>_packages_append added and _remove taken out.
		"packages": template.Func(func(args []any, _ map[string]any) (any, error) {
			if len(args) == 0 {
				return nil, fmt.Errorf(`packages: want packages("<image>", "pkg ...")`)
			}
			image := fmt.Sprint(args[0])
			var lists []string
			for _, a := range args[1:] {
				lists = append(lists, fmt.Sprint(a))
			}
			return strings.Join(r.packages(image, lists), " "), nil
		}),
		// uid("<user>") -> Kolla's fixed UID (= GID) from users.yml.
		"uid": template.Func(func(args []any, _ map[string]any) (any, error) {
			if len(args) != 1 {
				return nil, fmt.Errorf(`uid: want uid("<user>")`)
			}
			user := fmt.Sprint(args[0])
			id, ok := r.tree.Users[user]
			if !ok {
				return nil, fmt.Errorf("user %q has no fixed UID in %s: add it there", user, r.tree.where("users.yml"))
			}
			return id, nil
		}),
	}
}

// packages applies the override's lists for image to the template's lists.
func (r *Renderer) packages(image string, lists []string) []string {
	drop := map[string]bool{}
	if r.ov != nil {
		for _, p := range r.ov.Remove[image] {
			drop[p] = true
		}
		lists = append(lists, r.ov.Append[image]...)
	}
	var out []string
	seen := map[string]bool{}
	for _, l := range lists {
		for _, p := range strings.Fields(l) {
			if !seen[p] && !drop[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// renameErr makes template names in errors point at real files: the tree's
// files with the tree's root, the virtual override template as the override.
func (r *Renderer) renameErr(err error) error {
	var te *template.Error
	if errors.As(err, &te) {
		switch {
		case strings.HasPrefix(te.Name, virtChild) && r.ov != nil:
			te.Name = r.ov.Path
		case te.Name != "" && !strings.HasPrefix(te.Name, "__koala__"):
			te.Name = r.tree.where(te.Name)
		}
	}
	return err
}

// tidy drops trailing spaces and runs of blank lines left by template tags.
func tidy(b []byte) []byte {
	var out bytes.Buffer
	blank := 0
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimRight(l, " \t")
		if l == "" {
			blank++
			if blank > 1 || out.Len() == 0 {
				continue
			}
		} else {
			blank = 0
		}
		out.WriteString(l)
		out.WriteByte('\n')
	}
	return append(bytes.TrimRight(out.Bytes(), "\n"), '\n')
}
