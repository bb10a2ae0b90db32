// Package configdir reads a kolla-ansible configuration directory (/etc/kolla by
// default): globals.yml, globals.d/*.yml and passwords.yml, as the layers of
// variables that sit above everything a role or inventory sets.
package configdir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/koala-stack/koala/pkg/vault"
)

// Default is the configuration directory when neither --configdir nor
// $KOLLA_CONFIG_PATH says otherwise, as in kolla-ansible.
const Default = "/etc/kolla"

// Layer is one file's variables.
type Layer struct {
	File string
	Vars map[string]any
	// Lines is the line of each top-level key, for messages.
	Lines map[string]int
}

// Dir is a loaded configuration directory.
type Dir struct {
	Path      string
	Globals   []Layer // globals.yml, then globals.d/*.yml in name order
	Passwords Layer
}

// Load reads the directory at path. passwordsFile overrides
// <path>/passwords.yml when not empty. globals.yml and passwords.yml must exist;
// globals.d is optional. Every YAML problem is reported with file and line, all
// of them at once.
func Load(path, passwordsFile string) (*Dir, error) {
	d := &Dir{Path: path}
	if passwordsFile == "" {
		passwordsFile = filepath.Join(path, "passwords.yml")
	}
	files := []string{filepath.Join(path, "globals.yml")}
	extra, err := filepath.Glob(filepath.Join(path, "globals.d", "*.yml"))
	if err != nil {
		return nil, fmt.Errorf("list %s/globals.d: %w", path, err)
	}
	sort.Strings(extra)
	files = append(files, extra...)

	var errs []error
	for _, f := range files {
		l, err := readLayer(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		d.Globals = append(d.Globals, l)
	}
	pw, err := readLayer(passwordsFile)
	if err != nil {
		errs = append(errs, err)
	}
	d.Passwords = pw
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return d, nil
}

// ExtraVars returns the layers lowest precedence first (globals.yml,
// globals.d, passwords.yml), ready to be followed by -e values.
func (d *Dir) ExtraVars() []map[string]any {
	out := make([]map[string]any, 0, len(d.Globals)+1)
	for _, l := range d.Globals {
		out = append(out, l.Vars)
	}
	return append(out, d.Passwords.Vars)
}

// MergedGlobals returns globals.yml and globals.d merged, later files winning.
func (d *Dir) MergedGlobals() map[string]any {
	out := map[string]any{}
	for _, l := range d.Globals {
		for k, v := range l.Vars {
			out[k] = v
		}
	}
	return out
}

// MissingPasswords lists the keys of want that passwords.yml lacks or leaves
// empty, sorted.
func (d *Dir) MissingPasswords(want []string) []string {
	var missing []string
	for _, k := range want {
		if v, ok := d.Passwords.Vars[k]; !ok || v == nil || v == "" {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	return missing
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func readLayer(file string) (Layer, error) {
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return Layer{}, fmt.Errorf("%s: missing (copy it from koala's templates/etc/kolla, then run `koala genpwd` for passwords.yml)", file)
	}
	if err != nil {
		return Layer{}, fmt.Errorf("%s: %w", file, err)
	}
	var vars map[string]any
	var doc yaml.Node
	err = vault.Default().UnmarshalNode(file, data, &doc)
	var verr *vault.Error
	if errors.As(err, &verr) {
		return Layer{}, err
	}
	if err == nil && len(doc.Content) > 0 {
		err = doc.Decode(&vars)
	}
	if err != nil {
		// yaml.v3 says "yaml: line N: msg"; say it the way an editor jumps to it.
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			n, _ := strconv.Atoi(m[1])
			return Layer{}, fmt.Errorf("%s:%d: %s (expected a YAML mapping of variable: value)", file, n, m[2])
		}
		return Layer{}, fmt.Errorf("%s: %w (expected a YAML mapping of variable: value)", file, err)
	}
	if vars == nil {
		vars = map[string]any{}
	}
	lines := map[string]int{}
	if len(doc.Content) == 1 && doc.Content[0].Kind == yaml.MappingNode {
		m := doc.Content[0].Content
		for i := 0; i+1 < len(m); i += 2 {
			lines[m[i].Value] = m[i].Line
		}
	}
	return Layer{File: file, Vars: vars, Lines: lines}, nil
}
