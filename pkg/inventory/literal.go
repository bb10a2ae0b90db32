package inventory

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// iniValue converts a value from an INI inventory the way Ansible's INI plugin
// does: Python's ast.literal_eval, and the raw text when that fails. So 1 is an
// int, True a bool, [1, 2] a list, 0022 (invalid in Python 3) the string "0022".
func iniValue(s string) any {
	v, err := literalEval(s)
	if err != nil {
		return s
	}
	return v
}

var errNotLiteral = errors.New("not a Python literal")

// maxLiteralDepth bounds nesting like CPython's parser does (it refuses about 200
// levels), so hostile input cannot exhaust the stack.
const maxLiteralDepth = 100

// literalEval evaluates the subset of Python expressions ast.literal_eval
// accepts: numbers, strings (with implicit concatenation), bytes (decoded),
// True/False/None, lists, tuples, sets and dicts. Tuples and sets become []any,
// dict keys are stringified as Python's json module would. Complex numbers and
// integers beyond int64 are not supported: the caller keeps the text.
func literalEval(s string) (any, error) {
	p := &litParser{src: strings.TrimLeft(s, " \t")}
	if err := p.tokenize(); err != nil {
		return nil, err
	}
	v, err := p.exprList(0)
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tkEOF {
		return nil, errNotLiteral
	}
	return v, nil
}

type tokKind int

const (
	tkEOF tokKind = iota
	tkNum
	tkStr
	tkName
	tkOp
)

type litTok struct {
	kind tokKind
	text string // operator or name text
	val  any    // number or decoded string
	raw  bool   // a bytes literal (b'...'): cannot be concatenated with str
}

type litParser struct {
	src  string
	toks []litTok
	pos  int
}

func (p *litParser) peek() litTok { return p.toks[p.pos] }
func (p *litParser) next() litTok { t := p.toks[p.pos]; p.pos++; return t }

func (p *litParser) tokenize() error {
	s := p.src
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\f':
			i++
		case c == '#':
			i = len(s)
		case c == '\n' || c == '\r':
			// A logical newline ends the expression; only blank/comment lines may follow.
			rest := strings.TrimSpace(s[i:])
			if rest != "" && !strings.HasPrefix(rest, "#") {
				return errNotLiteral
			}
			i = len(s)
		case strings.IndexByte("[](){},:+-", c) >= 0:
			p.toks = append(p.toks, litTok{kind: tkOp, text: s[i : i+1]})
			i++
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			n, v, err := scanNumber(s[i:])
			if err != nil {
				return err
			}
			p.toks = append(p.toks, litTok{kind: tkNum, val: v})
			i += n
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80:
			j := i
			for j < len(s) {
				r, w := utf8.DecodeRuneInString(s[j:])
				if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r >= 0x80 && r != utf8.RuneError {
					j += w
					continue
				}
				break
			}
			if j == i {
				return errNotLiteral
			}
			name := s[i:j]
			if j < len(s) && (s[j] == '\'' || s[j] == '"') && isStringPrefix(name) {
				n, v, err := scanString(s[j:], strings.ContainsAny(name, "rR"))
				if err != nil {
					return err
				}
				if strings.ContainsAny(name, "fF") {
					return errNotLiteral // f-strings are not literals
				}
				p.toks = append(p.toks, litTok{kind: tkStr, val: v, raw: strings.ContainsAny(name, "bB")})
				i = j + n
				continue
			}
			p.toks = append(p.toks, litTok{kind: tkName, text: name})
			i = j
		case c == '\'' || c == '"':
			n, v, err := scanString(s[i:], false)
			if err != nil {
				return err
			}
			p.toks = append(p.toks, litTok{kind: tkStr, val: v})
			i += n
		default:
			return errNotLiteral
		}
	}
	p.toks = append(p.toks, litTok{kind: tkEOF})
	return nil
}

func isStringPrefix(n string) bool {
	switch strings.ToLower(n) {
	case "r", "u", "b", "br", "rb", "f", "fr", "rf":
		return true
	}
	return false
}

// scanNumber reads a Python number literal at the start of s.
func scanNumber(s string) (int, any, error) {
	i := 0
	if len(s) > 1 && s[0] == '0' && strings.IndexByte("xXoObB", s[1]) >= 0 {
		base := map[byte]int{'x': 16, 'o': 8, 'b': 2}[s[1]|0x20]
		i = 2
		digits := strings.Builder{}
		lastUnderscore := false // single underscores may separate digits, also after the prefix
		for i < len(s) {
			c := s[i]
			if c == '_' && !lastUnderscore {
				lastUnderscore = true
				i++
				continue
			}
			if d := digitVal(c); d < base {
				digits.WriteByte(c)
				lastUnderscore = false
				i++
				continue
			}
			break
		}
		if digits.Len() == 0 || lastUnderscore || i < len(s) && isIdentByte(s[i]) {
			return 0, nil, errNotLiteral
		}
		v, err := strconv.ParseInt(digits.String(), base, 64)
		if err != nil {
			return 0, nil, errNotLiteral
		}
		return i, int(v), nil
	}
	// Decimal integer or float: digitpart ["." [digitpart]] [exponent], or "." digitpart.
	digitpart := func() (string, bool) {
		start := i
		var b strings.Builder
		for i < len(s) {
			if s[i] >= '0' && s[i] <= '9' {
				b.WriteByte(s[i])
				i++
			} else if s[i] == '_' && i > start && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
				i++
			} else {
				break
			}
		}
		return b.String(), i > start
	}
	intPart, _ := digitpart()
	isFloat := false
	frac := ""
	if i < len(s) && s[i] == '.' {
		isFloat = true
		i++
		frac, _ = digitpart()
	}
	exp := ""
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j < len(s) && s[j] >= '0' && s[j] <= '9' {
			sign := s[i+1 : j]
			i = j
			d, _ := digitpart()
			exp = "e" + sign + d
			isFloat = true
		}
	}
	if i < len(s) && (s[i] == 'j' || s[i] == 'J' || isIdentByte(s[i])) {
		return 0, nil, errNotLiteral // complex numbers and junk such as 1abc
	}
	if isFloat {
		if intPart == "" && frac == "" {
			return 0, nil, errNotLiteral
		}
		f, err := strconv.ParseFloat(orZero(intPart)+"."+orZero(frac)+exp, 64)
		if err != nil && !math.IsInf(f, 0) {
			return 0, nil, errNotLiteral
		}
		return i, f, nil
	}
	// Python 3 rejects leading zeros in non-zero decimal integers.
	if len(intPart) > 1 && intPart[0] == '0' && strings.Trim(intPart, "0") != "" {
		return 0, nil, errNotLiteral
	}
	v, err := strconv.ParseInt(intPart, 10, 64)
	if err != nil {
		return 0, nil, errNotLiteral
	}
	return i, int(v), nil
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

func digitVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return 99
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// scanString reads a quoted Python string (single, double or triple quoted) at
// the start of s and returns its length and decoded value.
func scanString(s string, raw bool) (int, string, error) {
	q := s[:1]
	if strings.HasPrefix(s, q+q+q) {
		q = q + q + q
	}
	i := len(q)
	var b strings.Builder
	for {
		if i >= len(s) {
			return 0, "", errNotLiteral
		}
		if strings.HasPrefix(s[i:], q) {
			return i + len(q), b.String(), nil
		}
		c := s[i]
		if len(q) == 1 && (c == '\n' || c == '\r') {
			return 0, "", errNotLiteral
		}
		if c != '\\' {
			b.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(s) {
			return 0, "", errNotLiteral
		}
		if raw {
			b.WriteString(s[i : i+2])
			i += 2
			continue
		}
		e := s[i+1]
		i += 2
		switch e {
		case '\n':
		case '\\', '\'', '"':
			b.WriteByte(e)
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		case '0', '1', '2', '3', '4', '5', '6', '7':
			j := i - 1
			for j < len(s) && j < i+2 && s[j] >= '0' && s[j] <= '7' {
				j++
			}
			n, _ := strconv.ParseUint(s[i-1:j], 8, 32)
			b.WriteRune(rune(n))
			i = j
		case 'x', 'u', 'U':
			n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
			if i+n > len(s) {
				return 0, "", errNotLiteral
			}
			r, err := strconv.ParseUint(s[i:i+n], 16, 32)
			if err != nil || r > utf8.MaxRune {
				return 0, "", errNotLiteral
			}
			b.WriteRune(rune(r))
			i += n
		case 'N':
			return 0, "", errNotLiteral // named escapes need Unicode's name table
		default:
			b.WriteByte('\\')
			b.WriteByte(e)
		}
	}
}

// exprList parses a top-level or parenthesised expression list: "1, 2" is a tuple.
func (p *litParser) exprList(depth int) (any, error) {
	first, err := p.atom(depth)
	if err != nil {
		return nil, err
	}
	if !p.isOp(",") {
		return first, nil
	}
	items := []any{first}
	for p.isOp(",") {
		p.next()
		if p.startsAtom() {
			v, err := p.atom(depth)
			if err != nil {
				return nil, err
			}
			items = append(items, v)
		} else {
			break
		}
	}
	return items, nil
}

func (p *litParser) isOp(op string) bool {
	t := p.peek()
	return t.kind == tkOp && t.text == op
}

func (p *litParser) startsAtom() bool {
	t := p.peek()
	switch t.kind {
	case tkNum, tkStr, tkName:
		return true
	case tkOp:
		return strings.Contains("[({+-", t.text)
	}
	return false
}

// number parses the operand of a unary sign: a number, maybe parenthesised
// (Python folds the parentheses away; a nested sign is refused).
func (p *litParser) number(depth int) (any, error) {
	if depth > maxLiteralDepth {
		return nil, errNotLiteral
	}
	t := p.next()
	switch {
	case t.kind == tkNum:
		return t.val, nil
	case t.kind == tkOp && t.text == "(":
		v, err := p.number(depth + 1)
		if err != nil || !p.isOp(")") {
			return nil, errNotLiteral
		}
		p.next()
		return v, nil
	}
	return nil, errNotLiteral
}

// seq parses items up to the closing op, allowing a trailing comma.
func (p *litParser) seq(closing string, depth int, item func() error) (n int, trailingComma bool, err error) {
	for {
		if p.isOp(closing) {
			p.next()
			return n, trailingComma, nil
		}
		if n > 0 && !trailingComma {
			return 0, false, errNotLiteral
		}
		if err := item(); err != nil {
			return 0, false, err
		}
		n++
		trailingComma = false
		if p.isOp(",") {
			p.next()
			trailingComma = true
		}
	}
}

func (p *litParser) atom(depth int) (any, error) {
	if depth > maxLiteralDepth {
		return nil, errNotLiteral
	}
	t := p.next()
	switch t.kind {
	case tkNum:
		return t.val, nil
	case tkStr:
		s := t.val.(string)
		for p.peek().kind == tkStr { // implicit concatenation
			n := p.next()
			if n.raw != t.raw {
				return nil, errNotLiteral // cannot mix bytes and str
			}
			s += n.val.(string)
		}
		if !utf8.ValidString(s) {
			return nil, errNotLiteral
		}
		return s, nil
	case tkName:
		switch t.text {
		case "True":
			return true, nil
		case "False":
			return false, nil
		case "None":
			return nil, nil
		}
		return nil, errNotLiteral
	case tkOp:
		switch t.text {
		case "+", "-":
			v, err := p.number(depth + 1)
			if err != nil || t.text == "+" {
				return v, err
			}
			switch x := v.(type) {
			case int:
				return -x, nil
			case float64:
				return -x, nil
			}
		case "[":
			items := []any{}
			_, _, err := p.seq("]", depth, func() error {
				v, err := p.atom(depth + 1)
				items = append(items, v)
				return err
			})
			return items, err
		case "(":
			if p.isOp(")") {
				p.next()
				return []any{}, nil
			}
			items := []any{}
			n, trailing, err := p.seq(")", depth, func() error {
				v, err := p.atom(depth + 1)
				items = append(items, v)
				return err
			})
			if err != nil {
				return nil, err
			}
			if n == 1 && !trailing {
				return items[0], nil // parentheses, not a tuple
			}
			return items, nil
		case "{":
			return p.dictOrSet(depth)
		}
	}
	return nil, errNotLiteral
}

func (p *litParser) dictOrSet(depth int) (any, error) {
	if p.isOp("}") {
		p.next()
		return map[string]any{}, nil
	}
	first, err := p.atom(depth + 1)
	if err != nil {
		return nil, err
	}
	if !p.isOp(":") { // a set: kept as a list, since JSON has no sets
		items := []any{first}
		if p.isOp(",") {
			p.next()
			_, _, err = p.seq("}", depth, func() error {
				v, err := p.atom(depth + 1)
				items = append(items, v)
				return err
			})
		} else if p.isOp("}") {
			p.next()
		} else {
			err = errNotLiteral
		}
		return items, err
	}
	m := map[string]any{}
	key := first
	for {
		if !p.isOp(":") {
			return nil, errNotLiteral
		}
		p.next()
		v, err := p.atom(depth + 1)
		if err != nil {
			return nil, err
		}
		ks, ok := pyKeyString(key)
		if !ok {
			return nil, errNotLiteral
		}
		m[ks] = v
		if p.isOp("}") {
			p.next()
			return m, nil
		}
		if !p.isOp(",") {
			return nil, errNotLiteral
		}
		p.next()
		if p.isOp("}") {
			p.next()
			return m, nil
		}
		if key, err = p.atom(depth + 1); err != nil {
			return nil, err
		}
	}
}

// pyKeyString turns a scalar dict key into the string Python's json module
// writes for it; containers cannot be keys.
func pyKeyString(k any) (string, bool) {
	switch v := k.(type) {
	case string:
		return v, true
	case nil:
		return "null", true
	case bool:
		if v {
			return "true", true
		}
		return "false", true
	case int:
		return strconv.Itoa(v), true
	case float64:
		return pyFloat(v), true
	}
	return "", false
}
