// Package plays derives the service plays of koala's lifecycle commands from
// the roles themselves, so that a service is one role directory: each service
// role says in meta/main.yml (block `koala:`) which group it runs on, which
// roles come before it and how its containers are replaced, and Generate
// writes services/site.yml, services/reconfigure.yml, services/upgrade.yml
// and services/stop.yml, which playbook/site.yml and the others import.
package plays

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Meta is the koala: block of one service role's meta/main.yml.
type Meta struct {
	Role string `yaml:"-"`
	File string `yaml:"-"` // display path of meta/main.yml
	Line int    `yaml:"-"` // line of the koala: block

	// Group is the inventory group the role's plays run on.
	Group string `yaml:"group"`
	// Enable is the variable that turns the service on (default
	// enable_<role>, dashes as underscores).
	Enable string `yaml:"enable"`
	// After names the roles whose plays come first; stop runs in reverse.
	After []string `yaml:"after"`
	// Replace is how upgrade, reconfigure and deploy-containers replace the
	// containers: "rolling" is kolla_serial hosts at a time out of haproxy
	// (tasks/rolling_replace.yml; upgrade runs tasks/upgrade.yml before it and
	// tasks/upgrade_finish.yml after, where it exists); "" leaves it to the
	// role's own tasks/<action>.yml, or to Plays.
	Replace string `yaml:"replace"`
	// Collects names a task file that this role's group runs, before the
	// role's own play, from every enabled role that has it (the
	// loadbalancer collects each service's tasks/loadbalancer.yml: its
	// haproxy frontends).
	Collects string `yaml:"collects"`
	// Ports must be free on the group's hosts before a deploy (prechecks);
	// Container is the one allowed to hold them.
	Ports []Port `yaml:"ports"`
	// Plays replace the generated plays of one command (site, reconfigure,
	// upgrade, stop) for roles whose containers need more than the generic
	// ones (Galera starts one node at a time, then finishes its bootstrap).
	Plays map[string][]Spec `yaml:"plays"`

	tasks map[string]bool // the role's task files, without .yml
}

// Port is one port a service listens on.
type Port struct {
	Port      string `yaml:"port"`
	Container string `yaml:"container"`
}

// Spec is one play of a role: tasks_from its role (none: the role itself,
// whose main.yml runs tasks/{{ kolla_action }}.yml) on Hosts (default the
// role's group), Serial hosts at a time, when When holds too.
type Spec struct {
	TasksFrom strList `yaml:"tasks_from"`
	Hosts     string  `yaml:"hosts"`
	Serial    any     `yaml:"serial"`
	When      string  `yaml:"when"`
}

// strList takes one string or a list of them.
type strList []string

func (s *strList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*s = strList{n.Value}
		return nil
	}
	var l []string
	if err := n.Decode(&l); err != nil {
		return err
	}
	*s = l
	return nil
}

// Commands are the keys of Meta.Plays: the generated playbooks.
var Commands = []string{"site", "reconfigure", "upgrade", "stop"}

// Load reads the koala: block of every role under roles (an FS whose top
// directories are roles) and returns the service roles in deploy order: every
// role after the roles it names in after:, ties by name. Roles without the
// block (generic roles such as service-config) are not services. display is
// how roles' paths are shown in errors.
func Load(roles fs.FS, display string) ([]*Meta, error) {
	entries, err := fs.ReadDir(roles, ".")
	if err != nil {
		return nil, fmt.Errorf("roles %s: %w", display, err)
	}
	var metas []*Meta
	var errs []error
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		m, err := loadMeta(roles, display, e.Name())
		if err != nil {
			errs = append(errs, err)
		} else if m != nil {
			metas = append(metas, m)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return order(metas)
}

func loadMeta(roles fs.FS, display, role string) (*Meta, error) {
	file := path.Join(role, "meta", "main.yml")
	shown := path.Join(display, file)
	data, err := fs.ReadFile(roles, file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", shown, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", shown, err)
	}
	key, block := koalaBlock(&doc)
	if block == nil {
		return nil, nil
	}
	// Re-decoded strictly: a misspelt key is an error, not a silent default.
	raw, err := yaml.Marshal(block)
	if err != nil {
		return nil, fmt.Errorf("%s:%d: %w", shown, block.Line, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	m := &Meta{}
	if err := dec.Decode(m); err != nil {
		return nil, fmt.Errorf("%s:%d: koala: %v (known keys: group, enable, after, replace, collects, ports, plays)", shown, block.Line, err)
	}
	m.Role, m.File, m.Line = role, shown, key.Line
	if m.Enable == "" {
		m.Enable = "enable_" + strings.ReplaceAll(role, "-", "_")
	}
	m.tasks = map[string]bool{}
	if ts, err := fs.ReadDir(roles, path.Join(role, "tasks")); err == nil {
		for _, t := range ts {
			if name, ok := strings.CutSuffix(t.Name(), ".yml"); ok {
				m.tasks[name] = true
			}
		}
	}
	return m, m.validate()
}

// koalaBlock is the top-level koala: key and its value, or nils.
func koalaBlock(doc *yaml.Node) (key, value *yaml.Node) {
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, nil
	}
	top := doc.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "koala" {
			return top.Content[i], top.Content[i+1]
		}
	}
	return nil, nil
}

func (m *Meta) errorf(format string, a ...any) error {
	return fmt.Errorf("%s:%d: koala: %s", m.File, m.Line, fmt.Sprintf(format, a...))
}

// validate checks what can be checked of one role alone.
func (m *Meta) validate() error {
	var errs []error
	if m.Group == "" {
		errs = append(errs, m.errorf("no group: say which inventory group the role runs on (group: %s)", m.Role))
	}
	if !m.tasks["main"] {
		errs = append(errs, m.errorf("the role has no tasks/main.yml"))
	}
	switch m.Replace {
	case "":
	case "rolling":
		if !m.tasks["rolling_replace"] {
			errs = append(errs, m.errorf("replace: rolling needs tasks/rolling_replace.yml (import service-rolling-replace with the role's services)"))
		}
	default:
		errs = append(errs, m.errorf("replace: %q is not rolling or empty", m.Replace))
	}
	for cmd, specs := range m.Plays {
		if !slices.Contains(Commands, cmd) {
			errs = append(errs, m.errorf("plays: %q is not one of %s", cmd, strings.Join(Commands, ", ")))
		}
		for _, s := range specs {
			for _, f := range s.TasksFrom {
				if !m.tasks[f] {
					errs = append(errs, m.errorf("plays: %s: tasks_from %s: the role has no tasks/%s.yml", cmd, f, f))
				}
			}
		}
	}
	for _, p := range m.Ports {
		if p.Port == "" {
			errs = append(errs, m.errorf("ports: an entry without port"))
		}
	}
	return errors.Join(errs...)
}

// order sorts metas so that every role comes after the roles it names in
// after: (Kahn's algorithm, ties by name, so the order never changes).
func order(metas []*Meta) ([]*Meta, error) {
	byName := map[string]*Meta{}
	for _, m := range metas {
		byName[m.Role] = m
	}
	var errs []error
	indeg := map[string]int{}
	next := map[string][]string{}
	for _, m := range metas {
		for _, a := range m.After {
			if byName[a] == nil {
				errs = append(errs, m.errorf("after: %s is not a service role here (known: %s)", a, strings.Join(names(metas), ", ")))
				continue
			}
			indeg[m.Role]++
			next[a] = append(next[a], m.Role)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	var ready, out []string
	for _, m := range metas {
		if indeg[m.Role] == 0 {
			ready = append(ready, m.Role)
		}
	}
	for len(ready) > 0 {
		sort.Strings(ready)
		r := ready[0]
		ready = ready[1:]
		out = append(out, r)
		for _, n := range next[r] {
			if indeg[n]--; indeg[n] == 0 {
				ready = append(ready, n)
			}
		}
	}
	if len(out) < len(metas) {
		var cyc []string
		for _, m := range metas {
			if indeg[m.Role] > 0 {
				cyc = append(cyc, m.File)
			}
		}
		return nil, fmt.Errorf("koala: after: the roles wait on each other in a cycle: %s", strings.Join(cyc, ", "))
	}
	sorted := make([]*Meta, len(out))
	for i, r := range out {
		sorted[i] = byName[r]
	}
	return sorted, nil
}

func names(metas []*Meta) []string {
	var n []string
	for _, m := range metas {
		n = append(n, m.Role)
	}
	sort.Strings(n)
	return n
}
