package template

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"math"
	"net"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/flosch/pongo2/v6"
	"gopkg.in/yaml.v3"
)

// filterFunc is a filter over native values: the piped-in value, positional
// and keyword arguments.
type filterFunc func(in any, args []any, kw map[string]any) (any, error)

// RegisterFilter adds a filter to every Engine, e.g. one of kolla-ansible's
// own. in is the piped value, args and kw the positional and keyword
// arguments, all native values with lazy variables resolved. Call it from an
// init function: the registry is not safe to change while templates run.
func RegisterFilter(name string, fn func(in any, args []any, kw map[string]any) (any, error)) {
	register(name, fn)
}

// argsFilterFunc is a filter that resolves lazy values (Engine.Lazy) in its
// arguments itself, through a, when it reads them.
type argsFilterFunc func(in any, args []any, kw map[string]any, a *pongo2.Args) (any, error)

// filterNames lists the filters this package adds (for a test of coverage).
var filterNames []string

// register adds a filter to pongo2's (global) registry. Its arguments arrive
// with lazy values resolved.
func register(name string, fn filterFunc) {
	registerArgs(name, func(in any, args []any, kw map[string]any, a *pongo2.Args) (any, error) {
		for i, v := range args {
			r, err := a.ResolveDeep(v)
			if err != nil {
				return nil, err
			}
			args[i] = r
		}
		for k, v := range kw {
			r, err := a.ResolveDeep(v)
			if err != nil {
				return nil, err
			}
			kw[k] = r
		}
		return fn(in, args, kw)
	})
}

// registerArgs adds a filter that resolves its arguments itself: extract
// and map, which are handed all of hostvars and read a few entries.
func registerArgs(name string, fn argsFilterFunc) {
	filterNames = append(filterNames, name)
	pongo2.RegisterFilterWithArgs(name, func(in, param *pongo2.Value) (*pongo2.Value, *pongo2.Error) {
		args, kw := unpackArgs(param)
		a, _ := param.Interface().(*pongo2.Args)
		out, err := fn(in.Interface(), args, kw, a)
		if err != nil {
			var pe *pongo2.Error
			if errors.As(err, &pe) {
				return nil, pe
			}
			return nil, &pongo2.Error{Sender: "filter:" + name, OrigError: fmt.Errorf("filter %s: %w", name, err)}
		}
		return pongo2.AsValue(out), nil
	}, false)
}

func unpackArgs(param *pongo2.Value) ([]any, map[string]any) {
	a, ok := param.Interface().(*pongo2.Args)
	if !ok {
		return nil, nil
	}
	args := make([]any, len(a.Pos))
	for i, v := range a.Pos {
		args[i] = v.Interface()
	}
	kw := make(map[string]any, len(a.Kw))
	for k, v := range a.Kw {
		kw[k] = v.Interface()
	}
	return args, kw
}

// arg returns positional argument i, or keyword name, or def.
func arg(args []any, kw map[string]any, i int, name string, def any) any {
	if i < len(args) {
		return args[i]
	}
	if v, ok := kw[name]; ok {
		return v
	}
	return def
}

func argString(args []any, kw map[string]any, i int, name, def string) (string, error) {
	v := arg(args, kw, i, name, def)
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("argument %s must be a string, not %s", name, pongo2.TypeName(v))
	}
	return s, nil
}

func argInt(args []any, kw map[string]any, i int, name string, def int) (int, error) {
	v := arg(args, kw, i, name, def)
	if f, ok := toFloat(v); ok && f == math.Trunc(f) {
		return int(f), nil
	}
	return 0, fmt.Errorf("argument %s must be an integer, not %s", name, pongo2.TypeName(v))
}

func needArgs(args []any, lo, hi int) error {
	if len(args) < lo || len(args) > hi {
		if lo == hi {
			return fmt.Errorf("takes %d argument(s), got %d", lo, len(args))
		}
		return fmt.Errorf("takes %d to %d arguments, got %d", lo, hi, len(args))
	}
	return nil
}

func str(v any) string { return pongo2.Str(v) }

func init() {
	pongo2.RegisterFilterWithArgs("default", defaultFilter, true)
	pongo2.RegisterFilterWithArgs("d", defaultFilter, true)
	pongo2.RegisterFilterWithArgs("mandatory", mandatoryFilter, true)

	register("bool", func(in any, args []any, kw map[string]any) (any, error) { return toBool(in), nil })
	register("int", intFilter)
	register("float", floatFilter)
	register("string", func(in any, args []any, kw map[string]any) (any, error) { return str(in), nil })
	register("lower", func(in any, args []any, kw map[string]any) (any, error) { return strings.ToLower(str(in)), nil })
	register("upper", func(in any, args []any, kw map[string]any) (any, error) { return strings.ToUpper(str(in)), nil })
	register("capitalize", func(in any, args []any, kw map[string]any) (any, error) {
		s := str(in)
		if s == "" {
			return s, nil
		}
		return strings.ToUpper(s[:1]) + strings.ToLower(s[1:]), nil
	})
	register("trim", func(in any, args []any, kw map[string]any) (any, error) { return strings.TrimSpace(str(in)), nil })
	register("replace", replaceFilter)
	register("length", lengthFilter)
	register("count", lengthFilter)
	register("first", firstFilter)
	register("last", lastFilter)
	register("join", joinFilter)
	register("split", splitFilter)
	register("list", func(in any, args []any, kw map[string]any) (any, error) { return list(in) })
	register("unique", uniqueFilter)
	register("union", setFilter("union"))
	register("difference", setFilter("difference"))
	register("intersect", setFilter("intersect"))
	register("symmetric_difference", setFilter("symmetric_difference"))
	register("sort", sortFilter)
	register("reverse", reverseFilter)
	register("min", minMaxFilter(-1))
	register("max", minMaxFilter(1))
	register("sum", sumFilter)
	register("flatten", flattenFilter)
	register("zip", zipFilter)
	register("product", productFilter)
	register("combine", combineFilter)
	register("dict2items", dict2itemsFilter)
	register("items2dict", items2dictFilter)
	register("dictsort", dictsortFilter)
	registerArgs("map", mapFilter)
	registerArgs("extract", extractFilter)
	register("select", selectFilter(true, false))
	register("reject", selectFilter(false, false))
	register("selectattr", selectFilter(true, true))
	register("rejectattr", selectFilter(false, true))
	register("ternary", ternaryFilter)
	register("to_json", jsonFilter(false))
	register("to_nice_json", jsonFilter(true))
	register("from_json", fromJSONFilter)
	register("to_yaml", yamlFilter(2))
	register("to_nice_yaml", yamlFilter(4))
	register("from_yaml", fromYAMLFilter)
	register("b64encode", func(in any, args []any, kw map[string]any) (any, error) {
		return base64.StdEncoding.EncodeToString([]byte(str(in))), nil
	})
	register("b64decode", func(in any, args []any, kw map[string]any) (any, error) {
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(str(in)))
		if err != nil {
			return nil, fmt.Errorf("not base64: %w", err)
		}
		return string(b), nil
	})
	register("regex_replace", regexReplaceFilter)
	register("regex_search", regexSearchFilter)
	register("regex_findall", regexFindallFilter)
	register("regex_escape", func(in any, args []any, kw map[string]any) (any, error) { return regexp.QuoteMeta(str(in)), nil })
	register("basename", func(in any, args []any, kw map[string]any) (any, error) { return basename(str(in)), nil })
	register("dirname", func(in any, args []any, kw map[string]any) (any, error) { return dirname(str(in)), nil })
	register("path_join", pathJoinFilter)
	register("hash", hashFilter)
	register("checksum", func(in any, args []any, kw map[string]any) (any, error) { return hashFilter(in, []any{"sha1"}, nil) })
	register("md5", func(in any, args []any, kw map[string]any) (any, error) { return hashFilter(in, []any{"md5"}, nil) })
	register("sha1", func(in any, args []any, kw map[string]any) (any, error) { return hashFilter(in, []any{"sha1"}, nil) })
	register("quote", func(in any, args []any, kw map[string]any) (any, error) { return shellQuote(str(in)), nil })
	register("indent", indentFilter)
	register("format", formatFilter)
	register("abs", func(in any, args []any, kw map[string]any) (any, error) {
		if i, ok := in.(int); ok {
			return max(i, -i), nil
		}
		f, ok := toFloat(in)
		if !ok {
			return nil, fmt.Errorf("expected a number, got %s", pongo2.TypeName(in))
		}
		return math.Abs(f), nil
	})
	register("round", roundFilter)
	register("type_debug", func(in any, args []any, kw map[string]any) (any, error) { return pongo2.TypeName(in), nil })
	register("ipwrap", ipwrapFilter)
	register("put_address_in_context", putAddressInContextFilter)
	register("ipaddr", ipaddrFilter(0))
	register("ipv4", ipaddrFilter(4))
	register("ipv6", ipaddrFilter(6))
	register("version_compare", func(in any, args []any, kw map[string]any) (any, error) { return versionTest(in, args, kw) })
}

// defaultFilter is Jinja2's default(value=”, boolean=false): the value when
// the input is undefined (or, with boolean=true, false-ish).
func defaultFilter(in, param *pongo2.Value) (*pongo2.Value, *pongo2.Error) {
	args, kw := unpackArgs(param)
	if len(args) > 2 {
		return nil, &pongo2.Error{Sender: "filter:default", OrigError: errors.New("filter default: takes at most 2 arguments (value, boolean)")}
	}
	def := arg(args, kw, 0, "default_value", "")
	boolean := pongo2.Truthy(arg(args, kw, 1, "boolean", false))
	if in.IsUndefined() || (boolean && !in.IsTrue()) {
		return pongo2.AsValue(def), nil
	}
	return in, nil
}

func mandatoryFilter(in, param *pongo2.Value) (*pongo2.Value, *pongo2.Error) {
	if in.IsUndefined() {
		args, kw := unpackArgs(param)
		msg := str(arg(args, kw, 0, "msg", fmt.Sprintf("mandatory variable %q not defined", in.UndefinedName())))
		return nil, &pongo2.Error{Sender: "filter:mandatory", OrigError: errors.New(msg)}
	}
	return in, nil
}

// intFilter is int(default=0, base=10): Jinja2 returns the default instead of
// failing on text that is not a number.
func intFilter(in any, args []any, kw map[string]any) (any, error) {
	def := arg(args, kw, 0, "default", 0)
	base, err := argInt(args, kw, 1, "base", 10)
	if err != nil {
		return nil, err
	}
	switch t := in.(type) {
	case bool:
		if t {
			return 1, nil
		}
		return 0, nil
	case string:
		s := strings.TrimSpace(t)
		if i, err := strconv.ParseInt(s, base, 64); err == nil {
			return int(i), nil
		}
		if base == 10 {
			if f, err := strconv.ParseFloat(s, 64); err == nil {
				return int(f), nil
			}
		}
		return def, nil
	}
	if f, ok := toFloat(in); ok {
		return int(f), nil
	}
	return def, nil
}

func floatFilter(in any, args []any, kw map[string]any) (any, error) {
	def := arg(args, kw, 0, "default", 0.0)
	if s, ok := in.(string); ok {
		if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
			return f, nil
		}
		return def, nil
	}
	if f, ok := toFloat(in); ok {
		return f, nil
	}
	return def, nil
}

func replaceFilter(in any, args []any, kw map[string]any) (any, error) {
	if err := needArgs(args, 2, 3); err != nil {
		return nil, err
	}
	n := -1
	if len(args) == 3 {
		var err error
		if n, err = argInt(args, kw, 2, "count", -1); err != nil {
			return nil, err
		}
	}
	return strings.Replace(str(in), str(args[0]), str(args[1]), n), nil
}

func lengthFilter(in any, args []any, kw map[string]any) (any, error) {
	// Counted in place: `groups[g] | length` is in many templates, and
	// converting a 1,000-host list to count it, once per host, made a large
	// run's cost grow with the square of its hosts.
	switch v := reflect.ValueOf(in); v.Kind() {
	case reflect.String:
		return utf8.RuneCountInString(v.String()), nil
	case reflect.Slice, reflect.Array, reflect.Map:
		return v.Len(), nil
	}
	if m, ok := dict(in); ok {
		return len(m), nil
	}
	l, err := list(in)
	return len(l), err
}

func firstFilter(in any, args []any, kw map[string]any) (any, error) {
	l, err := list(in)
	if err != nil || len(l) == 0 {
		return nil, err
	}
	return l[0], nil
}

func lastFilter(in any, args []any, kw map[string]any) (any, error) {
	l, err := list(in)
	if err != nil || len(l) == 0 {
		return nil, err
	}
	return l[len(l)-1], nil
}

func joinFilter(in any, args []any, kw map[string]any) (any, error) {
	sep, err := argString(args, kw, 0, "d", "")
	if err != nil {
		return nil, err
	}
	l, err := list(in)
	if err != nil {
		return nil, err
	}
	parts := make([]string, len(l))
	for i, e := range l {
		if a, ok := kw["attribute"]; ok {
			if e, ok = attr(e, str(a)); !ok {
				return nil, fmt.Errorf("element %d has no attribute %q", i, str(a))
			}
		}
		parts[i] = str(e)
	}
	return strings.Join(parts, sep), nil
}

func splitFilter(in any, args []any, kw map[string]any) (any, error) {
	var parts []string
	if len(args) == 0 {
		parts = strings.Fields(str(in))
	} else {
		sep, err := argString(args, kw, 0, "sep", " ")
		if err != nil {
			return nil, err
		}
		parts = strings.Split(str(in), sep)
	}
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out, nil
}

func indexOf(l []any, v any) int {
	for i, e := range l {
		if pongo2.Equal(e, v) {
			return i
		}
	}
	return -1
}

func uniqueFilter(in any, args []any, kw map[string]any) (any, error) {
	l, err := list(in)
	if err != nil {
		return nil, err
	}
	out := []any{}
	for _, e := range l {
		if indexOf(out, e) < 0 {
			out = append(out, e)
		}
	}
	return out, nil
}

// setFilter builds union/difference/intersect/symmetric_difference; results
// keep first-seen order, without duplicates, like Ansible's.
func setFilter(op string) filterFunc {
	return func(in any, args []any, kw map[string]any) (any, error) {
		if err := needArgs(args, 1, 1); err != nil {
			return nil, err
		}
		a, err := list(in)
		if err != nil {
			return nil, err
		}
		b, err := list(args[0])
		if err != nil {
			return nil, err
		}
		out := []any{}
		add := func(e any) {
			if indexOf(out, e) < 0 {
				out = append(out, e)
			}
		}
		switch op {
		case "union":
			for _, e := range append(append([]any{}, a...), b...) {
				add(e)
			}
		case "difference":
			for _, e := range a {
				if indexOf(b, e) < 0 {
					add(e)
				}
			}
		case "intersect":
			for _, e := range a {
				if indexOf(b, e) >= 0 {
					add(e)
				}
			}
		case "symmetric_difference":
			for _, e := range a {
				if indexOf(b, e) < 0 {
					add(e)
				}
			}
			for _, e := range b {
				if indexOf(a, e) < 0 {
					add(e)
				}
			}
		}
		return out, nil
	}
}

func sortFilter(in any, args []any, kw map[string]any) (any, error) {
	l, err := list(in)
	if err != nil {
		return nil, err
	}
	reverse := pongo2.Truthy(arg(args, kw, 0, "reverse", false))
	attribute := str(arg(args, kw, 2, "attribute", ""))
	out := append([]any{}, l...)
	key := func(e any) any {
		if attribute != "" {
			v, _ := attr(e, attribute)
			e = v
		}
		if s, ok := e.(string); ok && !pongo2.Truthy(arg(args, kw, 1, "case_sensitive", false)) {
			return strings.ToLower(s)
		}
		return e
	}
	var cmpErr error
	sort.SliceStable(out, func(i, j int) bool {
		c, err := pongo2.Compare(key(out[i]), key(out[j]))
		if err != nil {
			cmpErr = err
		}
		if reverse {
			return c > 0
		}
		return c < 0
	})
	return out, cmpErr
}

func reverseFilter(in any, args []any, kw map[string]any) (any, error) {
	if s, ok := in.(string); ok {
		r := []rune(s)
		for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
			r[i], r[j] = r[j], r[i]
		}
		return string(r), nil
	}
	l, err := list(in)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(l))
	for i, e := range l {
		out[len(l)-1-i] = e
	}
	return out, nil
}

func minMaxFilter(sign int) filterFunc {
	return func(in any, args []any, kw map[string]any) (any, error) {
		l, err := list(in)
		if err != nil || len(l) == 0 {
			return nil, err
		}
		best := l[0]
		for _, e := range l[1:] {
			c, err := pongo2.Compare(e, best)
			if err != nil {
				return nil, err
			}
			if c*sign > 0 {
				best = e
			}
		}
		return best, nil
	}
}

func sumFilter(in any, args []any, kw map[string]any) (any, error) {
	l, err := list(in)
	if err != nil {
		return nil, err
	}
	var total any = arg(args, kw, 1, "start", 0)
	for _, e := range l {
		if a, ok := kw["attribute"]; ok {
			e, _ = attr(e, str(a))
		}
		ti, tInt := total.(int)
		ei, eInt := e.(int)
		if tInt && eInt {
			total = ti + ei
			continue
		}
		tf, ok1 := toFloat(total)
		ef, ok2 := toFloat(e)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("cannot add %s to a sum", pongo2.TypeName(e))
		}
		total = tf + ef
	}
	return total, nil
}

func flattenFilter(in any, args []any, kw map[string]any) (any, error) {
	levels, err := argInt(args, kw, 0, "levels", -1)
	if err != nil {
		return nil, err
	}
	l, err := list(in)
	if err != nil {
		return nil, err
	}
	var flat func([]any, int) []any
	flat = func(l []any, depth int) []any {
		out := []any{}
		for _, e := range l {
			if sub, ok := e.([]any); ok && depth != 0 {
				out = append(out, flat(sub, depth-1)...)
			} else if e != nil {
				out = append(out, e)
			}
		}
		return out
	}
	return flat(l, levels), nil
}

func zipFilter(in any, args []any, kw map[string]any) (any, error) {
	lists := [][]any{}
	for _, x := range append([]any{in}, args...) {
		l, err := list(x)
		if err != nil {
			return nil, err
		}
		lists = append(lists, l)
	}
	n := len(lists[0])
	for _, l := range lists {
		n = min(n, len(l))
	}
	out := make([]any, n)
	for i := range out {
		row := make([]any, len(lists))
		for j, l := range lists {
			row[j] = l[i]
		}
		out[i] = row
	}
	return out, nil
}

// productFilter is Ansible's product (itertools.product): every combination of
// one element of each list, in order; kolla-ansible loops over
// services x files with it.
func productFilter(in any, args []any, kw map[string]any) (any, error) {
	out := []any{[]any{}}
	for _, x := range append([]any{in}, args...) {
		l, err := list(x)
		if err != nil {
			return nil, err
		}
		next := make([]any, 0, len(out)*len(l))
		for _, prefix := range out {
			for _, e := range l {
				next = append(next, append(append([]any{}, prefix.([]any)...), e))
			}
		}
		out = next
	}
	return out, nil
}

// combineFilter is Ansible's combine(*dicts, recursive=false, list_merge='replace').
func combineFilter(in any, args []any, kw map[string]any) (any, error) {
	recursive := pongo2.Truthy(kw["recursive"])
	listMerge := "replace"
	if v, ok := kw["list_merge"]; ok {
		listMerge = str(v)
	}
	base, ok := dict(in)
	if !ok {
		return nil, fmt.Errorf("expected a dict, got %s", pongo2.TypeName(in))
	}
	out := copyMap(base)
	for _, a := range args {
		if l, ok := a.([]any); ok { // combine([a, b]) as well as combine(a, b)
			for _, e := range l {
				m, ok := dict(e)
				if !ok {
					return nil, fmt.Errorf("expected dicts, got %s", pongo2.TypeName(e))
				}
				out = merge(out, m, recursive, listMerge)
			}
			continue
		}
		m, ok := dict(a)
		if !ok {
			return nil, fmt.Errorf("expected a dict, got %s", pongo2.TypeName(a))
		}
		out = merge(out, m, recursive, listMerge)
	}
	return out, nil
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func merge(a, b map[string]any, recursive bool, listMerge string) map[string]any {
	out := copyMap(a)
	for k, bv := range b {
		av, exists := out[k]
		am, aIsMap := av.(map[string]any)
		bm, bIsMap := bv.(map[string]any)
		al, aIsList := av.([]any)
		bl, bIsList := bv.([]any)
		switch {
		case exists && recursive && aIsMap && bIsMap:
			out[k] = merge(am, bm, recursive, listMerge)
		case exists && aIsList && bIsList && listMerge == "append":
			out[k] = append(append([]any{}, al...), bl...)
		case exists && aIsList && bIsList && listMerge == "prepend":
			out[k] = append(append([]any{}, bl...), al...)
		default:
			out[k] = bv
		}
	}
	return out
}

func dict2itemsFilter(in any, args []any, kw map[string]any) (any, error) {
	m, ok := dict(in)
	if !ok {
		return nil, fmt.Errorf("expected a dict, got %s", pongo2.TypeName(in))
	}
	kn, err := argString(args, kw, 0, "key_name", "key")
	if err != nil {
		return nil, err
	}
	vn, err := argString(args, kw, 1, "value_name", "value")
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, map[string]any{kn: k, vn: m[k]})
	}
	return out, nil
}

func items2dictFilter(in any, args []any, kw map[string]any) (any, error) {
	l, err := list(in)
	if err != nil {
		return nil, err
	}
	kn, err := argString(args, kw, 0, "key_name", "key")
	if err != nil {
		return nil, err
	}
	vn, err := argString(args, kw, 1, "value_name", "value")
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, len(l))
	for i, e := range l {
		m, ok := dict(e)
		if !ok {
			return nil, fmt.Errorf("element %d is %s, not a dict", i, pongo2.TypeName(e))
		}
		k, ok1 := m[kn]
		v, ok2 := m[vn]
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("element %d lacks %q or %q", i, kn, vn)
		}
		out[str(k)] = v
	}
	return out, nil
}

// dictsortFilter is Jinja2's dictsort(case_sensitive=false, by='key',
// reverse=false): the [key, value] pairs of a map, sorted.
func dictsortFilter(in any, args []any, kw map[string]any) (any, error) {
	m, ok := dict(in)
	if !ok {
		return nil, fmt.Errorf("expected a dict, got %s", pongo2.TypeName(in))
	}
	by, err := argString(args, kw, 1, "by", "key")
	if err != nil {
		return nil, err
	}
	if by != "key" && by != "value" {
		return nil, fmt.Errorf("by must be 'key' or 'value', not %q", by)
	}
	pairs := make([]any, 0, len(m))
	for _, k := range sortedKeys(m) {
		pairs = append(pairs, []any{k, m[k]})
	}
	if by == "value" {
		return sortFilter(pairs, nil, map[string]any{"attribute": "1", "reverse": arg(args, kw, 2, "reverse", false)})
	}
	if pongo2.Truthy(arg(args, kw, 2, "reverse", false)) {
		return reverseFilter(pairs, nil, nil)
	}
	return pairs, nil
}

// applyFilter runs another filter by name on a native value (for map()).
func applyFilter(name string, in any, args []any, kw map[string]any, a *pongo2.Args) (any, error) {
	if !pongo2.HasFilter(name) {
		return nil, fmt.Errorf("filter %q does not exist", name)
	}
	out, err := pongo2.ApplyFilter(name, pongo2.AsValue(in), pongo2.AsValue(a.With(args, kw)))
	if err != nil {
		return nil, err.OrigError
	}
	return out.Interface(), nil
}

func toArgs(args []any, kw map[string]any) *pongo2.Args {
	a := &pongo2.Args{Kw: map[string]*pongo2.Value{}}
	for _, v := range args {
		a.Pos = append(a.Pos, pongo2.AsValue(v))
	}
	for k, v := range kw {
		a.Kw[k] = pongo2.AsValue(v)
	}
	return a
}

// mapFilter is map(attribute='x', default=...) or map('filter', args...).
func mapFilter(in any, args []any, kw map[string]any, a *pongo2.Args) (any, error) {
	l, err := list(in)
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(l))
	if at, ok := kw["attribute"]; ok {
		def, err := a.ResolveDeep(kw["default"])
		if err != nil {
			return nil, err
		}
		_, hasDef := kw["default"]
		for i, e := range l {
			v, ok := attr(e, str(at))
			if !ok {
				if !hasDef {
					return nil, fmt.Errorf("element %d has no attribute %q (add default=...)", i, str(at))
				}
				v = def
			}
			out = append(out, v)
		}
		return out, nil
	}
	if len(args) == 0 {
		return nil, errors.New("needs a filter name or attribute='...'")
	}
	name := str(args[0])
	for _, e := range l {
		v, err := applyFilter(name, e, args[1:], kw, a)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// extractFilter is Ansible's extract(container, morekeys): container[in],
// then each of morekeys in turn; `groups.x | map('extract', hostvars, 'ansible_host')`.
func extractFilter(in any, args []any, kw map[string]any, a *pongo2.Args) (any, error) {
	if err := needArgs(args, 1, 2); err != nil {
		return nil, err
	}
	keys := []any{in}
	if len(args) == 2 {
		if l, ok := args[1].([]any); ok {
			keys = append(keys, l...)
		} else {
			keys = append(keys, args[1])
		}
	}
	v := args[0]
	for _, k := range keys {
		k, err := a.ResolveDeep(k)
		if err != nil {
			return nil, err
		}
		next, ok := index(v, k)
		if !ok {
			return nil, fmt.Errorf("no key %s in %s", pongo2.Repr(k), pongo2.TypeName(v))
		}
		if v, err = a.Resolve(next); err != nil {
			return nil, err
		}
	}
	return a.ResolveDeep(v)
}

func index(v, k any) (any, bool) {
	if m, ok := dict(v); ok {
		e, ok := m[str(k)]
		return e, ok
	}
	if l, ok := v.([]any); ok {
		if f, ok := toFloat(k); ok && int(f) >= 0 && int(f) < len(l) {
			return l[int(f)], true
		}
	}
	return nil, false
}

// selectFilter builds select/reject (test on the element) and
// selectattr/rejectattr (test on an attribute of it). Without a test name
// the element's truth is the test.
func selectFilter(keep, onAttr bool) filterFunc {
	return func(in any, args []any, kw map[string]any) (any, error) {
		l, err := list(in)
		if err != nil {
			return nil, err
		}
		if onAttr && len(args) == 0 {
			return nil, errors.New("needs an attribute name")
		}
		var attribute string
		if onAttr {
			attribute, args = str(args[0]), args[1:]
		}
		test := ""
		if len(args) > 0 {
			test, args = str(args[0]), args[1:]
		}
		out := []any{}
		for _, e := range l {
			subject := pongo2.AsValue(e)
			if onAttr {
				v, ok := attr(e, attribute)
				if ok {
					subject = pongo2.AsValue(v)
				} else {
					subject = pongo2.Undefined(attribute)
				}
			}
			var pass bool
			if test == "" {
				if subject.IsUndefined() {
					return nil, fmt.Errorf("an element has no attribute %q", attribute)
				}
				pass = subject.IsTrue()
			} else {
				r, err := pongo2.ApplyTest(test, subject, toArgs(args, nil))
				if err != nil {
					return nil, err
				}
				pass = r.IsTrue()
			}
			if pass == keep {
				out = append(out, e)
			}
		}
		return out, nil
	}
}

func ternaryFilter(in any, args []any, kw map[string]any) (any, error) {
	if err := needArgs(args, 2, 3); err != nil {
		return nil, err
	}
	if in == nil && len(args) == 3 {
		return args[2], nil
	}
	if pongo2.Truthy(in) {
		return args[0], nil
	}
	return args[1], nil
}

// jsonFilter is to_json (Python's compact separators ", " and ": ") or
// to_nice_json (indent=4); both sort keys and do not escape HTML.
func jsonFilter(nice bool) filterFunc {
	return func(in any, args []any, kw map[string]any) (any, error) {
		indent := 0
		if nice {
			var err error
			if indent, err = argInt(args, kw, 0, "indent", 4); err != nil {
				return nil, err
			}
		}
		var b bytes.Buffer
		if err := writeJSON(&b, in, indent, 0); err != nil {
			return nil, err
		}
		return b.String(), nil
	}
}

func writeJSON(b *bytes.Buffer, v any, indent, level int) error {
	nl := func(l int) {
		if indent > 0 {
			b.WriteByte('\n')
			b.WriteString(strings.Repeat(" ", indent*l))
		}
	}
	sep := ", "
	if indent > 0 {
		sep = ","
	}
	switch t := v.(type) {
	case nil:
		b.WriteString("null")
		return nil
	case string:
		enc := json.NewEncoder(b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(t); err != nil {
			return err
		}
		b.Truncate(b.Len() - 1) // Encode's newline
		return nil
	case bool:
		b.WriteString(strconv.FormatBool(t))
		return nil
	case int:
		b.WriteString(strconv.Itoa(t))
		return nil
	case float64:
		if math.IsInf(t, 0) || math.IsNaN(t) {
			return fmt.Errorf("cannot encode %v as JSON", t)
		}
		s := strconv.FormatFloat(t, 'f', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
		b.WriteString(s)
		return nil
	}
	if pongo2.TypeName(v) == "list" {
		l, _ := list(v)
		if len(l) == 0 {
			b.WriteString("[]")
			return nil
		}
		b.WriteByte('[')
		for i, e := range l {
			if i > 0 {
				b.WriteString(sep)
			}
			nl(level + 1)
			if err := writeJSON(b, e, indent, level+1); err != nil {
				return err
			}
		}
		nl(level)
		b.WriteByte(']')
		return nil
	}
	if m, ok := dict(v); ok {
		if len(m) == 0 {
			b.WriteString("{}")
			return nil
		}
		b.WriteByte('{')
		for i, k := range sortedKeys(m) {
			if i > 0 {
				b.WriteString(sep)
			}
			nl(level + 1)
			if err := writeJSON(b, k, indent, level+1); err != nil {
				return err
			}
			b.WriteString(": ")
			if err := writeJSON(b, m[k], indent, level+1); err != nil {
				return err
			}
		}
		nl(level)
		b.WriteByte('}')
		return nil
	}
	if f, ok := toFloat(v); ok {
		return writeJSON(b, f, indent, level)
	}
	if s, ok := v.(fmt.Stringer); ok {
		return writeJSON(b, s.String(), indent, level)
	}
	return fmt.Errorf("cannot encode %s as JSON", pongo2.TypeName(v))
}

func fromJSONFilter(in any, args []any, kw map[string]any) (any, error) {
	var out any
	d := json.NewDecoder(strings.NewReader(str(in)))
	d.UseNumber()
	if err := d.Decode(&out); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	return normalizeJSON(out), nil
}

// normalizeJSON turns json.Number into int when it is whole, else float64.
func normalizeJSON(v any) any {
	switch t := v.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return int(i)
		}
		f, _ := t.Float64()
		return f
	case []any:
		for i := range t {
			t[i] = normalizeJSON(t[i])
		}
	case map[string]any:
		for k := range t {
			t[k] = normalizeJSON(t[k])
		}
	}
	return v
}

// yamlFilter is to_yaml (indent 2) and to_nice_yaml (indent 4): block style,
// keys sorted. Ansible's to_yaml would use flow style for innermost
// collections; koala does not.
func yamlFilter(defIndent int) filterFunc {
	return func(in any, args []any, kw map[string]any) (any, error) {
		indent, err := argInt(args, kw, 0, "indent", defIndent)
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(indent)
		if err := enc.Encode(plain(in)); err != nil {
			return nil, fmt.Errorf("cannot encode as YAML: %w", err)
		}
		if err := enc.Close(); err != nil {
			return nil, err
		}
		return b.String(), nil
	}
}

// plain converts nested values to the types yaml.v3 encodes predictably.
func plain(v any) any {
	if s, ok := v.(fmt.Stringer); ok && v == Omit {
		return s.String()
	}
	switch pongo2.TypeName(v) {
	case "list":
		l, _ := list(v)
		out := make([]any, len(l))
		for i, e := range l {
			out[i] = plain(e)
		}
		return out
	case "dict":
		m, _ := dict(v)
		out := make(map[string]any, len(m))
		for k, e := range m {
			out[k] = plain(e)
		}
		return out
	}
	return v
}

func fromYAMLFilter(in any, args []any, kw map[string]any) (any, error) {
	var out any
	if err := yaml.Unmarshal([]byte(str(in)), &out); err != nil {
		return nil, fmt.Errorf("not YAML: %w", err)
	}
	return out, nil
}

var regexCache sync.Map // pattern + flags → *regexp.Regexp

func compileRegex(pattern string, kw map[string]any) (*regexp.Regexp, error) {
	flags := ""
	if pongo2.Truthy(kw["ignorecase"]) {
		flags += "i"
	}
	if pongo2.Truthy(kw["multiline"]) {
		flags += "m"
	}
	if flags != "" {
		pattern = "(?" + flags + ")" + pattern
	}
	if re, ok := regexCache.Load(pattern); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("bad regular expression (Go RE2 syntax: no lookaround or backreferences): %w", err)
	}
	regexCache.Store(pattern, re)
	return re, nil
}

var pyBackref = regexp.MustCompile(`\\(\d+)|\\g<(\w+)>`)

// regexReplaceFilter is regex_replace(pattern, replacement=”, ignorecase=false,
// multiline=false, count=0); Python's \1 and \g<name> work in the replacement.
func regexReplaceFilter(in any, args []any, kw map[string]any) (any, error) {
	if err := needArgs(args, 1, 2); err != nil {
		return nil, err
	}
	pattern, err := argString(args, kw, 0, "pattern", "")
	if err != nil {
		return nil, err
	}
	repl, err := argString(args, kw, 1, "replacement", "")
	if err != nil {
		return nil, err
	}
	re, err := compileRegex(pattern, kw)
	if err != nil {
		return nil, err
	}
	repl = strings.ReplaceAll(repl, "$", "$$")
	repl = pyBackref.ReplaceAllString(repl, "$${$1$2}")
	count, err := argInt(nil, kw, 0, "count", 0)
	if err != nil {
		return nil, err
	}
	s := str(in)
	if count <= 0 {
		return re.ReplaceAllString(s, repl), nil
	}
	n := 0
	return re.ReplaceAllStringFunc(s, func(m string) string {
		if n++; n > count {
			return m
		}
		return re.ReplaceAllString(m, repl)
	}), nil
}

// regexSearchFilter returns the first match (or the groups named by '\\1' /
// '\\g<name>' arguments), or none.
func regexSearchFilter(in any, args []any, kw map[string]any) (any, error) {
	if len(args) < 1 {
		return nil, errors.New("needs a pattern")
	}
	re, err := compileRegex(str(args[0]), kw)
	if err != nil {
		return nil, err
	}
	m := re.FindStringSubmatch(str(in))
	if m == nil {
		return nil, nil
	}
	if len(args) == 1 {
		return m[0], nil
	}
	out := []any{}
	for _, g := range args[1:] {
		ref := pyBackref.FindStringSubmatch(str(g))
		if ref == nil {
			return nil, fmt.Errorf("group reference %q is not \\N or \\g<name>", str(g))
		}
		i := re.SubexpIndex(ref[2])
		if ref[1] != "" {
			i, _ = strconv.Atoi(ref[1])
		}
		if i < 0 || i >= len(m) {
			return nil, fmt.Errorf("no group %q in the pattern", str(g))
		}
		out = append(out, m[i])
	}
	return out, nil
}

func regexFindallFilter(in any, args []any, kw map[string]any) (any, error) {
	if err := needArgs(args, 1, 1); err != nil {
		return nil, err
	}
	re, err := compileRegex(str(args[0]), kw)
	if err != nil {
		return nil, err
	}
	out := []any{}
	for _, m := range re.FindAllStringSubmatch(str(in), -1) {
		switch len(m) {
		case 1:
			out = append(out, m[0])
		case 2:
			out = append(out, m[1])
		default:
			groups := make([]any, len(m)-1)
			for i, g := range m[1:] {
				groups[i] = g
			}
			out = append(out, groups)
		}
	}
	return out, nil
}

// basename and dirname follow Python's os.path (not Go's path): "a/b/" has
// basename "" and dirname "a/b".
func basename(p string) string { return p[strings.LastIndex(p, "/")+1:] }

func dirname(p string) string {
	i := strings.LastIndex(p, "/") + 1
	head := p[:i]
	if trimmed := strings.TrimRight(head, "/"); trimmed != "" {
		return trimmed
	}
	return head
}

func pathJoinFilter(in any, args []any, kw map[string]any) (any, error) {
	parts, err := list(in)
	if err != nil {
		return nil, err
	}
	out := ""
	for _, p := range parts {
		s := str(p)
		switch {
		case strings.HasPrefix(s, "/"):
			out = s
		case out == "" || strings.HasSuffix(out, "/"):
			out += s
		default:
			out += "/" + s
		}
	}
	return out, nil
}

func hashFilter(in any, args []any, kw map[string]any) (any, error) {
	algo, err := argString(args, kw, 0, "hashtype", "sha1")
	if err != nil {
		return nil, err
	}
	var h hash.Hash
	switch algo {
	case "md5":
		h = md5.New()
	case "sha1":
		h = sha1.New()
	case "sha224":
		h = sha256.New224()
	case "sha256":
		h = sha256.New()
	case "sha384":
		h = sha512.New384()
	case "sha512":
		h = sha512.New()
	default:
		return nil, fmt.Errorf("unknown hash type %q (md5, sha1, sha224, sha256, sha384, sha512)", algo)
	}
	h.Write([]byte(str(in)))
	return hex.EncodeToString(h.Sum(nil)), nil
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./-_") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

// indentFilter is Jinja2's indent(width=4, first=false, blank=false).
func indentFilter(in any, args []any, kw map[string]any) (any, error) {
	width := arg(args, kw, 0, "width", 4)
	pad := str(width)
	if n, ok := toFloat(width); ok {
		pad = strings.Repeat(" ", int(n))
	}
	first := pongo2.Truthy(arg(args, kw, 1, "first", false))
	blank := pongo2.Truthy(arg(args, kw, 2, "blank", false))
	lines := strings.Split(str(in), "\n")
	for i, l := range lines {
		if (i == 0 && !first) || (l == "" && !blank) {
			continue
		}
		lines[i] = pad + l
	}
	return strings.Join(lines, "\n"), nil
}

// formatFilter is Python's "%s" % args: %s %r %d %i %f %x %% with width and
// precision (the same as the % operator on a string).
func formatFilter(in any, args []any, kw map[string]any) (any, error) {
	return pongo2.PyFormat(str(in), args)
}

func roundFilter(in any, args []any, kw map[string]any) (any, error) {
	f, ok := toFloat(in)
	if !ok {
		return nil, fmt.Errorf("expected a number, got %s", pongo2.TypeName(in))
	}
	prec, err := argInt(args, kw, 0, "precision", 0)
	if err != nil {
		return nil, err
	}
	method, err := argString(args, kw, 1, "method", "common")
	if err != nil {
		return nil, err
	}
	p := math.Pow(10, float64(prec))
	switch method {
	case "common":
		return math.Round(f*p) / p, nil
	case "ceil":
		return math.Ceil(f*p) / p, nil
	case "floor":
		return math.Floor(f*p) / p, nil
	}
	return nil, fmt.Errorf("method must be common, ceil or floor, not %q", method)
}

// eachAddress applies fn to a string or to every element of a list.
func eachAddress(in any, fn func(string) (any, bool)) (any, error) {
	if l, ok := in.([]any); ok {
		out := []any{}
		for _, e := range l {
			if v, keep := fn(str(e)); keep {
				out = append(out, v)
			}
		}
		return out, nil
	}
	v, _ := fn(str(in))
	return v, nil
}

// ipwrapFilter puts IPv6 addresses in brackets (for URLs and host:port); IPv4
// addresses and names pass unchanged.
func ipwrapFilter(in any, args []any, kw map[string]any) (any, error) {
	return eachAddress(in, func(s string) (any, bool) {
		host := s
		if i := strings.IndexByte(s, '/'); i >= 0 {
			host = s[:i]
		}
		if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
			return "[" + host + "]" + s[len(host):], true
		}
		return s, true
	})
}

// putAddressInContextFilter is kolla-ansible's put_address_in_context('url'
// or 'memcache'): IPv6 in brackets for a URL, "inet6:[addr]" for memcache.
func putAddressInContextFilter(in any, args []any, kw map[string]any) (any, error) {
	if err := needArgs(args, 1, 1); err != nil {
		return nil, err
	}
	ctx := str(args[0])
	if ctx != "url" && ctx != "memcache" {
		return nil, fmt.Errorf("context must be 'url' or 'memcache', not %q", ctx)
	}
	s := str(in)
	if ip := net.ParseIP(s); ip != nil && ip.To4() == nil {
		if ctx == "memcache" {
			return "inet6:[" + s + "]", nil
		}
		return "[" + s + "]", nil
	}
	return s, nil
}

// ipaddrFilter is a small part of ansible.utils' ipaddr/ipv4/ipv6: with no
// argument it keeps valid addresses of the family (false or dropped from a
// list otherwise); 'address', 'network', 'netmask', 'prefix', 'broadcast' and
// 'cidr' query an address or CIDR.
func ipaddrFilter(family int) filterFunc {
	return func(in any, args []any, kw map[string]any) (any, error) {
		query, err := argString(args, kw, 0, "query", "")
		if err != nil {
			return nil, err
		}
		switch query {
		case "", "address", "network", "netmask", "prefix", "broadcast", "cidr":
		default:
			return nil, fmt.Errorf("query %q is not supported (address, network, netmask, prefix, broadcast, cidr)", query)
		}
		return eachAddress(in, func(s string) (any, bool) {
			ip, ipnet, err := net.ParseCIDR(s)
			if err != nil {
				if ip = net.ParseIP(s); ip == nil {
					return false, false
				}
				bits := 32
				if ip.To4() == nil {
					bits = 128
				}
				ipnet = &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}
			}
			is4 := ip.To4() != nil
			if (family == 4 && !is4) || (family == 6 && is4) {
				return false, false
			}
			ones, _ := ipnet.Mask.Size()
			switch query {
			case "address":
				return ip.String(), true
			case "network":
				return ipnet.IP.String(), true
			case "netmask":
				return net.IP(ipnet.Mask).String(), true
			case "prefix":
				return ones, true
			case "broadcast":
				b := make(net.IP, len(ipnet.IP))
				for i := range b {
					b[i] = ipnet.IP[i] | ^ipnet.Mask[i]
				}
				return b.String(), true
			case "cidr":
				return ipnet.String(), true
			}
			return s, true
		})
	}
}
