package inventory

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// internalVars are left out of ansible-inventory's output (INTERNAL_VARS).
var internalVars = []string{
	"ansible_diff_mode", "ansible_config_file", "ansible_facts", "ansible_forks",
	"ansible_inventory_sources", "ansible_limit", "ansible_playbook_python",
	"ansible_run_tags", "ansible_skip_tags", "ansible_verbosity", "ansible_version",
	"inventory_dir", "inventory_file", "inventory_hostname", "inventory_hostname_short",
	"groups", "group_names", "omit", "playbook_dir",
}

func withoutInternal(m map[string]any) map[string]any {
	for _, k := range internalVars {
		delete(m, k)
	}
	return m
}

// ListJSON returns what `ansible-inventory --list` prints, byte for byte for
// the same inventory: every group reachable from "all" with its direct hosts
// and child groups (empty ones left out), and _meta.hostvars.
func (inv *Inventory) ListJSON() ([]byte, error) {
	hostvars := map[string]any{}
	for _, h := range inv.Hosts() {
		if vars := withoutInternal(inv.HostVars(h)); len(vars) > 0 {
			hostvars[h] = vars
		}
	}
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	out := map[string]any{"_meta": map[string]any{"hostvars": hostvars}}
	seen := map[*group]bool{}
	var format func(g *group)
	format = func(g *group) {
		entry := map[string]any{}
		if g.name != "all" && len(g.hosts) > 0 {
			entry["hosts"] = stringsToAny(hostNames(g.hosts))
		}
		var children []any
		for _, c := range g.children {
			children = append(children, c.name)
			if !seen[c] {
				format(c)
				seen[c] = true
			}
		}
		if len(children) > 0 {
			entry["children"] = children
		}
		if len(entry) > 0 {
			out[g.name] = entry
		}
	}
	format(inv.groups["all"])
	return pyJSON(out), nil
}

// ListYAML returns what `ansible-inventory --list --yaml` prints (same
// structure; the YAML layout is yaml.v3's, not PyYAML's): groups nest their
// children, and each host's variables appear under the first group listing it.
func (inv *Inventory) ListYAML() ([]byte, error) {
	inv.mu.RLock()
	hostsInOrder := slices.Clone(inv.hlist)
	inv.mu.RUnlock()
	vars := map[*host]map[string]any{}
	for _, h := range hostsInOrder {
		vars[h] = withoutInternal(inv.HostVars(h.name))
	}
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	seen := map[*host]bool{}
	var format func(g *group) map[string]any
	format = func(g *group) map[string]any {
		entry := map[string]any{}
		children := map[string]any{}
		for _, c := range g.children {
			if c.name != "all" {
				maps.Copy(children, format(c))
			}
		}
		if len(children) > 0 {
			entry["children"] = children
		}
		if g.name != "all" && len(g.hosts) > 0 {
			hosts := map[string]any{}
			for _, h := range g.hosts {
				hv := map[string]any{}
				if !seen[h] {
					seen[h] = true
					hv = vars[h]
				}
				hosts[h.name] = hv
			}
			entry["hosts"] = hosts
		}
		return map[string]any{g.name: entry}
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(yamlNode(format(inv.groups["all"]))); err != nil {
		return nil, fmt.Errorf("encoding the inventory as YAML: %w", err)
	}
	return b.Bytes(), enc.Close()
}

// yamlNode builds a node tree that reads back with the same types under YAML
// 1.1 (strings such as "yes" or "1e3" are quoted, floats keep a dot).
func yamlNode(v any) *yaml.Node {
	switch x := v.(type) {
	case map[string]any:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for _, k := range slices.Sorted(maps.Keys(x)) {
			n.Content = append(n.Content, yamlNode(k), yamlNode(x[k]))
		}
		return n
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, e := range x {
			n.Content = append(n.Content, yamlNode(e))
		}
		return n
	case string:
		n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: x}
		if r, ok := resolvePlain(x).(string); !ok || r != x || strings.TrimSpace(x) != x {
			n.Style = yaml.DoubleQuotedStyle
		}
		return n
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(x)}
	case int:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(x)}
	case float64:
		s := pyFloat(x)
		switch {
		case math.IsNaN(x):
			s = ".nan"
		case math.IsInf(x, 1):
			s = ".inf"
		case math.IsInf(x, -1):
			s = "-.inf"
		case !reYAMLFloat.MatchString(s): // 1e+16 needs a dot to stay a float in YAML 1.1
			s = strconv.FormatFloat(x, 'f', -1, 64)
			if !strings.Contains(s, ".") {
				s += ".0"
			}
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: s}
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: fmt.Sprint(v), Style: yaml.DoubleQuotedStyle}
}

// HostJSON returns what `ansible-inventory --host H` prints: the host's merged
// variables. host may be a pattern that selects exactly one host.
func (inv *Inventory) HostJSON(hostName string) ([]byte, error) {
	hosts, err := inv.Match(hostName)
	if err != nil {
		return nil, err
	}
	if len(hosts) != 1 {
		return nil, fmt.Errorf("--host %q selects %d hosts: pass a single valid host", hostName, len(hosts))
	}
	return pyJSON(withoutInternal(inv.HostVars(hosts[0]))), nil
}

// Graph returns what `ansible-inventory --graph [--vars]` prints, starting at
// "all".
func (inv *Inventory) Graph(withVars bool) string {
	s, _ := inv.GraphFrom("all", withVars)
	return s
}

// GraphFrom is Graph starting at the named group.
func (inv *Inventory) GraphFrom(groupName string, withVars bool) (string, error) {
	inv.mu.RLock()
	start, ok := inv.groups[groupName]
	inv.mu.RUnlock()
	if !ok {
		return "", fmt.Errorf("--graph needs a group name; %q is not a group of this inventory", groupName)
	}
	var lines []string
	name := func(s string, depth int) string {
		if depth == 0 {
			return s
		}
		return strings.Repeat("  |", depth) + "--" + s
	}
	showVars := func(vars map[string]any, depth int) {
		for _, k := range slices.Sorted(maps.Keys(vars)) {
			lines = append(lines, name("{"+k+" = "+pyStr(vars[k])+"}", depth))
		}
	}
	var walk func(g *group, depth int)
	walk = func(g *group, depth int) {
		lines = append(lines, name("@"+g.name+":", depth))
		inv.mu.RLock()
		children := slices.Clone(g.children)
		hosts := slices.Clone(g.hosts)
		inv.mu.RUnlock()
		for _, c := range children {
			walk(c, depth+1)
		}
		if g.name != "all" {
			for _, h := range hosts {
				lines = append(lines, name(h.name, depth+1))
				if withVars {
					showVars(withoutInternal(inv.HostVars(h.name)), depth+2)
				}
			}
		}
		if withVars {
			showVars(inv.groupVars(g), depth+1)
		}
	}
	walk(start, 0)
	return strings.Join(lines, "\n"), nil
}

// groupVars is what ansible-inventory shows for a group: its inventory vars,
// its group_vars files, and a non-default ansible_group_priority.
func (inv *Inventory) groupVars(g *group) map[string]any {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	out := maps.Clone(g.vars)
	for _, src := range inv.fileGroupVars {
		maps.Copy(out, src[g.name])
	}
	if g.priority != 1 {
		out["ansible_group_priority"] = g.priority
	}
	return withoutInternal(out)
}

func stringsToAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// pyJSON encodes like Python's json.dumps(v, sort_keys=True, indent=4,
// ensure_ascii=False), as ansible-inventory prints.
func pyJSON(v any) []byte {
	var b bytes.Buffer
	writePyJSON(&b, v, 0)
	return b.Bytes()
}

func writePyJSON(b *bytes.Buffer, v any, level int) {
	indent := func(l int) { b.WriteString(strings.Repeat("    ", l)) }
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			b.WriteString("{}")
			return
		}
		keys := slices.Sorted(maps.Keys(x))
		b.WriteString("{\n")
		for i, k := range keys {
			if i > 0 {
				b.WriteString(",\n")
			}
			indent(level + 1)
			writePyString(b, k)
			b.WriteString(": ")
			writePyJSON(b, x[k], level+1)
		}
		b.WriteString("\n")
		indent(level)
		b.WriteString("}")
	case []any:
		if len(x) == 0 {
			b.WriteString("[]")
			return
		}
		b.WriteString("[\n")
		for i, e := range x {
			if i > 0 {
				b.WriteString(",\n")
			}
			indent(level + 1)
			writePyJSON(b, e, level+1)
		}
		b.WriteString("\n")
		indent(level)
		b.WriteString("]")
	case string:
		writePyString(b, x)
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case int:
		b.WriteString(strconv.Itoa(x))
	case float64:
		switch {
		case math.IsNaN(x):
			b.WriteString("NaN")
		case math.IsInf(x, 1):
			b.WriteString("Infinity")
		case math.IsInf(x, -1):
			b.WriteString("-Infinity")
		default:
			b.WriteString(pyFloat(x))
		}
	default:
		writePyString(b, fmt.Sprint(x))
	}
}

func writePyString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if r < 0x20 {
				fmt.Fprintf(b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}

// pyFloat is Python's repr() of a float: shortest round-trip digits, fixed
// notation with ".0" for exponents -4 < e <= 16, else 1e+16 style.
func pyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	sign := ""
	if math.Signbit(f) {
		sign = "-"
		f = -f
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX
	mant, expStr, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expStr)
	digits := strings.Replace(mant, ".", "", 1)
	decpt := exp + 1
	if f == 0 {
		return sign + "0.0"
	}
	if decpt <= -4 || decpt > 16 {
		m := digits[:1]
		if len(digits) > 1 {
			m += "." + digits[1:]
		}
		es := "+"
		if exp < 0 {
			es = "-"
			exp = -exp
		}
		return fmt.Sprintf("%s%se%s%02d", sign, m, es, exp)
	}
	switch {
	case decpt <= 0:
		return sign + "0." + strings.Repeat("0", -decpt) + digits
	case decpt >= len(digits):
		return sign + digits + strings.Repeat("0", decpt-len(digits)) + ".0"
	}
	return sign + digits[:decpt] + "." + digits[decpt:]
}

// pyStr is Python's str() of a value, as --graph --vars prints it. Dict keys
// come out sorted (Python would keep insertion order, which Go maps lose).
func pyStr(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return pyRepr(v)
}

func pyRepr(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case int:
		return strconv.Itoa(x)
	case float64:
		return pyFloat(x)
	case string:
		return pyReprString(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = pyRepr(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = pyReprString(k) + ": " + pyRepr(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v)
}

// pyReprString quotes like Python's repr(str).
func pyReprString(s string) string {
	q := byte('\'')
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == rune(q) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == utf8.RuneError || !strconv.IsPrint(r):
			switch {
			case r < 0x100:
				fmt.Fprintf(&b, `\x%02x`, r)
			case r < 0x10000:
				fmt.Fprintf(&b, `\u%04x`, r)
			default:
				fmt.Fprintf(&b, `\U%08x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
	return b.String()
}
