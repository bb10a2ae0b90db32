package pongo2

// koala: the expression grammar of Jinja2, replacing pongo2's Django one
// (parser_expression.go and most of variable.go upstream). Precedence, lowest
// first, as in Jinja2:
//
//	a if c else b  >  or  >  and  >  not  >  == != < > <= >= in, not in
//	>  + -  >  ~  >  * / // %  >  **  >  unary - +  >  | filter, is test
//	>  .attr [key] (call)  >  literals, names, ( ), [ ], { }
//
// Undefined values: a missing variable, key or attribute evaluates to an
// undefined *Value; as in Ansible, an attribute or key of an undefined value
// is the same undefined value, so `a.b.c | default(x)` works when a is
// missing. Only filters registered as accepting undefined input (`default`)
// and tests (`is defined`) may receive one; any other use is an
// UndefinedError carrying the token of the name, so the message names the
// template line.

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

type evalFn func(ctx *ExecutionContext) (*Value, *Error)

// jexpr is every node of the grammar. eval may return an undefined value;
// Evaluate (what tags and `{{ }}` call) never does.
type jexpr struct {
	tok  *Token
	desc string // the expression as written, for messages about undefined values
	eval evalFn
}

func (e *jexpr) GetPositionToken() *Token       { return e.tok }
func (e *jexpr) FilterApplied(name string) bool { return false }

func (e *jexpr) Evaluate(ctx *ExecutionContext) (*Value, *Error) {
	v, err := e.eval(ctx)
	if err != nil {
		return nil, err
	}
	if v.IsUndefined() {
		return nil, undefinedErr(ctx, v)
	}
	return v, nil
}

func (e *jexpr) Execute(ctx *ExecutionContext, writer TemplateWriter) *Error {
	v, err := e.Evaluate(ctx)
	if err != nil {
		return err
	}
	if v, err = ctx.deepResolve(v, e.tok); err != nil {
		return err
	}
	writer.WriteString(v.String())
	return nil
}

var (
	filtersAcceptingUndefined = map[string]bool{}
	filtersTakingArgs         = map[string]bool{}
	tests                     = map[string]FilterFunction{}
)

// RegisterFilterWithArgs registers (or replaces) a filter whose parameter is
// always an *Args, however many arguments the call has (none included).
// With acceptsUndefined the filter may receive an undefined input (see
// Value.IsUndefined), as `default` must; other filters never see one.
// Not safe to call concurrently with template use: register in init.
func RegisterFilterWithArgs(name string, fn FilterFunction, acceptsUndefined bool) {
	filters[name] = fn
	filtersTakingArgs[name] = true
	filtersAcceptingUndefined[name] = acceptsUndefined
}

// RegisterTest registers (or replaces) a Jinja2 test, used as `x is name` or
// `x is name(arg)`. Its parameter is always an *Args. A test receives
// undefined values (IsUndefined) and returns a value whose truth is the
// result.
func RegisterTest(name string, fn FilterFunction) {
	tests[name] = fn
}

// ApplyTest runs the test called name, for filters such as select().
func ApplyTest(name string, in *Value, args *Args) (*Value, error) {
	fn, ok := tests[name]
	if !ok {
		return nil, fmt.Errorf("test '%s' does not exist", name)
	}
	out, err := fn(in, AsValue(args))
	if err != nil {
		return nil, err
	}
	return out, nil
}

// HasFilter reports whether a filter is registered.
func HasFilter(name string) bool { _, ok := filters[name]; return ok }

// ParseExpression parses one Jinja2 expression, conditional expressions
// included.
func (p *Parser) ParseExpression() (IEvaluator, *Error) {
	return p.parseCond(true)
}

// parseExpressionNoCond parses an expression without a trailing `if ... else`,
// for `{% for x in xs if cond %}`.
func (p *Parser) parseExpressionNoCond() (*jexpr, *Error) {
	return p.parseCond(false)
}

func (p *Parser) peekName(name string) bool {
	return p.Peek(TokenIdentifier, name) != nil
}

func (p *Parser) parseCond(withCond bool) (*jexpr, *Error) {
	e, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	for withCond && p.peekName("if") {
		tok := p.Current()
		p.Consume()
		cond, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		var other *jexpr
		if p.Match(TokenIdentifier, "else") != nil {
			if other, err = p.parseCond(true); err != nil {
				return nil, err
			}
		}
		then := e
		e = &jexpr{tok: tok, desc: then.desc, eval: func(ctx *ExecutionContext) (*Value, *Error) {
			c, err := cond.Evaluate(ctx)
			if err != nil {
				return nil, err
			}
			if c.IsTrue() {
				return then.eval(ctx)
			}
			if other == nil {
				return undefinedValue(then.desc+" if false", tok), nil
			}
			return other.eval(ctx)
		}}
	}
	return e, nil
}

func (p *Parser) parseOr() (*jexpr, *Error) {
	left, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for {
		tok := p.MatchOne(TokenKeyword, "or")
		if tok == nil {
			tok = p.Match(TokenSymbol, "||")
		}
		if tok == nil {
			return left, nil
		}
		right, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		l := left
		// Python semantics: the value of the deciding operand, not a bool.
		left = &jexpr{tok: tok, desc: l.desc + " or " + right.desc, eval: func(ctx *ExecutionContext) (*Value, *Error) {
			a, err := l.Evaluate(ctx)
			if err != nil || a.IsTrue() {
				return a, err
			}
			return right.Evaluate(ctx)
		}}
	}
}

func (p *Parser) parseAnd() (*jexpr, *Error) {
	left, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	for {
		tok := p.MatchOne(TokenKeyword, "and")
		if tok == nil {
			tok = p.Match(TokenSymbol, "&&")
		}
		if tok == nil {
			return left, nil
		}
		right, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		l := left
		left = &jexpr{tok: tok, desc: l.desc + " and " + right.desc, eval: func(ctx *ExecutionContext) (*Value, *Error) {
			a, err := l.Evaluate(ctx)
			if err != nil || !a.IsTrue() {
				return a, err
			}
			return right.Evaluate(ctx)
		}}
	}
}

func (p *Parser) parseNot() (*jexpr, *Error) {
	tok := p.Match(TokenKeyword, "not")
	if tok == nil {
		tok = p.Match(TokenSymbol, "!")
	}
	if tok == nil {
		return p.parseCompare()
	}
	operand, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	return &jexpr{tok: tok, desc: "not " + operand.desc, eval: func(ctx *ExecutionContext) (*Value, *Error) {
		v, err := operand.Evaluate(ctx)
		if err != nil {
			return nil, err
		}
		return AsValue(!v.IsTrue()), nil
	}}, nil
}

type compareOp struct {
	tok   *Token
	op    string
	right *jexpr
}

func (p *Parser) parseCompare() (*jexpr, *Error) {
	left, err := p.parseMath1()
	if err != nil {
		return nil, err
	}
	var ops []compareOp
	for {
		var op string
		tok := p.MatchOne(TokenSymbol, "==", "!=", "<>", "<=", ">=", "<", ">")
		switch {
		case tok != nil:
			op = tok.Val
		case p.Peek(TokenKeyword, "in") != nil:
			tok = p.Current()
			p.Consume()
			op = "in"
		case p.Peek(TokenKeyword, "not") != nil && p.PeekN(1, TokenKeyword, "in") != nil:
			tok = p.Current()
			p.ConsumeN(2)
			op = "not in"
		}
		if tok == nil {
			break
		}
		right, err := p.parseMath1()
		if err != nil {
			return nil, err
		}
		ops = append(ops, compareOp{tok: tok, op: op, right: right})
	}
	if len(ops) == 0 {
		return left, nil
	}
	// a < b < c is (a < b) and (b < c), as in Jinja2.
	return &jexpr{tok: ops[0].tok, desc: left.desc, eval: func(ctx *ExecutionContext) (*Value, *Error) {
		a, err := left.Evaluate(ctx)
		if err != nil {
			return nil, err
		}
		for _, o := range ops {
			b, err := o.right.Evaluate(ctx)
			if err != nil {
				return nil, err
			}
			ok, cerr := compareValues(o.op, a, b)
			if cerr != nil {
				return nil, ctx.OrigError(cerr, o.tok)
			}
			if !ok {
				return AsValue(false), nil
			}
			a = b
		}
		return AsValue(true), nil
	}}, nil
}

func compareValues(op string, a, b *Value) (bool, error) {
	switch op {
	case "==":
		return Equal(a, b), nil
	case "!=", "<>":
		return !Equal(a, b), nil
	case "in":
		return Contains(b, a)
	case "not in":
		in, err := Contains(b, a)
		return !in, err
	}
	c, err := Compare(a, b)
	if err != nil {
		return false, err
	}
	switch op {
	case "<":
		return c < 0, nil
	case ">":
		return c > 0, nil
	case "<=":
		return c <= 0, nil
	default: // ">="
		return c >= 0, nil
	}
}

// binary builds a left-associative chain of the operators ops over next.
func (p *Parser) binary(next func() (*jexpr, *Error), ops ...string) (*jexpr, *Error) {
	left, err := next()
	if err != nil {
		return nil, err
	}
	for {
		tok := p.MatchOne(TokenSymbol, ops...)
		if tok == nil {
			return left, nil
		}
		right, err := next()
		if err != nil {
			return nil, err
		}
		l, op := left, tok.Val
		left = &jexpr{tok: tok, desc: l.desc + " " + op + " " + right.desc, eval: func(ctx *ExecutionContext) (*Value, *Error) {
			a, err := l.Evaluate(ctx)
			if err != nil {
				return nil, err
			}
			b, err := right.Evaluate(ctx)
			if err != nil {
				return nil, err
			}
			r, aerr := arith(op, a.Interface(), b.Interface())
			if aerr != nil {
				return nil, ctx.OrigError(aerr, tok)
			}
			return AsValue(r), nil
		}}
	}
}

func (p *Parser) parseMath1() (*jexpr, *Error)  { return p.binary(p.parseConcat, "+", "-") }
func (p *Parser) parseConcat() (*jexpr, *Error) { return p.binary(p.parseMath2, "~") }
func (p *Parser) parseMath2() (*jexpr, *Error) {
	return p.binary(p.parsePow, "*", "//", "/", "%")
}
func (p *Parser) parsePow() (*jexpr, *Error) { return p.binary(p.parseUnary, "**") }

func arith(op string, a, b any) (any, error) {
	if op == "~" {
		return Str(a) + Str(b), nil
	}
	ia, aInt := toInt(a)
	ib, bInt := toInt(b)
	fa, aNum := toFloat(a)
	fb, bNum := toFloat(b)
	_, aBool := a.(bool)
	_, bBool := b.(bool)
	if aNum && bNum && !aBool && !bBool {
		ints := aInt && bInt
		switch op {
		case "+":
			if ints {
				return ia + ib, nil
			}
			return fa + fb, nil
		case "-":
			if ints {
				return ia - ib, nil
			}
			return fa - fb, nil
		case "*":
			if ints {
				return ia * ib, nil
			}
			return fa * fb, nil
		case "/":
			if fb == 0 {
				return nil, fmt.Errorf("division by zero")
			}
			return fa / fb, nil
		case "//":
			if fb == 0 {
				return nil, fmt.Errorf("division by zero")
			}
			if ints {
				return int(math.Floor(fa / fb)), nil
			}
			return math.Floor(fa / fb), nil
		case "%":
			if fb == 0 {
				return nil, fmt.Errorf("modulo by zero")
			}
			if ints {
				m := ia % ib
				if m != 0 && (m < 0) != (ib < 0) {
					m += ib
				}
				return m, nil
			}
			return math.Mod(fa, fb), nil
		case "**":
			if ints && ib >= 0 {
				return int(math.Pow(fa, fb)), nil
			}
			return math.Pow(fa, fb), nil
		}
	}
	if sa, ok := a.(string); ok && op == "%" { // Python string formatting
		args, isList := asList(b)
		if !isList {
			args = []any{b}
		}
		return PyFormat(sa, args)
	}
	if sa, ok := a.(string); ok && op == "*" && bInt && !bBool {
		return strings.Repeat(sa, max(ib, 0)), nil
	}
	if op == "+" {
		if sa, ok := a.(string); ok {
			if sb, ok := b.(string); ok {
				return sa + sb, nil
			}
		}
		if la, ok := asList(a); ok {
			if lb, ok := asList(b); ok {
				out := make([]any, 0, len(la)+len(lb))
				return append(append(out, la...), lb...), nil
			}
		}
	}
	hint := ""
	if op == "+" {
		hint = " (use ~ to join as strings)"
	}
	return nil, fmt.Errorf("unsupported operand types for %s: %s and %s%s", op, TypeName(a), TypeName(b), hint)
}

func (p *Parser) parseUnary() (*jexpr, *Error) { return p.parseUnaryF(true) }

// parseUnaryF parses a primary with its postfixes and, withFilter, its
// filters and tests. As in Jinja2, `-x | abs` is `(-x) | abs`.
func (p *Parser) parseUnaryF(withFilter bool) (*jexpr, *Error) {
	var e *jexpr
	if tok := p.MatchOne(TokenSymbol, "-", "+"); tok != nil {
		operand, err := p.parseUnaryF(false)
		if err != nil {
			return nil, err
		}
		e = negate(tok, operand)
	} else {
		var err *Error
		if e, err = p.parsePrimary(); err != nil {
			return nil, err
		}
	}
	e, err := p.parsePostfix(e)
	if err != nil {
		return nil, err
	}
	if !withFilter {
		return e, nil
	}
	return p.parseFilterExpr(e)
}

func negate(tok *Token, operand *jexpr) *jexpr {
	neg := tok.Val == "-"
	return &jexpr{tok: tok, desc: tok.Val + operand.desc, eval: func(ctx *ExecutionContext) (*Value, *Error) {
		v, err := operand.Evaluate(ctx)
		if err != nil {
			return nil, err
		}
		x := v.Interface()
		if !isNumber(x) {
			return nil, ctx.Error(fmt.Sprintf("unary %s needs a number, not %s", tok.Val, TypeName(x)), tok)
		}
		if !neg {
			return v, nil
		}
		if i, ok := toInt(x); ok {
			return AsValue(-i), nil
		}
		f, _ := toFloat(x)
		return AsValue(-f), nil
	}}
}

func literal(tok *Token, v any) *jexpr {
	val := AsValue(v)
	return &jexpr{tok: tok, desc: Repr(v), eval: func(*ExecutionContext) (*Value, *Error) { return val, nil }}
}

func (p *Parser) parsePrimary() (*jexpr, *Error) {
	tok := p.Current()
	if tok == nil {
		return nil, p.Error("Unexpected end of expression.", p.lastToken)
	}
	switch tok.Typ {
	case TokenString:
		p.Consume()
		s := tok.Val
		for t := p.PeekType(TokenString); t != nil; t = p.PeekType(TokenString) { // 'a' 'b' is 'ab'
			s += t.Val
			p.Consume()
		}
		return literal(tok, s), nil
	case TokenNumber:
		p.Consume()
		if p.Peek(TokenSymbol, ".") != nil && p.PeekTypeN(1, TokenNumber) != nil {
			frac := p.GetR(1)
			p.ConsumeN(2)
			f, err := strconv.ParseFloat(tok.Val+"."+frac.Val, 64)
			if err != nil {
				return nil, p.Error(err.Error(), tok)
			}
			return literal(tok, f), nil
		}
		i, err := strconv.Atoi(tok.Val)
		if err != nil {
			return nil, p.Error(err.Error(), tok)
		}
		return literal(tok, i), nil
	case TokenKeyword:
		switch tok.Val {
		case "true":
			p.Consume()
			return literal(tok, true), nil
		case "false":
			p.Consume()
			return literal(tok, false), nil
		}
		return nil, p.Error(fmt.Sprintf("Unexpected keyword '%s' in expression.", tok.Val), tok)
	case TokenIdentifier:
		p.Consume()
		switch tok.Val {
		case "True":
			return literal(tok, true), nil
		case "False":
			return literal(tok, false), nil
		case "none", "None":
			return literal(tok, nil), nil
		}
		name := tok.Val
		return &jexpr{tok: tok, desc: name, eval: func(ctx *ExecutionContext) (*Value, *Error) {
			return ctx.resolveValue(ctx.lookup(name, tok), tok)
		}}, nil
	case TokenSymbol:
		switch tok.Val {
		case "(":
			p.Consume()
			if p.Match(TokenSymbol, ")") != nil {
				return listLiteral(tok, nil), nil
			}
			e, err := p.parseCond(true)
			if err != nil {
				return nil, err
			}
			if p.Peek(TokenSymbol, ",") != nil { // a tuple is a list here
				items := []*jexpr{e}
				rest, err := p.parseList(tok, ")")
				if err != nil {
					return nil, err
				}
				return listLiteral(tok, append(items, rest...)), nil
			}
			if p.Match(TokenSymbol, ")") == nil {
				return nil, p.Error("Expected ')' to close '('.", nil)
			}
			return e, nil
		case "[":
			p.Consume()
			items, err := p.parseList(tok, "]")
			if err != nil {
				return nil, err
			}
			return listLiteral(tok, items), nil
		case "{":
			p.Consume()
			return p.parseDict(tok)
		}
	}
	return nil, p.Error(fmt.Sprintf("Unexpected '%s' in expression.", tok.Val), tok)
}

// parseList parses `a, b, c<end>` after the opening bracket (a leading comma,
// left by a tuple's first element, and a trailing comma are allowed).
func (p *Parser) parseList(open *Token, end string) ([]*jexpr, *Error) {
	var items []*jexpr
	p.Match(TokenSymbol, ",")
	for p.Match(TokenSymbol, end) == nil {
		if p.Remaining() == 0 {
			return nil, p.Error(fmt.Sprintf("Expected '%s' to close '%s'.", end, open.Val), p.lastToken)
		}
		e, err := p.parseCond(true)
		if err != nil {
			return nil, err
		}
		items = append(items, e)
		if p.Match(TokenSymbol, ",") == nil && p.Peek(TokenSymbol, end) == nil {
			return nil, p.Error(fmt.Sprintf("Expected ',' or '%s'.", end), nil)
		}
	}
	return items, nil
}

func listLiteral(tok *Token, items []*jexpr) *jexpr {
	return &jexpr{tok: tok, desc: "[...]", eval: func(ctx *ExecutionContext) (*Value, *Error) {
		out := make([]any, len(items))
		for i, e := range items {
			v, err := e.Evaluate(ctx)
			if err != nil {
				return nil, err
			}
			out[i] = v.Interface()
		}
		return AsValue(out), nil
	}}
}

func (p *Parser) parseDict(open *Token) (*jexpr, *Error) {
	var keys, vals []*jexpr
	for p.Match(TokenSymbol, "}") == nil {
		if p.Remaining() == 0 {
			return nil, p.Error("Expected '}' to close '{'.", p.lastToken)
		}
		k, err := p.parseCond(true)
		if err != nil {
			return nil, err
		}
		if p.Match(TokenSymbol, ":") == nil {
			return nil, p.Error("Expected ':' after a dict key.", nil)
		}
		v, err := p.parseCond(true)
		if err != nil {
			return nil, err
		}
		keys, vals = append(keys, k), append(vals, v)
		if p.Match(TokenSymbol, ",") == nil && p.Peek(TokenSymbol, "}") == nil {
			return nil, p.Error("Expected ',' or '}' in dict.", nil)
		}
	}
	return &jexpr{tok: open, desc: "{...}", eval: func(ctx *ExecutionContext) (*Value, *Error) {
		out := make(map[string]any, len(keys))
		for i := range keys {
			k, err := keys[i].Evaluate(ctx)
			if err != nil {
				return nil, err
			}
			v, err := vals[i].Evaluate(ctx)
			if err != nil {
				return nil, err
			}
			out[k.String()] = v.Interface()
		}
		return AsValue(out), nil
	}}, nil
}

// callArg is one argument of a call, filter or test; name is set for name=value.
type callArg struct {
	name string
	e    *jexpr
}

// parseArgs parses `(a, b, k=v)` after the '('.
func (p *Parser) parseArgs() ([]callArg, *Error) {
	var args []callArg
	for p.Match(TokenSymbol, ")") == nil {
		if p.Remaining() == 0 {
			return nil, p.Error("Expected ')' to close the argument list.", p.lastToken)
		}
		var a callArg
		if p.PeekType(TokenIdentifier) != nil && p.PeekN(1, TokenSymbol, "=") != nil {
			a.name = p.Current().Val
			p.ConsumeN(2)
		}
		e, err := p.parseCond(true)
		if err != nil {
			return nil, err
		}
		a.e = e
		args = append(args, a)
		if p.Match(TokenSymbol, ",") == nil && p.Peek(TokenSymbol, ")") == nil {
			return nil, p.Error("Expected ',' or ')' in the argument list.", nil)
		}
	}
	return args, nil
}

// evalArgs evaluates call arguments. With deep, lazy values inside them are
// resolved; filters registered with RegisterFilterWithArgs resolve what they
// read themselves (Args.ResolveDeep, Args.Resolve), so that passing a large
// map such as hostvars costs nothing until it is read.
func evalArgs(ctx *ExecutionContext, args []callArg, deep bool) (pos []*Value, kw map[string]*Value, err *Error) {
	for _, a := range args {
		v, err := a.e.Evaluate(ctx)
		if err != nil {
			return nil, nil, err
		}
		if deep {
			if v, err = ctx.deepResolve(v, a.e.tok); err != nil {
				return nil, nil, err
			}
		}
		if a.name == "" {
			pos = append(pos, v)
			continue
		}
		if kw == nil {
			kw = map[string]*Value{}
		}
		kw[a.name] = v
	}
	return pos, kw, nil
}

// paramOf packs evaluated arguments into the one parameter a FilterFunction
// takes: an *Args for filters registered with RegisterFilterWithArgs and for
// tests, otherwise nothing or the single argument as pongo2 filters expect.
func paramOf(ctx *ExecutionContext, tok *Token, pos []*Value, kw map[string]*Value, alwaysArgs bool) *Value {
	switch {
	case alwaysArgs:
		return AsValue(&Args{Pos: pos, Kw: kw, ctx: ctx, tok: tok})
	case len(pos) == 0 && len(kw) == 0:
		return AsValue(nil)
	case len(pos) == 1 && len(kw) == 0:
		return pos[0]
	}
	return AsValue(&Args{Pos: pos, Kw: kw, ctx: ctx, tok: tok})
}

func (p *Parser) parsePostfix(e *jexpr) (*jexpr, *Error) {
	for {
		tok := p.Current()
		switch {
		case p.Peek(TokenSymbol, ".") != nil:
			p.Consume()
			nameTok := p.Current()
			if nameTok == nil || (nameTok.Typ != TokenIdentifier && nameTok.Typ != TokenNumber && nameTok.Typ != TokenKeyword) {
				return nil, p.Error("Expected a name after '.'.", nil)
			}
			p.Consume()
			if p.Match(TokenSymbol, "(") != nil {
				args, err := p.parseArgs()
				if err != nil {
					return nil, err
				}
				e = methodCall(e, nameTok, args)
				continue
			}
			e = attribute(e, nameTok)
		case p.Peek(TokenSymbol, "[") != nil:
			p.Consume()
			var err *Error
			if e, err = p.parseSubscript(e, tok); err != nil {
				return nil, err
			}
		case p.Peek(TokenSymbol, "(") != nil:
			p.Consume()
			args, err := p.parseArgs()
			if err != nil {
				return nil, err
			}
			e = call(e, tok, args)
		default:
			return e, nil
		}
	}
}

func attribute(base *jexpr, nameTok *Token) *jexpr {
	name := nameTok.Val
	desc := base.desc + "." + name
	return &jexpr{tok: nameTok, desc: desc, eval: func(ctx *ExecutionContext) (*Value, *Error) {
		b, err := base.eval(ctx)
		if err != nil || b.IsUndefined() {
			return b, err // Ansible: an attribute of an undefined value is undefined
		}
		v, ok := getAttr(b.Interface(), name)
		if !ok {
			return undefinedValue(desc, nameTok), nil
		}
		return ctx.resolveValue(toValue(v), nameTok)
	}}
}

func (p *Parser) parseSubscript(base *jexpr, open *Token) (*jexpr, *Error) {
	var parts [3]*jexpr // start, stop, step of a slice; parts[0] alone for an index
	isSlice := false
	for i := 0; i < 3; i++ {
		if p.Peek(TokenSymbol, ":") == nil && p.Peek(TokenSymbol, "]") == nil {
			e, err := p.parseCond(true)
			if err != nil {
				return nil, err
			}
			parts[i] = e
		}
		if p.Match(TokenSymbol, ":") == nil {
			break
		}
		isSlice = true
	}
	if p.Match(TokenSymbol, "]") == nil {
		return nil, p.Error("Expected ']'.", nil)
	}
	if isSlice {
		return slice(base, open, parts), nil
	}
	if parts[0] == nil {
		return nil, p.Error("Expected an index or key inside '[]'.", open)
	}
	key := parts[0]
	return &jexpr{tok: open, desc: base.desc + "[" + key.desc + "]", eval: func(ctx *ExecutionContext) (*Value, *Error) {
		b, err := base.eval(ctx)
		if err != nil || b.IsUndefined() {
			return b, err // as for attributes
		}
		k, err := key.Evaluate(ctx)
		if err != nil {
			return nil, err
		}
		v, ok := getItem(b.Interface(), k.Interface())
		if !ok {
			return undefinedValue(base.desc+"["+Repr(k.Interface())+"]", open), nil
		}
		return ctx.resolveValue(toValue(v), open)
	}}, nil
}

func slice(base *jexpr, open *Token, parts [3]*jexpr) *jexpr {
	return &jexpr{tok: open, desc: base.desc + "[:]", eval: func(ctx *ExecutionContext) (*Value, *Error) {
		b, err := base.Evaluate(ctx)
		if err != nil {
			return nil, err
		}
		var bounds [3]*int
		for i, e := range parts {
			if e == nil {
				continue
			}
			v, err := e.Evaluate(ctx)
			if err != nil {
				return nil, err
			}
			n, ok := toInt(v.Interface())
			if !ok {
				return nil, ctx.Error(fmt.Sprintf("slice bounds must be integers, not %s", TypeName(v)), open)
			}
			bounds[i] = &n
		}
		x := b.Interface()
		s, isStr := x.(string)
		var items []any
		if isStr {
			for _, r := range s {
				items = append(items, string(r))
			}
		} else if l, ok := asList(x); ok {
			items = l
		} else {
			return nil, ctx.Error(fmt.Sprintf("cannot slice %s", TypeName(x)), open)
		}
		out := sliceItems(items, bounds)
		if isStr {
			var sb strings.Builder
			for _, c := range out {
				sb.WriteString(c.(string))
			}
			return AsValue(sb.String()), nil
		}
		return AsValue(out), nil
	}}
}

// sliceItems is Python's items[start:stop:step].
func sliceItems(items []any, b [3]*int) []any {
	n := len(items)
	step := 1
	if b[2] != nil && *b[2] != 0 {
		step = *b[2]
	}
	norm := func(p *int, def int) int {
		if p == nil {
			return def
		}
		i := *p
		if i < 0 {
			i += n
		}
		lo, hi := 0, n
		if step < 0 {
			lo, hi = -1, n-1
		}
		return max(lo, min(i, hi))
	}
	out := []any{}
	if step > 0 {
		for i := norm(b[0], 0); i < norm(b[1], n); i += step {
			out = append(out, items[i])
		}
	} else {
		for i := norm(b[0], n-1); i > norm(b[1], -1); i += step {
			out = append(out, items[i])
		}
	}
	return out
}

func call(callee *jexpr, tok *Token, args []callArg) *jexpr {
	return &jexpr{tok: tok, desc: callee.desc + "()", eval: func(ctx *ExecutionContext) (*Value, *Error) {
		f, err := callee.Evaluate(ctx)
		if err != nil {
			return nil, err
		}
		pos, kw, err := evalArgs(ctx, args, true)
		if err != nil {
			return nil, err
		}
		r, cerr := callValue(f.Interface(), pos, kw)
		if cerr != nil {
			return nil, ctx.OrigError(fmt.Errorf("%s: %w", callee.desc, cerr), tok)
		}
		return toValue(r), nil
	}}
}

func callValue(f any, pos []*Value, kw map[string]*Value) (any, error) {
	switch fn := f.(type) {
	case Callable:
		return fn(nativeList(pos), nativeMap(kw))
	case func([]any, map[string]any) (any, error):
		return fn(nativeList(pos), nativeMap(kw))
	case func(...any) (any, error):
		if len(kw) > 0 {
			return nil, fmt.Errorf("takes no keyword arguments")
		}
		return fn(nativeList(pos)...)
	case func(...*Value) (*Value, error): // a macro
		if len(kw) > 0 {
			return nil, fmt.Errorf("macros take no keyword arguments")
		}
		return fn(pos...)
	}
	return nil, fmt.Errorf("%s is not callable", TypeName(f))
}

func nativeList(vs []*Value) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = v.Interface()
	}
	return out
}

func nativeMap(kw map[string]*Value) map[string]any {
	out := make(map[string]any, len(kw))
	for k, v := range kw {
		out[k] = v.Interface()
	}
	return out
}

func methodCall(base *jexpr, nameTok *Token, args []callArg) *jexpr {
	name := nameTok.Val
	return &jexpr{tok: nameTok, desc: base.desc + "." + name + "()", eval: func(ctx *ExecutionContext) (*Value, *Error) {
		b, err := base.Evaluate(ctx)
		if err != nil {
			return nil, err
		}
		pos, kw, err := evalArgs(ctx, args, true)
		if err != nil {
			return nil, err
		}
		x := b.Interface()
		r, found, merr := callMethod(x, name, nativeList(pos))
		if !found {
			// Not a built-in method: a Callable stored under that key.
			f, ok := getAttr(x, name)
			if !ok {
				return nil, ctx.Error(fmt.Sprintf("%s has no method %q", TypeName(x), name), nameTok)
			}
			r, merr = callValue(f, pos, kw)
		}
		if merr != nil {
			return nil, ctx.OrigError(fmt.Errorf("%s.%s(): %w", base.desc, name, merr), nameTok)
		}
		return ctx.resolveValue(toValue(r), nameTok)
	}}
}

func (p *Parser) parseFilterExpr(e *jexpr) (*jexpr, *Error) {
	for {
		switch {
		case p.Peek(TokenSymbol, "|") != nil:
			p.Consume()
			var err *Error
			if e, err = p.parseFilterCall(e); err != nil {
				return nil, err
			}
		case p.peekName("is"):
			p.Consume()
			var err *Error
			if e, err = p.parseTest(e); err != nil {
				return nil, err
			}
		default:
			return e, nil
		}
	}
}

func (p *Parser) parseFilterCall(input *jexpr) (*jexpr, *Error) {
	nameTok := p.MatchType(TokenIdentifier)
	if nameTok == nil {
		return nil, p.Error("Expected a filter name after '|'.", nil)
	}
	fn, ok := filters[nameTok.Val]
	if !ok {
		return nil, p.Error(fmt.Sprintf("Filter '%s' does not exist.", nameTok.Val), nameTok)
	}
	if p.template != nil && p.template.set.bannedFilters[nameTok.Val] {
		return nil, p.Error(fmt.Sprintf("Usage of filter '%s' is not allowed (sandbox restriction active).", nameTok.Val), nameTok)
	}
	var args []callArg
	switch {
	case p.Match(TokenSymbol, "(") != nil:
		var err *Error
		if args, err = p.parseArgs(); err != nil {
			return nil, err
		}
	case p.Match(TokenSymbol, ":") != nil: // pongo2's `filter:arg`
		arg, err := p.parsePrimary()
		if err != nil {
			return nil, err
		}
		if arg, err = p.parsePostfix(arg); err != nil {
			return nil, err
		}
		args = []callArg{{e: arg}}
	}
	name := nameTok.Val
	lax, withArgs := filtersAcceptingUndefined[name], filtersTakingArgs[name]
	return &jexpr{tok: nameTok, desc: input.desc + " | " + name, eval: func(ctx *ExecutionContext) (*Value, *Error) {
		in, err := input.eval(ctx)
		if err != nil {
			return nil, err
		}
		if in.IsUndefined() && !lax {
			return nil, undefinedErr(ctx, in)
		}
		if in, err = ctx.deepResolve(in, nameTok); err != nil {
			return nil, err
		}
		pos, kw, err := evalArgs(ctx, args, !withArgs)
		if err != nil {
			return nil, err
		}
		out, err := fn(in, paramOf(ctx, nameTok, pos, kw, withArgs))
		if err != nil {
			return nil, err.updateFromTokenIfNeeded(ctx.template, nameTok)
		}
		return out, nil
	}}, nil
}

func (p *Parser) parseTest(input *jexpr) (*jexpr, *Error) {
	negate := p.Match(TokenKeyword, "not") != nil
	nameTok := p.Current()
	if nameTok == nil || (nameTok.Typ != TokenIdentifier && nameTok.Typ != TokenKeyword) {
		return nil, p.Error("Expected a test name after 'is'.", nil)
	}
	p.Consume()
	fn, ok := tests[nameTok.Val]
	if !ok {
		return nil, p.Error(fmt.Sprintf("Test '%s' does not exist.", nameTok.Val), nameTok)
	}
	var args []callArg
	if p.Match(TokenSymbol, "(") != nil {
		var err *Error
		if args, err = p.parseArgs(); err != nil {
			return nil, err
		}
	} else if p.bareTestArg() {
		// `x is divisibleby 3`, `x is sameas false`: one argument without parentheses
		arg, err := p.parseUnaryF(false)
		if err != nil {
			return nil, err
		}
		args = []callArg{{e: arg}}
	}
	return &jexpr{tok: nameTok, desc: input.desc + " is " + nameTok.Val, eval: func(ctx *ExecutionContext) (*Value, *Error) {
		in, err := input.eval(ctx)
		if err != nil {
			return nil, err
		}
		if in, err = ctx.deepResolve(in, nameTok); err != nil {
			return nil, err
		}
		pos, kw, err := evalArgs(ctx, args, true)
		if err != nil {
			return nil, err
		}
		out, err := fn(in, paramOf(ctx, nameTok, pos, kw, true))
		if err != nil {
			return nil, err.updateFromTokenIfNeeded(ctx.template, nameTok)
		}
		return AsValue(out.IsTrue() != negate), nil
	}}, nil
}

// bareTestArg reports whether the next token starts an argument of a test
// written without parentheses (Jinja2's rule: not `else`, `and`, `or`, ...).
func (p *Parser) bareTestArg() bool {
	t := p.Current()
	if t == nil {
		return false
	}
	switch t.Typ {
	case TokenString, TokenNumber:
		return true
	case TokenKeyword:
		return t.Val == "true" || t.Val == "false"
	case TokenIdentifier:
		return t.Val != "else" && t.Val != "if" && t.Val != "is"
	case TokenSymbol:
		return t.Val == "[" || t.Val == "{"
	}
	return false
}

// lookup finds a variable: tag-local names (loop variables, set), then the
// caller's context, then the set's globals.
func (ctx *ExecutionContext) lookup(name string, tok *Token) *Value {
	if v, ok := ctx.Private[name]; ok {
		return toValue(v)
	}
	if v, ok := ctx.Public[name]; ok {
		return toValue(v)
	}
	if ctx.template != nil {
		if v, ok := ctx.template.set.Globals[name]; ok {
			return toValue(v)
		}
	}
	return undefinedValue(name, tok)
}
