package pongo2

// koala: lazily templated variables. Ansible renders a variable whose value
// holds templates when a template reads it ("{{ a }}" where a is
// "{{ b }}/x"), in the vars of the host it belongs to (hostvars[h].a uses h's
// vars). A Resolver in the context or in a map stands for such a value:
// it is resolved where it is read (a name, an attribute, a key, a loop item)
// and, inside lists and maps, before a value is printed, handed to a filter
// or returned as an expression's result.

import (
	"strings"
)

// maxDepth bounds nested resolution: a variable that refers to itself,
// directly or not, fails instead of recursing forever.
const maxDepth = 64

// Resolver is a value computed when a template reads it.
type Resolver interface {
	Resolve(ctx *ExecutionContext) (any, error)
}

// LoopError is the error for a variable whose value refers back to itself.
// Resolvers add their names to Chain as the error passes through them.
type LoopError struct {
	Chain []string
}

func (e *LoopError) Error() string {
	// Show the chain up to the first repeated name: a -> b -> a.
	seen := map[string]bool{}
	var shown []string
	for _, n := range e.Chain {
		shown = append(shown, n)
		if seen[n] {
			break
		}
		seen[n] = true
	}
	return "recursive loop detected in variables: " + strings.Join(shown, " -> ")
}

// ExecuteNested renders tpl with vars as a step of resolving a variable for
// parent; nesting deeper than maxDepth is an error.
func (tpl *Template) ExecuteNested(parent *ExecutionContext, vars Context) (string, error) {
	if parent.depth >= maxDepth {
		return "", &LoopError{}
	}
	_, ctx, err := tpl.newContextForExecution(vars)
	if err != nil {
		return "", err
	}
	ctx.depth = parent.depth + 1
	var b strings.Builder
	if err := tpl.root.Execute(ctx, &b); err != nil {
		return "", err
	}
	return b.String(), nil
}

// EvaluateNested is Evaluate as a step of resolving a variable for parent.
func (x *Expr) EvaluateNested(parent *ExecutionContext, vars Context) (*Value, error) {
	if parent.depth >= maxDepth {
		return nil, &LoopError{}
	}
	if vars == nil {
		vars = Context{}
	}
	ctx := newExecutionContext(x.tpl, vars)
	ctx.depth = parent.depth + 1
	v, err := x.expr.Evaluate(ctx)
	if err != nil {
		return nil, err
	}
	if v, err = ctx.deepResolve(v, x.expr.GetPositionToken()); err != nil {
		return nil, err
	}
	return v, nil
}

// resolve resolves x if it is a Resolver (repeatedly: a variable may
// resolve to another).
func (ctx *ExecutionContext) resolve(x any, tok *Token) (any, *Error) {
	for {
		r, ok := x.(Resolver)
		if !ok {
			return x, nil
		}
		v, err := r.Resolve(ctx)
		if err != nil {
			return nil, ctx.OrigError(err, tok)
		}
		x = v
	}
}

// resolveValue is resolve for a *Value.
func (ctx *ExecutionContext) resolveValue(v *Value, tok *Token) (*Value, *Error) {
	if v.IsUndefined() {
		return v, nil
	}
	x := v.Interface()
	if _, ok := x.(Resolver); !ok {
		return v, nil
	}
	r, err := ctx.resolve(x, tok)
	if err != nil {
		return nil, err
	}
	return toValue(r), nil
}

// deepResolve returns v with every Resolver inside its lists and maps
// resolved; containers without one are returned as they are, not copied.
func (ctx *ExecutionContext) deepResolve(v *Value, tok *Token) (*Value, *Error) {
	if v.IsUndefined() {
		return v, nil
	}
	x := v.Interface()
	switch x.(type) {
	case nil, string, int, bool, float64:
		return v, nil
	}
	out, changed, err := ctx.deepResolveAny(x, tok)
	if err != nil {
		return nil, err
	}
	if !changed {
		return v, nil
	}
	return toValue(out), nil
}

func (ctx *ExecutionContext) deepResolveAny(x any, tok *Token) (any, bool, *Error) {
	if _, ok := x.(Resolver); ok {
		r, err := ctx.resolve(x, tok)
		if err != nil {
			return nil, false, err
		}
		out, _, err := ctx.deepResolveAny(r, tok)
		return out, true, err
	}
	switch t := x.(type) {
	case []any:
		var out []any
		for i, e := range t {
			r, changed, err := ctx.deepResolveAny(e, tok)
			if err != nil {
				return nil, false, err
			}
			if changed && out == nil {
				out = append(make([]any, 0, len(t)), t[:i]...)
			}
			if out != nil {
				out = append(out, r)
			}
		}
		if out == nil {
			return x, false, nil
		}
		return out, true, nil
	case map[string]any:
		var out map[string]any
		for k, e := range t {
			r, changed, err := ctx.deepResolveAny(e, tok)
			if err != nil {
				return nil, false, err
			}
			if changed {
				if out == nil {
					out = make(map[string]any, len(t))
					for k2, e2 := range t {
						out[k2] = e2
					}
				}
				out[k] = r
			}
		}
		if out == nil {
			return x, false, nil
		}
		return out, true, nil
	}
	return x, false, nil
}
