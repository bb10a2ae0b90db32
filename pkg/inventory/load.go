package inventory

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/koala-stack/koala/pkg/vault"
)

// ignoredInDir are the directory entries Ansible skips when an inventory source
// is a directory (IGNORED_ALWAYS plus the default INVENTORY_IGNORE_EXTS).
var ignoredInDir = regexp.MustCompile(`^\.|^host_vars$|^group_vars$|^vars_plugins$|` +
	`(?:\.pyc|\.pyo|\.swp|\.bak|~|\.rpm|\.md|\.txt|\.rst|\.orig|\.ini|\.cfg|\.retry)$`)

// varsExts are the extensions Ansible tries for group_vars/host_vars files.
var varsExts = []string{".yml", ".yaml", ".json"}

// Load reads inventory sources in order and merges them: INI or YAML files,
// directories of them (searched recursively, sorted, skipping what Ansible
// skips), or a comma-separated host list ("h1,h2,"). group_vars/ and host_vars/
// next to each source (in the directory itself for a directory source) are
// applied. Errors name the file and line.
func Load(sources ...string) (*Inventory, error) {
	if len(sources) == 0 {
		return nil, errors.New("no inventory source given: pass -i with an inventory file or directory")
	}
	inv := New()
	var varDirs []string
	for _, src := range sources {
		if strings.Contains(src, ",") {
			if _, err := os.Stat(src); err != nil {
				inv.parseHostList(src)
				continue
			}
		}
		abs, err := filepath.Abs(expandHome(src))
		if err != nil {
			return nil, fmt.Errorf("inventory %s: %w", src, err)
		}
		st, err := os.Stat(abs)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("inventory source %s: no such file or directory: pass an inventory file, a directory or a comma-separated host list: %w", src, err)
		}
		if err != nil {
			return nil, fmt.Errorf("inventory source %s: %w", src, err)
		}
		if st.IsDir() {
			if err := inv.loadDir(abs); err != nil {
				return nil, err
			}
			varDirs = append(varDirs, abs)
		} else {
			if err := inv.loadFile(abs); err != nil {
				return nil, err
			}
			varDirs = append(varDirs, filepath.Dir(abs))
		}
	}
	inv.reconcile()
	for _, h := range inv.hlist {
		if _, ok := inv.groups[h.name]; ok {
			inv.warnf("found both a group and a host named %q", h.name)
		}
	}
	if err := inv.loadVarsDirs(varDirs); err != nil {
		return nil, err
	}
	return inv, nil
}

func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[1:])
		}
	}
	return p
}

// parseHostList handles Ansible's host_list source: "h1,h2:2222,".
func (inv *Inventory) parseHostList(src string) {
	for _, h := range strings.Split(src, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		name, port, err := parseAddress(h)
		if err != nil || strings.Contains(name, "[") {
			name, port = h, -1
		}
		if _, ok := inv.hosts[name]; !ok {
			inv.addHostPort(name, inv.groups["ungrouped"], src, port)
		}
	}
}

func (inv *Inventory) loadDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("inventory directory %s: %w", dir, err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names) // Python sorts the byte names: same order as Go strings
	for _, name := range names {
		if ignoredInDir.MatchString(name) {
			continue
		}
		p := filepath.Join(dir, name)
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("inventory %s: %w", p, err)
		}
		if st.IsDir() {
			err = inv.loadDir(p)
		} else {
			err = inv.loadFile(p)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// loadFile parses one inventory file. Like Ansible, files without an extension
// or with .yml/.yaml/.json are tried as YAML first, then as INI.
func (inv *Inventory) loadFile(file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("inventory %s: %w", file, err)
	}
	if data, err = vault.Default().File(file, data); err != nil {
		return err
	}
	ext := filepath.Ext(file)
	yamlFirst := ext == "" || slices.Contains(varsExts, ext)
	if !yamlFirst {
		return inv.parseINI(file, data)
	}
	// A failed parse may have added part of the file: parse into a scratch copy.
	try := inv.clone()
	yerr := try.parseYAML(file, data)
	if yerr == nil {
		inv.take(try)
		return nil
	}
	try = inv.clone()
	ierr := try.parseINI(file, data)
	if ierr == nil {
		inv.take(try)
		return nil
	}
	// Report the error of the format the file most likely is.
	if ext != "" || !errors.Is(yerr, errNotYAMLInventory) {
		return yerr
	}
	return ierr
}

// clone copies the inventory structure (for a trial parse). Vars maps are
// copied shallowly: parsers only add keys.
func (inv *Inventory) clone() *Inventory {
	out := New()
	out.groups = map[string]*group{}
	out.glist = nil
	gm := map[*group]*group{}
	for _, g := range inv.glist {
		c := &group{name: g.name, vars: maps.Clone(g.vars), priority: g.priority, depth: g.depth}
		gm[g] = c
		out.groups[c.name] = c
		out.glist = append(out.glist, c)
	}
	hm := map[*host]*host{}
	for _, h := range inv.hlist {
		c := &host{name: h.name, vars: maps.Clone(h.vars)}
		hm[h] = c
		out.hosts[c.name] = c
		out.hlist = append(out.hlist, c)
	}
	for _, g := range inv.glist {
		c := gm[g]
		for _, h := range g.hosts {
			c.hosts = append(c.hosts, hm[h])
		}
		for _, x := range g.children {
			c.children = append(c.children, gm[x])
		}
		for _, x := range g.parents {
			c.parents = append(c.parents, gm[x])
		}
	}
	for _, h := range inv.hlist {
		c := hm[h]
		for _, g := range h.groups {
			c.groups = append(c.groups, gm[g])
		}
	}
	out.warnings = slices.Clone(inv.warnings)
	return out
}

// take adopts the structure parsed into a clone.
func (inv *Inventory) take(o *Inventory) {
	inv.groups, inv.glist, inv.hosts, inv.hlist, inv.warnings = o.groups, o.glist, o.hosts, o.hlist, o.warnings
}

// varsDir is the group_vars/ or host_vars/ directory of one source: for every
// name that has files, their merged variables.
type varsDir map[string]map[string]any

// loadVarsDirs reads group_vars/ and host_vars/ of every source directory, in
// source order. Files for names the inventory defines must parse; files for
// other names (maybe hosts added at run time) are read too, and skipped if broken.
func (inv *Inventory) loadVarsDirs(dirs []string) error {
	cache := map[string][2]varsDir{}
	for _, dir := range dirs {
		vd, ok := cache[dir]
		if !ok {
			var err error
			if vd[0], err = inv.readVarsDir(filepath.Join(dir, "group_vars"), func(n string) bool { _, ok := inv.groups[n]; return ok }); err != nil {
				return err
			}
			if vd[1], err = inv.readVarsDir(filepath.Join(dir, "host_vars"), func(n string) bool { _, ok := inv.hosts[n]; return ok }); err != nil {
				return err
			}
			cache[dir] = vd
		}
		inv.fileGroupVars = append(inv.fileGroupVars, vd[0])
		inv.fileHostVars = append(inv.fileHostVars, vd[1])
	}
	return nil
}

// AddPlaybookVars applies the group_vars/ and host_vars/ directories next to
// a playbook (dir is the playbook's directory), as Ansible's host_group_vars
// plugin does for the play: group_vars/all of the playbook above the
// inventory's group_vars/all, a group's file of the playbook above the
// inventory's file of that group, both below host vars; host_vars/ of the
// playbook above the inventory's host_vars/. A missing directory adds nothing.
func (inv *Inventory) AddPlaybookVars(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("playbook vars %s: %w", dir, err)
	}
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if err := inv.loadVarsDirs([]string{abs}); err != nil {
		return err
	}
	inv.merged = map[string]map[string]any{}
	return nil
}

func (inv *Inventory) readVarsDir(dir string, known func(string) bool) (varsDir, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, nil //nolint:nilerr // no such directory: nothing to add
	}
	if !st.IsDir() {
		inv.warnf("found %s that is not a directory, skipping it", dir)
		return nil, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", dir, err)
	}
	// Candidate names: every entry as it is (a host may be named node1.example.com)
	// and with a vars extension removed.
	var cands []string
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, ".") {
			continue
		}
		cands = append(cands, n)
		for _, ext := range varsExts {
			if s, ok := strings.CutSuffix(n, ext); ok && s != "" {
				cands = append(cands, s)
			}
		}
	}
	out := varsDir{}
	for _, name := range cands {
		if _, done := out[name]; done {
			continue
		}
		vars, err := loadVarsFor(dir, name)
		if err != nil {
			if known(name) {
				return nil, err
			}
			continue
		}
		if vars != nil {
			out[name] = vars
		}
	}
	return out, nil
}

// loadVarsFor finds <dir>/<name>, <name>.yml, .yaml or .json (the first that
// exists, as Ansible's find_vars_files) and merges the file or, for a
// directory, every vars file under it in sorted order.
func loadVarsFor(dir, name string) (map[string]any, error) {
	base := filepath.Join(dir, name)
	var files []string
	for _, ext := range append([]string{""}, varsExts...) {
		p := base + ext
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		if st.IsDir() {
			if files, err = varsFilesIn(p); err != nil {
				return nil, err
			}
		} else {
			files = []string{p}
		}
		break
	}
	var out map[string]any
	for _, f := range files {
		vars, err := loadVarsFile(f)
		if err != nil {
			return nil, err
		}
		if out == nil && vars != nil {
			out = map[string]any{}
		}
		for k, v := range vars {
			out[k] = v
		}
	}
	return out, nil
}

func varsFilesIn(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", dir, err)
	}
	var out []string
	for _, e := range entries { // ReadDir sorts by name
		n := e.Name()
		if strings.HasPrefix(n, ".") || strings.HasSuffix(n, "~") {
			continue
		}
		p := filepath.Join(dir, n)
		ext := filepath.Ext(n)
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		switch {
		case st.IsDir() && ext == "":
			sub, err := varsFilesIn(p)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
		case !st.IsDir() && (ext == "" || slices.Contains(varsExts, ext)):
			out = append(out, p)
		}
	}
	return out, nil
}

// loadVarsFile reads a YAML/JSON mapping of variables; an empty file gives nil.
func loadVarsFile(file string) (map[string]any, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading vars file: %w", err)
	}
	if data, err = vault.Default().File(file, data); err != nil {
		return nil, err
	}
	root, d, err := parseYAMLFile(file, data)
	if err != nil || root == nil {
		return nil, err
	}
	if resolve(root).Kind != yaml.MappingNode {
		if isNull(resolve(root)) {
			return nil, nil
		}
		return nil, d.errorf(root, "a vars file must be a mapping of variable names to values, found a %s", kindName(resolve(root)))
	}
	v, err := d.value(root)
	if err != nil {
		return nil, err
	}
	return v.(map[string]any), nil
}

// dirOf is Ansible's basedir() for inventory_dir.
func dirOf(source string) string {
	return filepath.Dir(source)
}

// Warnings returns what Ansible would print as warnings while loading (keys it
// skips, duplicate names): not errors, but worth showing.
func (inv *Inventory) Warnings() []string {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	return slices.Clone(inv.warnings)
}

func (inv *Inventory) warnf(format string, args ...any) {
	inv.warnings = append(inv.warnings, fmt.Sprintf(format, args...))
}
