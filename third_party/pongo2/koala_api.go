package pongo2

// koala: entry points for named templates and standalone expressions.

import (
	"fmt"
)

// FromSource compiles src as a template called name (used in error
// messages). isFile makes `include`/`extends` resolve relative to name.
func (set *TemplateSet) FromSource(name, src string, isFile bool) (*Template, error) {
	return newTemplate(set, name, !isFile, []byte(src))
}

// Expr is a compiled standalone expression such as a `when:` condition.
type Expr struct {
	tpl  *Template
	expr IEvaluator
}

// CompileExpression compiles one Jinja2 expression (no `{{ }}` around it).
func (set *TemplateSet) CompileExpression(name, src string) (*Expr, error) {
	tpl := &Template{
		set:            set,
		isTplString:    true,
		name:           name,
		tpl:            src,
		blocks:         map[string]*NodeWrapper{},
		exportedMacros: map[string]*tagMacroNode{},
		Options:        newOptions(),
	}
	// Lexed as the inside of `{{ }}`: the lexer only knows code inside tags.
	tokens, lerr := lex(name, "{{ "+src+" }}")
	if lerr != nil {
		return nil, lerr
	}
	if len(tokens) < 2 || tokens[0].Val != "{{" || tokens[len(tokens)-1].Val != "}}" || tokens[len(tokens)-1].Typ != TokenSymbol {
		return nil, &Error{Filename: name, Line: 1, Sender: "parser", OrigError: fmt.Errorf("not a single expression: %q", src)}
	}
	for _, t := range tokens[1 : len(tokens)-1] {
		if t.Typ == TokenHTML || (t.Typ == TokenSymbol && (t.Val == "{{" || t.Val == "}}" || t.Val == "{%" || t.Val == "%}")) {
			return nil, &Error{Filename: name, Line: t.Line, Sender: "parser", OrigError: fmt.Errorf("not a single expression: %q", src)}
		}
	}
	p := newParser(name, tokens[1:len(tokens)-1], tpl)
	if p.Remaining() == 0 {
		return nil, &Error{Filename: name, Line: 1, Sender: "parser", OrigError: fmt.Errorf("empty expression")}
	}
	e, err := p.ParseExpression()
	if err != nil {
		return nil, err
	}
	if p.Remaining() > 0 {
		return nil, p.Error(fmt.Sprintf("Unexpected '%s' after the expression.", p.Current().Val), nil)
	}
	return &Expr{tpl: tpl, expr: e}, nil
}

// Evaluate evaluates the expression against context.
func (x *Expr) Evaluate(context Context) (*Value, error) {
	if context == nil {
		context = Context{}
	}
	ctx := newExecutionContext(x.tpl, context)
	v, err := x.expr.Evaluate(ctx)
	if err != nil {
		return nil, err
	}
	if v, err = ctx.deepResolve(v, x.expr.GetPositionToken()); err != nil {
		return nil, err
	}
	return v, nil
}

// Unwrap gives errors.As access to the cause, e.g. an *UndefinedError.
func (e *Error) Unwrap() error { return e.OrigError }
