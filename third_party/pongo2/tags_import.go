package pongo2

// koala: Jinja2's forms of import next to pongo2's:
//
//	{% import "macros.j2" as macros %}        macros.name(...)
//	{% from "macros.j2" import a, b as c %}   a(...), c(...)
//	{% import "macros.j2" a, b as c %}        pongo2's form
//
// A trailing `with context` or `without context` is accepted; imported
// macros always see the importing template's variables.

import (
	"fmt"
)

type tagImportNode struct {
	position  *Token
	filename  string
	namespace string                   // import "f" as namespace
	macros    map[string]*tagMacroNode // alias/name -> macro instance
}

func (node *tagImportNode) Execute(ctx *ExecutionContext, writer TemplateWriter) *Error {
	bind := func(macro *tagMacroNode) func(args ...*Value) (*Value, error) {
		return func(args ...*Value) (*Value, error) {
			return macro.call(ctx, args...)
		}
	}
	if node.namespace != "" {
		ns := make(map[string]any, len(node.macros))
		for name, macro := range node.macros {
			ns[name] = bind(macro)
		}
		ctx.Private[node.namespace] = ns
		return nil
	}
	for name, macro := range node.macros {
		ctx.Private[name] = bind(macro)
	}
	return nil
}

// parseImportSource parses the file name and compiles the imported template.
func parseImportSource(doc *Parser, start *Token, arguments *Parser, node *tagImportNode) (*Template, *Error) {
	filenameToken := arguments.MatchType(TokenString)
	if filenameToken == nil {
		return nil, arguments.Error("Import needs a file name as a string.", nil)
	}
	node.filename = doc.template.set.resolveFilename(doc.template, filenameToken.Val)
	tpl, err := doc.template.set.FromFile(node.filename)
	if err != nil {
		return nil, err.(*Error).updateFromTokenIfNeeded(doc.template, start)
	}
	return tpl, nil
}

// parseMacroList parses `a, b as c` into node.macros.
func parseMacroList(arguments *Parser, tpl *Template, node *tagImportNode) *Error {
	for arguments.Remaining() > 0 && arguments.Peek(TokenIdentifier, "with") == nil && arguments.Peek(TokenIdentifier, "without") == nil {
		macroNameToken := arguments.MatchType(TokenIdentifier)
		if macroNameToken == nil {
			return arguments.Error("Expected macro name (identifier).", nil)
		}
		asName := macroNameToken.Val
		if arguments.Match(TokenKeyword, "as") != nil {
			aliasToken := arguments.MatchType(TokenIdentifier)
			if aliasToken == nil {
				return arguments.Error("Expected macro alias name (identifier).", nil)
			}
			asName = aliasToken.Val
		}
		macroInstance, has := tpl.exportedMacros[macroNameToken.Val]
		if !has {
			return arguments.Error(fmt.Sprintf("Macro '%s' not found in '%s'.", macroNameToken.Val, node.filename), macroNameToken)
		}
		node.macros[asName] = macroInstance
		if arguments.Match(TokenSymbol, ",") == nil {
			break
		}
	}
	if len(node.macros) == 0 {
		return arguments.Error("You must at least specify one macro to import.", nil)
	}
	return nil
}

// parseContextClause accepts `with context` / `without context` and nothing after.
func parseContextClause(arguments *Parser) *Error {
	if arguments.Match(TokenIdentifier, "with") != nil || arguments.Match(TokenIdentifier, "without") != nil {
		if arguments.Match(TokenIdentifier, "context") == nil {
			return arguments.Error("Expected 'context'.", nil)
		}
	}
	if arguments.Remaining() > 0 {
		return arguments.Error("Malformed import.", nil)
	}
	return nil
}

func tagImportParser(doc *Parser, start *Token, arguments *Parser) (INodeTag, *Error) {
	node := &tagImportNode{position: start, macros: map[string]*tagMacroNode{}}
	tpl, err := parseImportSource(doc, start, arguments, node)
	if err != nil {
		return nil, err
	}
	if arguments.Match(TokenKeyword, "as") != nil {
		nsToken := arguments.MatchType(TokenIdentifier)
		if nsToken == nil {
			return nil, arguments.Error("Expected a name after 'as'.", nil)
		}
		node.namespace = nsToken.Val
		for name, macro := range tpl.exportedMacros {
			node.macros[name] = macro
		}
	} else if err := parseMacroList(arguments, tpl, node); err != nil {
		return nil, err
	}
	if err := parseContextClause(arguments); err != nil {
		return nil, err
	}
	return node, nil
}

func tagFromParser(doc *Parser, start *Token, arguments *Parser) (INodeTag, *Error) {
	node := &tagImportNode{position: start, macros: map[string]*tagMacroNode{}}
	tpl, err := parseImportSource(doc, start, arguments, node)
	if err != nil {
		return nil, err
	}
	if arguments.Match(TokenIdentifier, "import") == nil {
		return nil, arguments.Error("Expected 'import' after the file name.", nil)
	}
	if err := parseMacroList(arguments, tpl, node); err != nil {
		return nil, err
	}
	if err := parseContextClause(arguments); err != nil {
		return nil, err
	}
	return node, nil
}

func init() {
	RegisterTag("import", tagImportParser)
	RegisterTag("from", tagFromParser)
}
