// Package template is the one place koala sets up pongo2: the Jinja2 dialect
// roles, playbooks and Dockerfile templates are written in, the filters and
// tests they need, strict undefined variables, and a cache of parsed templates
// and expressions.
//
// pongo2 is used through a patched copy in third_party/pongo2 (see
// docs/templates.md for why and for the dialect): its expression grammar is
// Jinja2's, a missing variable is an error naming template and line, and maps
// are always walked in key order, so the same inputs render the same bytes.
package template

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/flosch/pongo2/v6"
)

// Engine renders templates and evaluates expressions. It is safe for
// concurrent use and caches what it parses by (name, source).
type Engine struct {
	set    *pongo2.TemplateSet
	loader pongo2.TemplateLoader
	tpls   sync.Map // cacheKey → *pongo2.Template
	exprs  sync.Map // cacheKey → *pongo2.Expr
}

type cacheKey struct{ name, src string }

// New returns an Engine with koala's filters, tests and globals. Rendering
// follows Ansible's Jinja2 settings: trim_blocks on (the newline after a
// block tag is dropped), lstrip_blocks off, no HTML escaping.
func New() *Engine {
	return NewWithLoader(pongo2.MustNewLocalFileSystemLoader(""))
}

// NewWithLoader is New with template files (RenderFile, include, import,
// extends) read through loader rather than from the local file system, e.g.
// an embedded tree or virtual files composed by the caller.
func NewWithLoader(loader pongo2.TemplateLoader) *Engine {
	set := pongo2.NewSet("koala", loader)
	set.Options.TrimBlocks = true
	set.Globals["range"] = pongo2.Callable(rangeFunc)
	set.Globals["omit"] = Omit
	if err := set.BanFilter("random"); err != nil { // output must not change between runs
		panic(err)
	}
	return &Engine{set: set, loader: loader}
}

// Render renders src, a template called name in error messages, with vars.
// An undefined variable is an error "name:line: undefined variable "x"".
func (e *Engine) Render(name, src string, vars map[string]any) (string, error) {
	return e.render(nil, name, src, vars)
}

func (e *Engine) render(parent *pongo2.ExecutionContext, name, src string, vars map[string]any) (string, error) {
	if !strings.Contains(src, "{") {
		return src, nil // no tag, expression or comment: nothing to parse
	}
	tpl, err := e.compile(name, src, false)
	if err != nil {
		return "", err
	}
	if parent != nil {
		out, err := tpl.ExecuteNested(parent, pongo2.Context(vars))
		if err != nil {
			return "", wrapError(name, err, false)
		}
		return out, nil
	}
	return e.execute(name, tpl, vars)
}

// RenderFile renders the template file at path; `include` and `extends`
// inside it resolve relative to it.
func (e *Engine) RenderFile(path string, vars map[string]any) (string, error) {
	// Read through the loader's idea of the path; keep the caller's name in
	// messages (include/import resolve relative to it either way).
	r, err := e.loader.Get(e.loader.Abs("", path))
	if err != nil {
		return "", fmt.Errorf("template: %w", err)
	}
	src, err := io.ReadAll(r)
	if err != nil {
		return "", fmt.Errorf("template: %s: %w", path, err)
	}
	tpl, err := e.compile(path, string(src), true)
	if err != nil {
		return "", err
	}
	return e.execute(path, tpl, vars)
}

// Check parses src without rendering it: syntax errors and unknown filters or
// tests are found before any host is touched.
func (e *Engine) Check(name, src string) error {
	_, err := e.compile(name, src, false)
	return err
}

// CheckExpr parses a bare expression (a `when:` condition) without evaluating it.
func (e *Engine) CheckExpr(name, expr string) error {
	_, err := e.compileExpr(name, expr)
	return err
}

// Eval evaluates a bare expression as written in `when:`, `that:`, `until:`
// or `failed_when:` ("x is defined and y | bool", "'a' in groups") and returns
// its native value. A `{{ }}` around the whole expression is accepted and
// ignored, as Ansible does.
func (e *Engine) Eval(name, expr string, vars map[string]any) (any, error) {
	return e.eval(nil, name, expr, vars)
}

func (e *Engine) eval(parent *pongo2.ExecutionContext, name, expr string, vars map[string]any) (any, error) {
	expr = strings.TrimSpace(expr)
	if inner, ok := singleExpression(expr); ok {
		expr = inner
	}
	x, err := e.compileExpr(name, expr)
	if err != nil {
		return nil, err
	}
	var v *pongo2.Value
	if parent != nil {
		v, err = x.EvaluateNested(parent, pongo2.Context(vars))
	} else {
		v, err = x.Evaluate(pongo2.Context(vars))
	}
	if err != nil {
		return nil, wrapError(name, err, true)
	}
	return v.Interface(), nil
}

// Template templates v deeply: in maps ([string]any) and lists ([]any) every
// string is templated; a string that is exactly one "{{ expr }}" yields the
// expression's native value (a list, map, bool, int, ...), other strings
// render to strings, other values pass through. A map entry or list element
// that comes out as Omit is dropped. The input is not modified. A value made
// by Lazy is rendered with its own vars.
func (e *Engine) Template(name string, v any, vars map[string]any) (any, error) {
	return e.template(nil, name, v, vars)
}

// Lazy returns v as a value to put in a vars map when v holds templates
// (role defaults, globals.yml: `api_interface: "{{ network_interface }}"`):
// it is templated, with vars, each time a template reads it, as Ansible does.
// vars is the map of the host the value belongs to, usually the map v is put
// in, so hostvars[h].x renders with h's variables. A value without templates
// is returned as it is. A variable that refers to itself fails with an error
// instead of recursing forever.
func (e *Engine) Lazy(name string, v any, vars map[string]any) any {
	if !hasTemplate(v) {
		return v
	}
	return &lazy{e: e, name: name, v: v, vars: vars}
}

type lazy struct {
	e    *Engine
	name string
	v    any
	vars map[string]any
}

func (l *lazy) Resolve(ctx *pongo2.ExecutionContext) (any, error) {
	v, err := l.e.template(ctx, l.name, l.v, l.vars)
	var loop *pongo2.LoopError
	if errors.As(err, &loop) {
		loop.Chain = append([]string{l.name}, loop.Chain...)
		return nil, loop // one message naming the chain, not one per level
	}
	return v, err
}

// String shows what a lazy value is where one is printed without being
// resolved (%v in a log line).
func (l *lazy) String() string { return fmt.Sprintf("%v", l.v) }

func hasTemplate(v any) bool {
	switch t := v.(type) {
	case string:
		return strings.Contains(t, "{{") || strings.Contains(t, "{%")
	case map[string]any:
		for k, e := range t {
			if hasTemplate(k) || hasTemplate(e) {
				return true
			}
		}
	case []any:
		for _, e := range t {
			if hasTemplate(e) {
				return true
			}
		}
	}
	return false
}

// template is Template; parent is set while resolving a lazy variable for
// another template, to bound the nesting.
func (e *Engine) template(parent *pongo2.ExecutionContext, name string, v any, vars map[string]any) (any, error) {
	switch t := v.(type) {
	case *lazy: // a value taken out of a vars map as it is
		return t.Resolve(parent)
	case string:
		if !strings.Contains(t, "{") {
			return t, nil
		}
		if inner, ok := singleExpression(t); ok {
			return e.eval(parent, name, inner, vars)
		}
		return e.render(parent, name, t, vars)
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, val := range t {
			r, err := e.template(parent, name, val, vars)
			if err != nil {
				return nil, err
			}
			if r == Omit {
				continue
			}
			key, err := e.template(parent, name, k, vars)
			if err != nil {
				return nil, err
			}
			out[pongo2.Str(key)] = r
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(t))
		for _, val := range t {
			r, err := e.template(parent, name, val, vars)
			if err != nil {
				return nil, err
			}
			if r == Omit {
				continue
			}
			out = append(out, r)
		}
		return out, nil
	}
	return v, nil
}

// singleExpression reports whether s is exactly one "{{ expr }}" and returns expr.
func singleExpression(s string) (string, bool) {
	if !strings.HasPrefix(s, "{{") || !strings.HasSuffix(s, "}}") || len(s) < 4 {
		return "", false
	}
	inner := s[2 : len(s)-2]
	if strings.Contains(inner, "{{") || strings.Contains(inner, "}}") || strings.Contains(inner, "{%") {
		return "", false
	}
	inner = strings.TrimPrefix(strings.TrimSuffix(inner, "-"), "-")
	return strings.TrimSpace(inner), true
}

func (e *Engine) compile(name, src string, isFile bool) (*pongo2.Template, error) {
	key := cacheKey{name, src}
	if t, ok := e.tpls.Load(key); ok {
		return t.(*pongo2.Template), nil
	}
	tpl, err := e.set.FromSource(name, src, isFile)
	if err != nil {
		return nil, wrapError(name, err, false)
	}
	t, _ := e.tpls.LoadOrStore(key, tpl)
	return t.(*pongo2.Template), nil
}

func (e *Engine) compileExpr(name, expr string) (*pongo2.Expr, error) {
	key := cacheKey{name, expr}
	if x, ok := e.exprs.Load(key); ok {
		return x.(*pongo2.Expr), nil
	}
	x, err := e.set.CompileExpression(name, expr)
	if err != nil {
		return nil, wrapError(name, err, true)
	}
	cached, _ := e.exprs.LoadOrStore(key, x)
	return cached.(*pongo2.Expr), nil
}

func (e *Engine) execute(name string, tpl *pongo2.Template, vars map[string]any) (string, error) {
	out, err := tpl.Execute(pongo2.Context(vars))
	if err != nil {
		return "", wrapError(name, err, false)
	}
	return out, nil
}

// Error is a template error: the template (or expression) name, the line in
// it when known, and the cause. errors.As finds an *UndefinedError in it.
type Error struct {
	Name string
	Line int // 0 when unknown or for a one-line expression
	Err  error
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.Name, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Name, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// UndefinedError is the cause of an Error about a missing variable, key or
// attribute; Name is the expression as written.
type UndefinedError = pongo2.UndefinedError

// wrapError turns pongo2's error into an *Error. For an expression, a line
// number is only given when the expression spans lines.
func wrapError(name string, err error, expr bool) error {
	var pe *pongo2.Error
	if !errors.As(err, &pe) {
		return &Error{Name: name, Err: err}
	}
	line := pe.Line
	if expr && line <= 1 {
		line = 0
	}
	file := name
	if pe.Filename != "" && pe.Filename != name && pe.Filename != "<string>" {
		file = pe.Filename // an included template
	}
	cause := pe.OrigError
	if pe.Sender == "parser" || pe.Sender == "lexer" {
		cause = fmt.Errorf("syntax error: %w", cause)
	}
	return &Error{Name: file, Line: line, Err: cause}
}

// rangeFunc is Python's range(stop) / range(start, stop[, step]).
func rangeFunc(args []any, kw map[string]any) (any, error) {
	n := make([]int, len(args))
	for i, a := range args {
		f, ok := toFloat(a)
		if !ok {
			return nil, fmt.Errorf("range: arguments must be integers, not %s", pongo2.TypeName(a))
		}
		n[i] = int(f)
	}
	start, stop, step := 0, 0, 1
	switch len(n) {
	case 1:
		stop = n[0]
	case 2:
		start, stop = n[0], n[1]
	case 3:
		start, stop, step = n[0], n[1], n[2]
	default:
		return nil, fmt.Errorf("range: takes 1 to 3 arguments, got %d", len(n))
	}
	if step == 0 {
		return nil, fmt.Errorf("range: step must not be zero")
	}
	out := []any{}
	for i := start; (step > 0 && i < stop) || (step < 0 && i > stop); i += step {
		out = append(out, i)
	}
	return out, nil
}

// Func is a function templates can call, e.g. vars["lookup"] = Func(...)
// makes `lookup('env', 'HOME')` work. Positional and keyword arguments arrive
// as native values.
type Func = pongo2.Callable
