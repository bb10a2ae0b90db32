package pongo2

// koala: value semantics of the Jinja2 expression grammar (koala_expr.go):
// truthiness, equality, ordering, containment, attribute and item lookup, and
// Python-like printing, all over the plain Go types YAML decodes to
// (map[string]any, []any, string, int, float64, bool, nil).

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// UndefinedError is the error for using a variable, key or attribute that does
// not exist anywhere except as the input of `default` or of a test such as
// `is defined`.
type UndefinedError struct {
	Name string // the expression as written, e.g. `hostvars["node1"].ansible_host`
}

func (e *UndefinedError) Error() string {
	return fmt.Sprintf("undefined variable %q", e.Name)
}

// IsUndefined reports whether v stands for a missing variable, key or attribute.
func (v *Value) IsUndefined() bool { return v.undef != "" }

// UndefinedName is the expression that produced an undefined value, or "".
func (v *Value) UndefinedName() string { return v.undef }

func undefinedValue(name string, tok *Token) *Value {
	return &Value{undef: name, undefTok: tok}
}

// undefinedErr is the execution error for using v, an undefined value.
func undefinedErr(ctx *ExecutionContext, v *Value) *Error {
	return ctx.OrigError(&UndefinedError{Name: v.undef}, v.undefTok)
}

// Callable is the one function shape templates can call: `range(3)`,
// `lookup('env', 'HOME')`. Put one in the context or in TemplateSet.Globals.
type Callable func(args []any, kwargs map[string]any) (any, error)

// Args is the parameter a filter or test receives when it is called with more
// than one argument or with keyword arguments: `regex_replace('a', 'b')`,
// `map(attribute='name')`. With exactly one positional argument the filter
// receives that value itself, as in pongo2's `filter:arg` form.
type Args struct {
	Pos []*Value
	Kw  map[string]*Value

	ctx *ExecutionContext // where the call is, to resolve lazy values in arguments
	tok *Token
}

// Resolve resolves x if it is a lazy value (a Resolver), one level: what a
// filter reads out of an argument, e.g. hostvars[h].x in extract.
func (a *Args) Resolve(x any) (any, error) {
	if a == nil || a.ctx == nil {
		return x, nil
	}
	r, err := a.ctx.resolve(x, a.tok)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// ResolveDeep resolves every lazy value inside x.
func (a *Args) ResolveDeep(x any) (any, error) {
	if a == nil || a.ctx == nil {
		return x, nil
	}
	r, _, err := a.ctx.deepResolveAny(x, a.tok)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// With returns arguments for another filter called at the same place (map's
// filter).
func (a *Args) With(pos []any, kw map[string]any) *Args {
	out := &Args{Kw: make(map[string]*Value, len(kw))}
	if a != nil {
		out.ctx, out.tok = a.ctx, a.tok
	}
	for _, v := range pos {
		out.Pos = append(out.Pos, AsValue(v))
	}
	for k, v := range kw {
		out.Kw[k] = AsValue(v)
	}
	return out
}

// native unwraps a *Value into the plain Go value it holds.
func native(x any) any {
	if v, ok := x.(*Value); ok {
		return v.Interface()
	}
	return x
}

// toValue wraps a plain Go value, leaving a *Value as it is.
func toValue(x any) *Value {
	if v, ok := x.(*Value); ok {
		return v
	}
	return AsValue(x)
}

// asList returns x as a []any when it is a slice or array of any element type.
func asList(x any) ([]any, bool) {
	switch t := x.(type) {
	case []any:
		return t, true
	case []string:
		out := make([]any, len(t))
		for i, s := range t {
			out[i] = s
		}
		return out, true
	case nil, string, map[string]any:
		return nil, false
	}
	rv := reflect.ValueOf(x)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return nil, false
	}
	out := make([]any, rv.Len())
	for i := range out {
		out[i] = rv.Index(i).Interface()
	}
	return out, true
}

// asMap returns x as a map[string]any when it is a map of any key type
// (keys are converted with fmt).
func asMap(x any) (map[string]any, bool) {
	switch t := x.(type) {
	case map[string]any:
		return t, true
	case nil, string, []any:
		return nil, false
	}
	rv := reflect.ValueOf(x)
	if rv.Kind() != reflect.Map {
		return nil, false
	}
	out := make(map[string]any, rv.Len())
	iter := rv.MapRange()
	for iter.Next() {
		out[fmt.Sprint(iter.Key().Interface())] = iter.Value().Interface()
	}
	return out, true
}

// SortedKeys returns the keys of m in byte order: every walk over a map in a
// template goes through it, so output never depends on Go's map order.
func SortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func toFloat(x any) (float64, bool) {
	switch n := x.(type) {
	case int:
		return float64(n), true
	case float64:
		return n, true
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	case uint64:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint:
		return float64(n), true
	case float32:
		return float64(n), true
	}
	return 0, false
}

func toInt(x any) (int, bool) {
	switch n := x.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case int32:
		return int(n), true
	case uint64:
		return int(n), true
	case uint32:
		return int(n), true
	case uint:
		return int(n), true
	}
	return 0, false
}

func isNumber(x any) bool {
	if _, ok := x.(bool); ok {
		return false
	}
	_, ok := toFloat(x)
	return ok
}

// Truthy is Jinja2's truth test: none, false, 0, "" and empty lists and maps
// are false, everything else is true.
func Truthy(x any) bool {
	switch t := native(x).(type) {
	case nil:
		return false
	case bool:
		return t
	case string:
		return t != ""
	case []any:
		return len(t) > 0
	case map[string]any:
		return len(t) > 0
	}
	x = native(x)
	if f, ok := toFloat(x); ok {
		return f != 0
	}
	rv := reflect.ValueOf(x)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		return rv.Len() > 0
	case reflect.Ptr, reflect.Interface:
		return !rv.IsNil()
	}
	return true
}

// Equal is Jinja2's ==: numbers compare by value whatever their Go type,
// lists and maps compare deeply.
func Equal(a, b any) bool {
	a, b = native(a), native(b)
	if isNumber(a) && isNumber(b) {
		fa, _ := toFloat(a)
		fb, _ := toFloat(b)
		return fa == fb
	}
	if la, ok := asList(a); ok {
		lb, ok := asList(b)
		if !ok || len(la) != len(lb) {
			return false
		}
		for i := range la {
			if !Equal(la[i], lb[i]) {
				return false
			}
		}
		return true
	}
	if ma, ok := asMap(a); ok {
		mb, ok := asMap(b)
		if !ok || len(ma) != len(mb) {
			return false
		}
		for k, va := range ma {
			vb, ok := mb[k]
			if !ok || !Equal(va, vb) {
				return false
			}
		}
		return true
	}
	switch a.(type) {
	case nil, string, bool:
		return a == b
	}
	return reflect.DeepEqual(a, b)
}

// Compare orders two numbers or two strings (-1, 0, 1).
func Compare(a, b any) (int, error) {
	a, b = native(a), native(b)
	if isNumber(a) && isNumber(b) {
		fa, _ := toFloat(a)
		fb, _ := toFloat(b)
		switch {
		case fa < fb:
			return -1, nil
		case fa > fb:
			return 1, nil
		}
		return 0, nil
	}
	sa, oka := a.(string)
	sb, okb := b.(string)
	if oka && okb {
		return strings.Compare(sa, sb), nil
	}
	return 0, fmt.Errorf("cannot compare %s with %s", TypeName(a), TypeName(b))
}

// Contains is Jinja2's `in`: an element of a list, a key of a map, a substring
// of a string.
func Contains(container, item any) (bool, error) {
	container, item = native(container), native(item)
	if s, ok := container.(string); ok {
		sub, ok := item.(string)
		if !ok {
			return false, fmt.Errorf("'in <string>' needs a string on the left, not %s", TypeName(item))
		}
		return strings.Contains(s, sub), nil
	}
	if l, ok := asList(container); ok {
		for _, e := range l {
			if Equal(e, item) {
				return true, nil
			}
		}
		return false, nil
	}
	if m, ok := asMap(container); ok {
		_, found := m[Str(item)]
		return found, nil
	}
	if container == nil {
		return false, nil
	}
	return false, fmt.Errorf("'in' needs a list, map or string on the right, not %s", TypeName(container))
}

// TypeName names the type of x the way error messages talk about it.
func TypeName(x any) string {
	switch native(x).(type) {
	case nil:
		return "none"
	case string:
		return "string"
	case bool:
		return "bool"
	case int, int64, int32, uint, uint64, uint32:
		return "int"
	case float64, float32:
		return "float"
	}
	if _, ok := asList(native(x)); ok {
		return "list"
	}
	if _, ok := asMap(native(x)); ok {
		return "dict"
	}
	return fmt.Sprintf("%T", native(x))
}

// AttrGetter is a value with attributes of its own (`loop.index`).
type AttrGetter interface {
	GetAttr(name string) (any, bool)
}

// getAttr is `x.name`: a map key, a struct field or a list index.
func getAttr(x any, name string) (any, bool) {
	switch t := x.(type) {
	case map[string]any:
		v, ok := t[name]
		return v, ok
	case AttrGetter:
		return t.GetAttr(name)
	case nil:
		return nil, false
	}
	if m, ok := asMap(x); ok {
		v, ok := m[name]
		return v, ok
	}
	if i, err := strconv.Atoi(name); err == nil {
		return getItem(x, i)
	}
	rv := reflect.ValueOf(x)
	for rv.Kind() == reflect.Ptr && !rv.IsNil() {
		rv = rv.Elem()
	}
	if rv.Kind() == reflect.Struct {
		f := rv.FieldByName(name)
		if f.IsValid() && f.CanInterface() {
			return f.Interface(), true
		}
	}
	return nil, false
}

// getItem is `x[key]`: a list or string index (negative counts from the end) or
// a map key.
func getItem(x any, key any) (any, bool) {
	if m, ok := x.(map[string]any); ok {
		v, ok := m[Str(key)]
		return v, ok
	}
	if s, ok := x.(string); ok {
		i, ok := toInt(key)
		r := []rune(s)
		if !ok {
			return nil, false
		}
		if i < 0 {
			i += len(r)
		}
		if i < 0 || i >= len(r) {
			return nil, false
		}
		return string(r[i]), true
	}
	if l, ok := asList(x); ok {
		i, ok := toInt(key)
		if !ok {
			return nil, false
		}
		if i < 0 {
			i += len(l)
		}
		if i < 0 || i >= len(l) {
			return nil, false
		}
		return l[i], true
	}
	if m, ok := asMap(x); ok {
		v, ok := m[Str(key)]
		return v, ok
	}
	if s, ok := key.(string); ok {
		return getAttr(x, s)
	}
	return nil, false
}

// Str is how a value prints inside a template: strings as they are, none as
// "", booleans as True/False, lists and maps as Python would print them (map
// keys sorted).
func Str(x any) string {
	switch t := native(x).(type) {
	case nil:
		return ""
	case string:
		return t
	case bool:
		if t {
			return "True"
		}
		return "False"
	case int:
		return strconv.Itoa(t)
	case float64:
		return formatFloat(t)
	case fmt.Stringer:
		return t.String()
	}
	var b strings.Builder
	writeRepr(&b, native(x))
	return b.String()
}

// Repr prints x the way Python's repr() would (strings quoted).
func Repr(x any) string {
	var b strings.Builder
	writeRepr(&b, native(x))
	return b.String()
}

func formatFloat(f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}

func writeRepr(b *strings.Builder, x any) {
	switch t := x.(type) {
	case nil:
		b.WriteString("None")
		return
	case string:
		b.WriteByte('\'')
		b.WriteString(strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`).Replace(t))
		b.WriteByte('\'')
		return
	case bool, int, float64:
		b.WriteString(Str(t))
		return
	}
	if l, ok := asList(x); ok {
		b.WriteByte('[')
		for i, e := range l {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, e)
		}
		b.WriteByte(']')
		return
	}
	if m, ok := asMap(x); ok {
		b.WriteByte('{')
		for i, k := range SortedKeys(m) {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, k)
			b.WriteString(": ")
			writeRepr(b, m[k])
		}
		b.WriteByte('}')
		return
	}
	if f, ok := toFloat(x); ok {
		if i, ok := toInt(x); ok {
			b.WriteString(strconv.Itoa(i))
		} else {
			b.WriteString(formatFloat(f))
		}
		return
	}
	fmt.Fprint(b, x)
}

// Undefined returns an undefined value named name, for filters that test
// attributes (selectattr('x', 'defined')).
func Undefined(name string) *Value { return undefinedValue(name, nil) }

// PyFormat is Python's "%s" % args: %s %r %d %i %f %x %% with width and
// precision; the % operator on a string and the format filter.
func PyFormat(f string, args []any) (string, error) {
	var b strings.Builder
	n := 0
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			b.WriteByte(f[i])
			continue
		}
		j := i + 1
		for j < len(f) && strings.IndexByte("-+ 0#.123456789", f[j]) >= 0 {
			j++
		}
		if j == len(f) {
			return "", errors.New("incomplete format")
		}
		verb, flags := f[j], f[i+1:j]
		if verb == '%' {
			b.WriteByte('%')
			i = j
			continue
		}
		if n >= len(args) {
			return "", errors.New("not enough arguments for format string")
		}
		a := args[n]
		n++
		switch verb {
		case 's':
			fmt.Fprintf(&b, "%"+flags+"s", Str(a))
		case 'r':
			fmt.Fprintf(&b, "%"+flags+"s", Repr(a))
		case 'd', 'i':
			v, ok := toFloat(a)
			if !ok {
				return "", fmt.Errorf("%%%c needs a number, not %s", verb, TypeName(a))
			}
			fmt.Fprintf(&b, "%"+flags+"d", int(v))
		case 'f', 'e', 'g', 'x', 'X', 'o':
			v, ok := toFloat(a)
			if !ok {
				return "", fmt.Errorf("%%%c needs a number, not %s", verb, TypeName(a))
			}
			if verb == 'x' || verb == 'X' || verb == 'o' {
				fmt.Fprintf(&b, "%"+flags+string(verb), int(v))
			} else {
				fmt.Fprintf(&b, "%"+flags+string(verb), v)
			}
		default:
			return "", fmt.Errorf("unsupported format character %q", verb)
		}
		i = j
	}
	if n < len(args) {
		return "", errors.New("not all arguments converted during string formatting")
	}
	return b.String(), nil
}
