package inventory

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/koala-stack/koala/pkg/vault"
)

// Ansible loads YAML with PyYAML, i.e. YAML 1.1 scalars: yes/no/on/off are
// booleans, 0755 is octal, 1_000 is an int, and "1e3" (no dot) is a string.
// yaml.v3 follows YAML 1.2, so plain scalars are resolved here instead.
var (
	reYAMLBool  = regexp.MustCompile(`^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$`)
	reYAMLInt   = regexp.MustCompile(`^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$`)
	reYAMLFloat = regexp.MustCompile(`^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$`)
	reYAMLNull  = regexp.MustCompile(`^(?:~|null|Null|NULL|)$`)

	reYAMLErrLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
)

// yamlDoc is a parsed YAML (or JSON) file whose scalars resolve like Ansible's.
type yamlDoc struct {
	file   string
	isJSON bool                // the file is JSON: Ansible reads it with json.loads
	budget int                 // nodes left to convert: bounds alias expansion
	active map[*yaml.Node]bool // nodes being converted: an alias to one is a loop
}

// parseYAMLFile parses data into its root node (nil for an empty document).
// `!vault` values are decrypted with the run's vault keyring.
func parseYAMLFile(file string, data []byte) (*yaml.Node, *yamlDoc, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		// yaml.v3 says "yaml: line N: msg"; say "file:N: msg" like every other error.
		if m := reYAMLErrLine.FindStringSubmatch(err.Error()); m != nil {
			return nil, nil, fmt.Errorf("%s:%s: invalid YAML: %s", file, m[1], m[2])
		}
		return nil, nil, fmt.Errorf("%s: invalid YAML: %w", file, err)
	}
	if err := vault.Default().Nodes(file, &root); err != nil {
		return nil, nil, err
	}
	d := &yamlDoc{file: file, isJSON: json.Valid(data), budget: 1 << 20, active: map[*yaml.Node]bool{}}
	n := &root
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil, d, nil
		}
		n = n.Content[0]
	}
	if n.Kind == 0 {
		return nil, d, nil
	}
	return n, d, nil
}

func (d *yamlDoc) errorf(n *yaml.Node, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", d.file, n.Line, fmt.Sprintf(format, args...))
}

// resolve follows aliases.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// value converts a node to Go values: map[string]any, []any, string, int,
// float64, bool or nil.
func (d *yamlDoc) value(n *yaml.Node) (any, error) {
	n = resolve(n)
	if n == nil {
		return nil, nil
	}
	if d.budget--; d.budget < 0 {
		return nil, d.errorf(n, "document too large (alias expansion)")
	}
	if n.Kind == yaml.SequenceNode || n.Kind == yaml.MappingNode {
		if d.active[n] {
			return nil, d.errorf(n, "recursive alias: a value contains itself")
		}
		d.active[n] = true
		defer delete(d.active, n)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return d.value(n.Content[0])
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := d.value(c)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		keys, vals, err := d.pairs(n)
		if err != nil {
			return nil, err
		}
		out := make(map[string]any, len(keys))
		for i, k := range keys {
			v, err := d.value(vals[i])
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		return out, nil
	case yaml.ScalarNode:
		return d.scalar(n)
	}
	return nil, d.errorf(n, "unsupported YAML node")
}

// pairs returns a mapping's keys (stringified as Ansible's JSON output would)
// and value nodes in document order, applying "<<" merge keys and keeping the
// last value of a duplicated key at its first position, as PyYAML does.
func (d *yamlDoc) pairs(n *yaml.Node) ([]string, []*yaml.Node, error) {
	if d.budget--; d.budget < 0 {
		return nil, nil, d.errorf(n, "document too large (alias expansion)")
	}
	var keys []string
	var vals []*yaml.Node
	index := map[string]int{}
	set := func(k string, v *yaml.Node, override bool) {
		if i, ok := index[k]; ok {
			if override {
				vals[i] = v
			}
			return
		}
		index[k] = len(keys)
		keys = append(keys, k)
		vals = append(vals, v)
	}
	// Explicit keys win over merged ones, so collect them first.
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := resolve(n.Content[i]), n.Content[i+1]
		if kn.Kind == yaml.ScalarNode && kn.Tag == "!!merge" {
			merges = append(merges, vn)
			continue
		}
		kv, err := d.value(kn)
		if err != nil {
			return nil, nil, err
		}
		k, ok := pyKeyString(kv)
		if !ok {
			return nil, nil, d.errorf(kn, "mapping keys must be scalars")
		}
		set(k, vn, true)
	}
	for _, m := range merges {
		m = resolve(m)
		var srcs []*yaml.Node
		switch m.Kind {
		case yaml.MappingNode:
			srcs = []*yaml.Node{m}
		case yaml.SequenceNode:
			for _, c := range m.Content {
				srcs = append(srcs, resolve(c))
			}
		}
		for _, s := range srcs {
			if s == nil || s.Kind != yaml.MappingNode {
				return nil, nil, d.errorf(m, "a merge key (<<) needs a mapping or a list of mappings")
			}
			if s == n || d.active[s] {
				return nil, nil, d.errorf(m, "recursive merge key (<<): a mapping merges itself")
			}
			ks, vs, err := d.pairs(s)
			if err != nil {
				return nil, nil, err
			}
			for i, k := range ks {
				set(k, vs[i], false)
			}
		}
	}
	return keys, vals, nil
}

func (d *yamlDoc) scalar(n *yaml.Node) (any, error) {
	explicit := n.Style&yaml.TaggedStyle != 0
	quoted := n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0
	if explicit {
		switch n.Tag {
		case "!!str", "!unsafe":
			return n.Value, nil
		case "!!null":
			return nil, nil
		case "!!bool", "!!int", "!!float":
			v := resolvePlain(n.Value)
			if tagOf(v) != n.Tag {
				return nil, d.errorf(n, "%q is not a valid %s", n.Value, n.Tag)
			}
			return v, nil
		default:
			return nil, d.errorf(n, "unsupported YAML tag %s", n.Tag)
		}
	}
	if quoted {
		return n.Value, nil
	}
	if d.isJSON {
		switch n.Value {
		case "true":
			return true, nil
		case "false":
			return false, nil
		case "null":
			return nil, nil
		}
		if strings.ContainsAny(n.Value, ".eE") {
			if f, err := strconv.ParseFloat(n.Value, 64); err == nil || errors.Is(err, strconv.ErrRange) {
				return f, nil
			}
		} else if i, err := strconv.ParseInt(n.Value, 10, 64); err == nil {
			return int(i), nil
		}
		return n.Value, nil
	}
	return resolvePlain(n.Value), nil
}

func tagOf(v any) string {
	switch v.(type) {
	case bool:
		return "!!bool"
	case int:
		return "!!int"
	case float64:
		return "!!float"
	case nil:
		return "!!null"
	}
	return "!!str"
}

// resolvePlain applies PyYAML's implicit resolvers to a plain scalar.
func resolvePlain(s string) any {
	switch {
	case reYAMLNull.MatchString(s):
		return nil
	case reYAMLBool.MatchString(s):
		switch s[0] {
		case 'y', 'Y', 't', 'T':
			return true
		case 'o', 'O':
			return s[1] == 'n' || s[1] == 'N'
		}
		return false
	case reYAMLInt.MatchString(s):
		if v, ok := yaml11Int(s); ok {
			return v
		}
		return s
	case reYAMLFloat.MatchString(s):
		return yaml11Float(s)
	}
	return s
}

func yaml11Int(s string) (int, bool) {
	s = strings.ReplaceAll(s, "_", "")
	sign := 1
	if s[0] == '-' || s[0] == '+' {
		if s[0] == '-' {
			sign = -1
		}
		s = s[1:]
	}
	var v int64
	var err error
	switch {
	case s == "0":
		return 0, true
	case strings.HasPrefix(s, "0b"):
		v, err = strconv.ParseInt(s[2:], 2, 64)
	case strings.HasPrefix(s, "0x"):
		v, err = strconv.ParseInt(s[2:], 16, 64)
	case s[0] == '0':
		v, err = strconv.ParseInt(s[1:], 8, 64)
	case strings.Contains(s, ":"):
		for _, part := range strings.Split(s, ":") {
			p, perr := strconv.ParseInt(part, 10, 64)
			if perr != nil || v > math.MaxInt64/60 {
				return 0, false
			}
			v = v*60 + p
		}
	default:
		v, err = strconv.ParseInt(s, 10, 64)
	}
	if err != nil {
		return 0, false
	}
	return sign * int(v), true
}

func yaml11Float(s string) float64 {
	s = strings.ToLower(strings.ReplaceAll(s, "_", ""))
	sign := 1.0
	if s[0] == '-' || s[0] == '+' {
		if s[0] == '-' {
			sign = -1
		}
		s = s[1:]
	}
	switch {
	case s == ".inf":
		return sign * math.Inf(1)
	case s == ".nan":
		return math.NaN()
	case strings.Contains(s, ":"):
		parts := strings.Split(s, ":")
		v := 0.0
		for _, part := range parts {
			p, _ := strconv.ParseFloat(part, 64)
			v = v*60 + p
		}
		return sign * v
	}
	if strings.HasSuffix(s, ".") {
		s += "0"
	}
	f, _ := strconv.ParseFloat(s, 64)
	return sign * f
}
