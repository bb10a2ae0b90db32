package inventory

import (
	"errors"
	"fmt"

	"gopkg.in/yaml.v3"
)

// errNotYAMLInventory marks data that is not a YAML inventory at all (not
// YAML, or not a mapping), so the INI parser gets a chance, as Ansible's
// plugin chain does.
var errNotYAMLInventory = errors.New("not a YAML inventory")

// notYAML wraps such an error without changing its message.
type notYAML struct{ err error }

func (e notYAML) Error() string        { return e.err.Error() }
func (e notYAML) Unwrap() error        { return e.err }
func (e notYAML) Is(target error) bool { return target == errNotYAMLInventory }

// parseYAML adds a YAML inventory (top-level keys are groups; each group has
// optional hosts, vars and children mappings) to inv, like Ansible's yaml plugin.
func (inv *Inventory) parseYAML(file string, data []byte) error {
	root, d, err := parseYAMLFile(file, data)
	if err != nil {
		return notYAML{err}
	}
	if root == nil {
		return notYAML{fmt.Errorf("%s: empty YAML document", file)}
	}
	root = resolve(root)
	if root.Kind != yaml.MappingNode {
		return notYAML{fmt.Errorf("%s:%d: a YAML inventory must be a mapping of groups, found a %s", file, root.Line, kindName(root))}
	}
	keys, vals, err := d.pairs(root)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k == "plugin" {
			return fmt.Errorf("%s: inventory plugin configuration files (plugin: ...) are not supported", file)
		}
	}
	for i, k := range keys {
		if _, err := inv.yamlGroup(d, k, vals[i]); err != nil {
			return err
		}
	}
	return nil
}

var yamlSections = []string{"vars", "children", "hosts"}

func (inv *Inventory) yamlGroup(d *yamlDoc, name string, n *yaml.Node) (*group, error) {
	n = resolve(n)
	if isNull(n) {
		return inv.addGroup(name), nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, d.errorf(n, "group %q must be a mapping with hosts, children and/or vars", name)
	}
	if d.active[n] {
		return nil, d.errorf(n, "group %q contains itself through an alias", name)
	}
	d.active[n] = true
	defer delete(d.active, n)
	g := inv.addGroup(name)
	keys, vals, err := d.pairs(n)
	if err != nil {
		return nil, err
	}
	for i, key := range keys {
		v := resolve(vals[i])
		known := key == "vars" || key == "children" || key == "hosts"
		if isNull(v) {
			continue
		}
		var entries []string
		var entryVals []*yaml.Node
		switch {
		case known && v.Kind == yaml.ScalarNode:
			// A bare string is allowed: "hosts: web1" means {web1: null}.
			s, err := d.value(v)
			if err != nil {
				return nil, err
			}
			str, ok := s.(string)
			if !ok {
				return nil, d.errorf(v, "%q entry of group %q must be a mapping, found %v", key, name, pyStr(s))
			}
			entries, entryVals = []string{str}, []*yaml.Node{nil}
		case v.Kind == yaml.MappingNode:
			if entries, entryVals, err = d.pairs(v); err != nil {
				return nil, err
			}
		case known:
			return nil, d.errorf(v, "%q entry of group %q must be a mapping, found a %s", key, name, kindName(v))
		default:
			inv.warnf("%s:%d: skipping key %q in group %q: it is not a mapping", d.file, v.Line, key, name)
			continue
		}
		switch key {
		case "vars":
			for j, k := range entries {
				val, err := d.value(entryVals[j])
				if err != nil {
					return nil, err
				}
				if err := inv.setGroupVar(g, k, val); err != nil {
					return nil, d.errorf(v, "%v", err)
				}
			}
		case "children":
			for j, k := range entries {
				child, err := inv.yamlGroup(d, k, entryVals[j])
				if err != nil {
					return nil, err
				}
				if err := inv.addChild(g, child); err != nil {
					at := v
					if entryVals[j] != nil {
						at = entryVals[j]
					}
					return nil, d.errorf(at, "%v", err)
				}
			}
		case "hosts":
			for j, pattern := range entries {
				if err := inv.yamlHost(d, g, pattern, v, entryVals[j]); err != nil {
					return nil, err
				}
			}
		default:
			inv.warnf("%s:%d: skipping unexpected key %q in group %q: only vars, children and hosts are valid", d.file, v.Line, key, name)
		}
	}
	return g, nil
}

func (inv *Inventory) yamlHost(d *yamlDoc, g *group, pattern string, at, vn *yaml.Node) error {
	if vn != nil {
		at = vn
	}
	names, port, err := expandHostPattern(pattern)
	if err != nil {
		return d.errorf(at, "host %q: %v", pattern, err)
	}
	var vars map[string]any
	if vn = resolve(vn); !isNull(vn) {
		if vn.Kind != yaml.MappingNode {
			return d.errorf(vn, "variables of host %q must be a mapping, found a %s", pattern, kindName(vn))
		}
		v, err := d.value(vn)
		if err != nil {
			return err
		}
		vars = v.(map[string]any)
	}
	for i, name := range names {
		h := inv.addHostPort(name, g, d.file, port)
		for k, v := range vars {
			if i > 0 {
				v = deepCopy(v) // hosts of a range must not share nested values
			}
			h.vars[k] = v
		}
	}
	return nil
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || n.Kind == yaml.ScalarNode && n.Style&yaml.TaggedStyle == 0 &&
		n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 && reYAMLNull.MatchString(n.Value)
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "list"
	case yaml.MappingNode:
		return "mapping"
	}
	return "scalar"
}
