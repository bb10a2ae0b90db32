package pongo2

// koala: the Python methods Ansible templates call on values:
// d.items(), d.get('k', 'x'), s.split(','), s.startswith('x'), ...

import (
	"fmt"
	"strings"
)

// callMethod calls the built-in method name on x. found is false when x has
// no such method.
func callMethod(x any, name string, args []any) (out any, found bool, err error) {
	argc := func(lo, hi int) error {
		if len(args) < lo || len(args) > hi {
			return fmt.Errorf("takes %d to %d arguments, got %d", lo, hi, len(args))
		}
		return nil
	}
	strArg := func(i int) (string, error) {
		s, ok := args[i].(string)
		if !ok {
			return "", fmt.Errorf("argument %d must be a string, not %s", i+1, TypeName(args[i]))
		}
		return s, nil
	}
	if m, ok := asMap(x); ok {
		switch name {
		case "items":
			out := make([]any, 0, len(m))
			for _, k := range SortedKeys(m) {
				out = append(out, []any{k, m[k]})
			}
			return out, true, argc(0, 0)
		case "keys":
			out := make([]any, 0, len(m))
			for _, k := range SortedKeys(m) {
				out = append(out, k)
			}
			return out, true, argc(0, 0)
		case "values":
			out := make([]any, 0, len(m))
			for _, k := range SortedKeys(m) {
				out = append(out, m[k])
			}
			return out, true, argc(0, 0)
		case "get":
			if err := argc(1, 2); err != nil {
				return nil, true, err
			}
			if v, ok := m[Str(args[0])]; ok {
				return v, true, nil
			}
			if len(args) == 2 {
				return args[1], true, nil
			}
			return nil, true, nil
		}
		return nil, false, nil
	}
	if s, ok := x.(string); ok {
		switch name {
		case "lower":
			return strings.ToLower(s), true, argc(0, 0)
		case "upper":
			return strings.ToUpper(s), true, argc(0, 0)
		case "capitalize":
			if s == "" {
				return s, true, nil
			}
			return strings.ToUpper(s[:1]) + strings.ToLower(s[1:]), true, argc(0, 0)
		case "strip", "lstrip", "rstrip":
			if err := argc(0, 1); err != nil {
				return nil, true, err
			}
			cut := " \t\r\n"
			if len(args) == 1 {
				if cut, err = strArg(0); err != nil {
					return nil, true, err
				}
			}
			switch name {
			case "strip":
				return strings.Trim(s, cut), true, nil
			case "lstrip":
				return strings.TrimLeft(s, cut), true, nil
			}
			return strings.TrimRight(s, cut), true, nil
		case "startswith", "endswith":
			if err := argc(1, 1); err != nil {
				return nil, true, err
			}
			prefixes := args
			if l, ok := asList(args[0]); ok { // Python accepts a tuple of candidates
				prefixes = l
			}
			for _, p := range prefixes {
				ps, ok := p.(string)
				if !ok {
					return nil, true, fmt.Errorf("argument must be a string, not %s", TypeName(p))
				}
				if (name == "startswith" && strings.HasPrefix(s, ps)) || (name == "endswith" && strings.HasSuffix(s, ps)) {
					return true, true, nil
				}
			}
			return false, true, nil
		case "split", "rsplit":
			if err := argc(0, 2); err != nil {
				return nil, true, err
			}
			var parts []string
			if len(args) == 0 || args[0] == nil {
				parts = strings.Fields(s)
			} else {
				sep, err := strArg(0)
				if err != nil {
					return nil, true, err
				}
				n := -1
				if len(args) == 2 {
					if i, ok := toInt(args[1]); ok && i >= 0 {
						n = i + 1
					}
				}
				if name == "rsplit" && n > 0 {
					parts = rsplitN(s, sep, n)
				} else {
					parts = strings.SplitN(s, sep, n)
				}
			}
			out := make([]any, len(parts))
			for i, p := range parts {
				out[i] = p
			}
			return out, true, nil
		case "splitlines":
			out := []any{}
			for _, l := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
				out = append(out, strings.TrimSuffix(l, "\r"))
			}
			if s == "" {
				out = []any{}
			}
			return out, true, argc(0, 0)
		case "replace":
			if err := argc(2, 2); err != nil {
				return nil, true, err
			}
			old, err := strArg(0)
			if err != nil {
				return nil, true, err
			}
			repl, err := strArg(1)
			if err != nil {
				return nil, true, err
			}
			return strings.ReplaceAll(s, old, repl), true, nil
		case "join":
			if err := argc(1, 1); err != nil {
				return nil, true, err
			}
			l, ok := asList(args[0])
			if !ok {
				return nil, true, fmt.Errorf("argument must be a list, not %s", TypeName(args[0]))
			}
			parts := make([]string, len(l))
			for i, e := range l {
				parts[i] = Str(e)
			}
			return strings.Join(parts, s), true, nil
		case "find":
			if err := argc(1, 1); err != nil {
				return nil, true, err
			}
			sub, err := strArg(0)
			if err != nil {
				return nil, true, err
			}
			return strings.Index(s, sub), true, nil
		case "count":
			if err := argc(1, 1); err != nil {
				return nil, true, err
			}
			sub, err := strArg(0)
			if err != nil {
				return nil, true, err
			}
			return strings.Count(s, sub), true, nil
		case "isdigit":
			if s == "" {
				return false, true, nil
			}
			return strings.Trim(s, "0123456789") == "", true, argc(0, 0)
		}
		return nil, false, nil
	}
	if l, ok := asList(x); ok {
		switch name {
		case "index":
			if err := argc(1, 1); err != nil {
				return nil, true, err
			}
			for i, e := range l {
				if Equal(e, args[0]) {
					return i, true, nil
				}
			}
			return nil, true, fmt.Errorf("%s is not in list", Repr(args[0]))
		case "count":
			if err := argc(1, 1); err != nil {
				return nil, true, err
			}
			n := 0
			for _, e := range l {
				if Equal(e, args[0]) {
					n++
				}
			}
			return n, true, nil
		}
	}
	return nil, false, nil
}

// rsplitN splits s at the last n-1 occurrences of sep.
func rsplitN(s, sep string, n int) []string {
	var parts []string
	for len(parts) < n-1 {
		i := strings.LastIndex(s, sep)
		if i < 0 {
			break
		}
		parts = append([]string{s[i+len(sep):]}, parts...)
		s = s[:i]
	}
	return append([]string{s}, parts...)
}
