package pongo2

// koala: rewritten for Jinja2 loops. Maps are walked in key order, always;
// `for k, v in list_of_pairs` unpacks (so `d.items()` works); `loop.index` and
// friends exist next to pongo2's `forloop`; `{% else %}` is a synonym of
// `{% empty %}`; `for x in xs if cond` filters before counting, as in Jinja2.

import (
	"fmt"
	"sort"
)

type tagForNode struct {
	position        *Token
	key             string
	value           string // for k, v in ...
	objectEvaluator *jexpr
	filter          *jexpr
	reversed        bool
	sorted          bool

	bodyWrapper  *NodeWrapper
	emptyWrapper *NodeWrapper
}

type tagForLoopInformation struct {
	Counter     int
	Counter0    int
	Revcounter  int
	Revcounter0 int
	First       bool
	Last        bool
	Parentloop  *tagForLoopInformation

	length int
}

// GetAttr gives Jinja2's names for the loop counters: loop.index,
// loop.index0, loop.revindex, loop.revindex0, loop.first, loop.last,
// loop.length (pongo2's forloop.Counter etc. remain).
func (l *tagForLoopInformation) GetAttr(name string) (any, bool) {
	switch name {
	case "index", "Counter":
		return l.Counter, true
	case "index0", "Counter0":
		return l.Counter0, true
	case "revindex", "Revcounter":
		return l.Revcounter, true
	case "revindex0", "Revcounter0":
		return l.Revcounter0, true
	case "first", "First":
		return l.First, true
	case "last", "Last":
		return l.Last, true
	case "length":
		return l.length, true
	case "Parentloop":
		if l.Parentloop == nil {
			return nil, false
		}
		return l.Parentloop, true
	}
	return nil, false
}

type forItem struct{ key, value *Value }

// forItems lists what a loop walks over.
func (node *tagForNode) forItems(ctx *ExecutionContext, obj *Value) ([]forItem, *Error) {
	x := obj.Interface()
	var items []forItem
	switch {
	case x == nil:
		// none iterates as empty, as pongo2 did; Jinja2 would raise
	case isString(x):
		for _, r := range x.(string) {
			items = append(items, forItem{key: AsValue(string(r))})
		}
	default:
		if l, ok := asList(x); ok {
			for _, e := range l {
				it := forItem{key: toValue(e)}
				if node.value != "" {
					pair, ok := asList(e)
					if !ok || len(pair) != 2 {
						return nil, ctx.Error(fmt.Sprintf("cannot unpack %s into %s, %s: need a list of pairs", Repr(e), node.key, node.value), node.position)
					}
					it = forItem{key: toValue(pair[0]), value: toValue(pair[1])}
				}
				items = append(items, it)
			}
		} else if m, ok := asMap(x); ok {
			for _, k := range SortedKeys(m) {
				items = append(items, forItem{key: AsValue(k), value: toValue(m[k])})
			}
		} else {
			return nil, ctx.Error(fmt.Sprintf("cannot loop over %s", TypeName(x)), node.position)
		}
	}
	if node.sorted {
		sort.SliceStable(items, func(i, j int) bool {
			c, err := Compare(items[i].key, items[j].key)
			if err != nil {
				return Str(items[i].key) < Str(items[j].key)
			}
			return c < 0
		})
	}
	if node.reversed {
		for i, j := 0, len(items)-1; i < j; i, j = i+1, j-1 {
			items[i], items[j] = items[j], items[i]
		}
	}
	return items, nil
}

func isString(x any) bool {
	_, ok := x.(string)
	return ok
}

// bind sets the loop variables, resolving lazy values (koala_lazy.go).
func (node *tagForNode) bind(ctx *ExecutionContext, it forItem) *Error {
	key, err := ctx.resolveValue(it.key, node.position)
	if err != nil {
		return err
	}
	ctx.Private[node.key] = key
	if node.value != "" {
		if it.value == nil {
			it.value = AsValue(nil)
		}
		value, err := ctx.resolveValue(it.value, node.position)
		if err != nil {
			return err
		}
		ctx.Private[node.value] = value
	}
	return nil
}

func (node *tagForNode) Execute(ctx *ExecutionContext, writer TemplateWriter) *Error {
	forCtx := NewChildExecutionContext(ctx)
	loopInfo := &tagForLoopInformation{}
	if parent, ok := forCtx.Private["forloop"].(*tagForLoopInformation); ok {
		loopInfo.Parentloop = parent
	}
	forCtx.Private["forloop"] = loopInfo
	forCtx.Private["loop"] = loopInfo // Jinja2's name; see GetAttr

	obj, err := node.objectEvaluator.Evaluate(forCtx)
	if err != nil {
		return err
	}
	items, err := node.forItems(forCtx, obj)
	if err != nil {
		return err
	}
	if node.filter != nil {
		kept := items[:0:0]
		for _, it := range items {
			if err := node.bind(forCtx, it); err != nil {
				return err
			}
			ok, err := node.filter.Evaluate(forCtx)
			if err != nil {
				return err
			}
			if ok.IsTrue() {
				kept = append(kept, it)
			}
		}
		items = kept
	}

	if len(items) == 0 {
		if node.emptyWrapper != nil {
			return node.emptyWrapper.Execute(forCtx, writer)
		}
		return nil
	}
	n := len(items)
	for idx, it := range items {
		if err := node.bind(forCtx, it); err != nil {
			return err
		}
		*loopInfo = tagForLoopInformation{
			Counter: idx + 1, Counter0: idx, Revcounter: n - idx, Revcounter0: n - idx - 1,
			First: idx == 0, Last: idx == n-1, Parentloop: loopInfo.Parentloop, length: n,
		}
		if err := node.bodyWrapper.Execute(forCtx, writer); err != nil {
			return err
		}
	}
	return nil
}

func tagForParser(doc *Parser, start *Token, arguments *Parser) (INodeTag, *Error) {
	forNode := &tagForNode{position: start}

	keyToken := arguments.MatchType(TokenIdentifier)
	if keyToken == nil {
		return nil, arguments.Error("Expected a loop variable name after 'for'.", nil)
	}
	forNode.key = keyToken.Val
	if arguments.Match(TokenSymbol, ",") != nil {
		valueToken := arguments.MatchType(TokenIdentifier)
		if valueToken == nil {
			return nil, arguments.Error("Expected a second loop variable name after ','.", nil)
		}
		forNode.value = valueToken.Val
	}

	if arguments.Match(TokenKeyword, "in") == nil {
		return nil, arguments.Error("Expected 'in'.", nil)
	}

	objectEvaluator, err := arguments.parseExpressionNoCond()
	if err != nil {
		return nil, err
	}
	forNode.objectEvaluator = objectEvaluator

	if arguments.Match(TokenIdentifier, "if") != nil {
		if forNode.filter, err = arguments.parseExpressionNoCond(); err != nil {
			return nil, err
		}
	}
	if arguments.Match(TokenIdentifier, "reversed") != nil {
		forNode.reversed = true
	}
	if arguments.Match(TokenIdentifier, "sorted") != nil {
		forNode.sorted = true
	}
	if arguments.Remaining() > 0 {
		return nil, arguments.Error("Malformed for-loop arguments.", nil)
	}

	wrapper, endargs, err := doc.WrapUntilTag("empty", "else", "endfor")
	if err != nil {
		return nil, err
	}
	forNode.bodyWrapper = wrapper
	if endargs.Count() > 0 {
		return nil, endargs.Error("Arguments not allowed here.", nil)
	}

	if wrapper.Endtag != "endfor" {
		wrapper, endargs, err = doc.WrapUntilTag("endfor")
		if err != nil {
			return nil, err
		}
		forNode.emptyWrapper = wrapper
		if endargs.Count() > 0 {
			return nil, endargs.Error("Arguments not allowed here.", nil)
		}
	}

	return forNode, nil
}

func init() {
	RegisterTag("for", tagForParser)
}
