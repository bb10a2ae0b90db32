package build

import (
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
)

// Selection says which images to build.
type Selection struct {
	Regexes     []string            // an image matches when any regex matches part of its name
	Profile     string              // a profile's regexes are added to Regexes
	Profiles    map[string][]string // koala-build.conf's [profiles]; DerivedProfiles for the rest
	SkipParents bool                // do not build the parents of matched images
}

// Plan is what a build will do: the rendered images in an order where parents
// come first.
type Plan struct {
	Vars      Vars
	Images    map[string]*Rendered // every rendered image (selected and their ancestors)
	Order     []string             // the images to build, parents before children
	Matched   map[string]bool      // images the selection matched
	Unmatched []string             // tree images not built, sorted
}

// NewPlan selects, renders and orders images. Nothing is built; any mistake in the
// tree, the override or the selection is an error here.
func NewPlan(t *Tree, r *Renderer, v Vars, sel Selection) (*Plan, error) {
	patterns := append([]string(nil), sel.Regexes...)
	if sel.Profile != "" {
		p, ok := sel.Profiles[sel.Profile]
		if !ok {
			derived, err := DerivedProfiles(t, r)
			if err != nil {
				return nil, err
			}
			if p, ok = derived[sel.Profile]; !ok {
				known := append(sortedKeys(sel.Profiles), sortedKeys(derived)...)
				return nil, fmt.Errorf("unknown profile %q (known: %s; add one under [profiles] in koala-build.conf)", sel.Profile, strings.Join(known, ", "))
			}
		}
		patterns = append(patterns, p...)
	}
	var res []*regexp.Regexp
	for _, p := range patterns {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("image selection %q: %w", p, err)
		}
		res = append(res, re)
	}
	pl := &Plan{Vars: v, Images: map[string]*Rendered{}, Matched: map[string]bool{}}
	for _, n := range t.Names() {
		if len(res) == 0 {
			pl.Matched[n] = true
		}
		for _, re := range res {
			if re.MatchString(n) {
				pl.Matched[n] = true
				break
			}
		}
	}
	if len(pl.Matched) == 0 {
		return nil, fmt.Errorf("no image of the tree matches %s", strings.Join(patterns, ", "))
	}
	// Render the matched images and, following their FROMs, their ancestors.
	build := map[string]bool{}
	for _, n := range sortedKeys(pl.Matched) {
		var chain []string
		for cur := n; cur != ""; {
			if i := indexOf(chain, cur); i >= 0 {
				return nil, fmt.Errorf("FROM cycle: %s", strings.Join(append(chain[i:], cur), " -> "))
			}
			chain = append(chain, cur)
			rd, ok := pl.Images[cur]
			if !ok {
				var err error
				if rd, err = r.Render(cur); err != nil {
					return nil, err
				}
				pl.Images[cur] = rd
			}
			if cur == n || !sel.SkipParents {
				build[cur] = true
			}
			cur = rd.Parent
		}
	}
	pl.Order = topo(pl.Images, build)
	for _, n := range t.Names() {
		if !build[n] {
			pl.Unmatched = append(pl.Unmatched, n)
		}
	}
	return pl, nil
}

// topo orders the images of set so that parents come first (ties by name).
func topo(imgs map[string]*Rendered, set map[string]bool) []string {
	depth := func(n string) int {
		d := 0
		for p := imgs[n].Parent; p != ""; p = imgs[p].Parent {
			d++
		}
		return d
	}
	out := sortedKeys(set)
	sort.SliceStable(out, func(i, j int) bool { return depth(out[i]) < depth(out[j]) })
	return out
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// ListImages writes the images the plan builds, one per line.
func (pl *Plan) ListImages(w io.Writer) {
	for _, n := range sortedCopy(pl.Order) {
		fmt.Fprintln(w, n)
	}
}

// ListDependencies writes the plan's images as a tree: each image under its parent.
func (pl *Plan) ListDependencies(w io.Writer) {
	in := map[string]bool{}
	for _, n := range pl.Order {
		in[n] = true
	}
	children := map[string][]string{}
	var roots []string
	for _, n := range pl.Order {
		if p := pl.Images[n].Parent; p != "" && in[p] {
			children[p] = append(children[p], n)
		} else {
			roots = append(roots, n)
		}
	}
	var walk func(n, indent string)
	walk = func(n, indent string) {
		fmt.Fprintf(w, "%s%s\n", indent, n)
		cs := sortedCopy(children[n])
		for _, c := range cs {
			walk(c, indent+"  ")
		}
	}
	for _, r := range sortedCopy(roots) {
		if p := pl.Images[r].Parent; p != "" {
			fmt.Fprintf(w, "(%s, not built)\n", p)
			walk(r, "  ")
			continue
		}
		walk(r, "")
	}
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}
