package template

import (
	"fmt"
	"sort"
	"strings"

	"github.com/flosch/pongo2/v6"
)

type omitType struct{}

// String is what an Omit turns into inside a larger string, where it cannot
// drop anything (Ansible prints a similar placeholder).
func (omitType) String() string { return "__omit_place_holder__" }

// Omit is the value of the template variable `omit`: Template drops a map key
// (or list element) whose value comes out as Omit, so `x | default(omit)`
// leaves an optional module argument out.
var Omit any = omitType{}

// Truthy decides a `when:`, `that:`, `until:` or `failed_when:` result. It is
// Jinja2's truth test (none, false, 0, "" and empty lists and maps are
// false), except that a string is read the way the `bool` filter reads it, so
// `when: enable_foo` with enable_foo: "no" is false as an operator expects:
// "no", "off", "false", "0", "n", "f", "none" (any case, as Ansible's
// boolean()) and "" are false; any other string is true. Inside an expression
// (`not x`, `x and y`) plain Jinja2 truthiness applies: write `x | bool`.
func Truthy(v any) bool {
	if s, ok := v.(string); ok {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "", "no", "off", "false", "0", "n", "f", "none":
			return false
		}
		return true
	}
	return pongo2.Truthy(v)
}

// toBool is the `bool` filter: Ansible's to_bool, where only "yes", "on",
// "1", "true" (any case) and 1 are true. none is false (Ansible passes it
// through, which prints as an empty string and tests false anyway).
func toBool(v any) bool {
	switch t := v.(type) {
	case bool:
		return t
	case nil:
		return false
	case string:
		switch strings.ToLower(strings.TrimSpace(t)) {
		case "yes", "on", "1", "true":
			return true
		}
		return false
	}
	if f, ok := toFloat(v); ok {
		return f == 1
	}
	return false
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint64:
		return float64(n), true
	case uint32:
		return float64(n), true
	case float64:
		return n, true
	case float32:
		return float64(n), true
	}
	return 0, false
}

// list returns v as a []any: lists as they are, maps as their sorted keys
// (as iterating a dict in Jinja2 gives its keys), strings as characters.
func list(v any) ([]any, error) {
	switch t := v.(type) {
	case []any:
		return t, nil
	case []string:
		out := make([]any, len(t))
		for i, s := range t {
			out[i] = s
		}
		return out, nil
	case string:
		out := make([]any, 0, len(t))
		for _, r := range t {
			out = append(out, string(r))
		}
		return out, nil
	case nil:
		return nil, fmt.Errorf("expected a list, got none")
	}
	if m, ok := dict(v); ok {
		out := make([]any, 0, len(m))
		for _, k := range pongo2.SortedKeys(m) {
			out = append(out, k)
		}
		return out, nil
	}
	// Other slice types, via pongo2's conversion.
	var out []any
	ok := false
	pongo2.AsValue(v).Iterate(func(idx, count int, key, value *pongo2.Value) bool {
		out = append(out, key.Interface())
		ok = true
		return true
	}, func() { ok = true })
	if ok {
		return out, nil
	}
	return nil, fmt.Errorf("expected a list, got %s", pongo2.TypeName(v))
}

// dict returns v as a map[string]any when it is a map.
func dict(v any) (map[string]any, bool) {
	if m, ok := v.(map[string]any); ok {
		return m, true
	}
	if pongo2.TypeName(v) != "dict" {
		return nil, false
	}
	out := map[string]any{}
	pongo2.AsValue(v).Iterate(func(idx, count int, key, value *pongo2.Value) bool {
		out[key.String()] = value.Interface()
		return true
	}, func() {})
	return out, true
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// attr follows a dotted attribute path ("a.b.0") into v.
func attr(v any, path string) (any, bool) {
	for _, part := range strings.Split(path, ".") {
		if m, ok := dict(v); ok {
			var found bool
			if v, found = m[part]; !found {
				return nil, false
			}
			continue
		}
		if l, ok := v.([]any); ok {
			var i int
			if _, err := fmt.Sscan(part, &i); err != nil || i < 0 || i >= len(l) {
				return nil, false
			}
			v = l[i]
			continue
		}
		return nil, false
	}
	return v, true
}
