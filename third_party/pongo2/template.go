package pongo2

import (
	"bytes"
	"io"
	"strings"
)

type TemplateWriter interface {
	io.Writer
	WriteString(string) (int, error)
}

type templateWriter struct {
	w io.Writer
}

func (tw *templateWriter) WriteString(s string) (int, error) {
	return tw.w.Write([]byte(s))
}

func (tw *templateWriter) Write(b []byte) (int, error) {
	return tw.w.Write(b)
}

type Template struct {
	set *TemplateSet

	// Input
	isTplString bool
	name        string
	tpl         string
	size        int

	// Calculation
	tokens []*Token
	parser *Parser

	// first come, first serve (it's important to not override existing entries in here)
	level          int
	parent         *Template
	child          *Template
	blocks         map[string]*NodeWrapper
	exportedMacros map[string]*tagMacroNode

	// Output
	root *nodeDocument

	// Options allow you to change the behavior of template-engine.
	// You can change the options before calling the Execute method.
	Options *Options
}

func newTemplateString(set *TemplateSet, tpl []byte) (*Template, error) {
	return newTemplate(set, "<string>", true, tpl)
}

func newTemplate(set *TemplateSet, name string, isTplString bool, tpl []byte) (*Template, error) {
	strTpl := string(tpl)

	// Create the template
	t := &Template{
		set:            set,
		isTplString:    isTplString,
		name:           name,
		tpl:            strTpl,
		size:           len(strTpl),
		blocks:         make(map[string]*NodeWrapper),
		exportedMacros: make(map[string]*tagMacroNode),
		Options:        newOptions(),
	}
	// Copy all settings from another Options.
	t.Options.Update(set.Options)

	// Tokenize it
	tokens, err := lex(name, strTpl)
	if err != nil {
		return nil, err
	}
	t.tokens = tokens
	t.trimBlocks()

	// For debugging purposes, show all tokens:
	/*for i, t := range tokens {
		fmt.Printf("%3d. %s\n", i, t)
	}*/

	// Parse it
	err = t.parse()
	if err != nil {
		return nil, err
	}

	return t, nil
}

// trimBlocks applies TrimBlocks and LStripBlocks to the tokens, once, after
// lexing. (koala: upstream did this on every execution, mutating tokens shared
// by concurrent executions and trimming again on each run.)
func (tpl *Template) trimBlocks() {
	if !tpl.Options.TrimBlocks && !tpl.Options.LStripBlocks {
		return
	}
	prev := &Token{
		Typ: TokenHTML,
		Val: "\n",
	}
	for _, t := range tpl.tokens {
		if tpl.Options.LStripBlocks {
			if prev.Typ == TokenHTML && t.Typ != TokenHTML && t.Val == "{%" {
				prev.Val = strings.TrimRight(prev.Val, "\t ")
			}
		}
		if tpl.Options.TrimBlocks {
			if t.Typ == TokenHTML && ((prev.Typ != TokenHTML && prev.Val == "%}") || t.afterComment) {
				if len(t.Val) > 0 && t.Val[0] == '\n' {
					t.Val = t.Val[1:]
				}
			}
		}
		prev = t
	}
}

func (tpl *Template) newContextForExecution(context Context) (*Template, *ExecutionContext, error) {
	parent := tpl
	for parent.parent != nil {
		parent = parent.parent
	}

	// koala: the caller's context is used as it is, not copied and checked key
	// by key on every execution (vars maps hold thousands of keys); globals are
	// looked up after it, and macros (tag-local) before it
	// (ExecutionContext.lookup).
	if context == nil {
		context = Context{}
	}

	ctx := newExecutionContext(parent, context)

	return parent, ctx, nil
}

func (tpl *Template) execute(context Context, writer TemplateWriter) error {
	parent, ctx, err := tpl.newContextForExecution(context)
	if err != nil {
		return err
	}
	if err := tpl.runChildDefinitions(ctx); err != nil {
		return err
	}

	// Run the selected document
	if err := parent.root.Execute(ctx, writer); err != nil {
		return err
	}

	return nil
}

// runChildDefinitions runs the top-level imports, macros and sets of an
// extending template and its ancestors below the root, as Jinja2 does, so
// their blocks can use them (pongo2 ignores everything outside blocks).
func (tpl *Template) runChildDefinitions(ctx *ExecutionContext) *Error {
	for t := tpl; t != nil && t.parent != nil; t = t.parent {
		for _, n := range t.root.Nodes {
			switch n.(type) {
			case *tagImportNode, *tagMacroNode, *tagSetNode:
				if err := n.Execute(ctx, discardWriter{}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

type discardWriter struct{}

func (discardWriter) Write(b []byte) (int, error)       { return len(b), nil }
func (discardWriter) WriteString(s string) (int, error) { return len(s), nil }

func (tpl *Template) newTemplateWriterAndExecute(context Context, writer io.Writer) error {
	return tpl.execute(context, &templateWriter{w: writer})
}

func (tpl *Template) newBufferAndExecute(context Context) (*bytes.Buffer, error) {
	// Create output buffer
	// We assume that the rendered template will be 30% larger
	buffer := bytes.NewBuffer(make([]byte, 0, int(float64(tpl.size)*1.3)))
	if err := tpl.execute(context, buffer); err != nil {
		return nil, err
	}
	return buffer, nil
}

// Executes the template with the given context and writes to writer (io.Writer)
// on success. Context can be nil. Nothing is written on error; instead the error
// is being returned.
func (tpl *Template) ExecuteWriter(context Context, writer io.Writer) error {
	buf, err := tpl.newBufferAndExecute(context)
	if err != nil {
		return err
	}
	_, err = buf.WriteTo(writer)
	if err != nil {
		return err
	}
	return nil
}

// Same as ExecuteWriter. The only difference between both functions is that
// this function might already have written parts of the generated template in the
// case of an execution error because there's no intermediate buffer involved for
// performance reasons. This is handy if you need high performance template
// generation or if you want to manage your own pool of buffers.
func (tpl *Template) ExecuteWriterUnbuffered(context Context, writer io.Writer) error {
	return tpl.newTemplateWriterAndExecute(context, writer)
}

// Executes the template and returns the rendered template as a []byte
func (tpl *Template) ExecuteBytes(context Context) ([]byte, error) {
	// Execute template
	buffer, err := tpl.newBufferAndExecute(context)
	if err != nil {
		return nil, err
	}
	return buffer.Bytes(), nil
}

// Executes the template and returns the rendered template as a string
func (tpl *Template) Execute(context Context) (string, error) {
	// koala: a strings.Builder hands its bytes to the string without a copy.
	var b strings.Builder
	b.Grow(tpl.size + tpl.size/3)
	if err := tpl.execute(context, &b); err != nil {
		return "", err
	}
	return b.String(), nil
}

func (tpl *Template) ExecuteBlocks(context Context, blocks []string) (map[string]string, error) {
	var parents []*Template
	result := make(map[string]string)

	parent := tpl
	for parent != nil {
		// We only want to execute the template if it has a block we want
		for _, block := range blocks {
			if _, ok := tpl.blocks[block]; ok {
				parents = append(parents, parent)
				break
			}
		}
		parent = parent.parent
	}

	for _, t := range parents {
		var buffer *bytes.Buffer
		var ctx *ExecutionContext
		var err error
		for _, blockName := range blocks {
			if _, ok := result[blockName]; ok {
				continue
			}
			if blockWrapper, ok := t.blocks[blockName]; ok {
				// assign the buffer if we haven't done so
				if buffer == nil {
					buffer = bytes.NewBuffer(make([]byte, 0, int(float64(t.size)*1.3)))
				}
				// assign the context if we haven't done so
				if ctx == nil {
					_, ctx, err = t.newContextForExecution(context)
					if err != nil {
						return nil, err
					}
				}
				bErr := blockWrapper.Execute(ctx, buffer)
				if bErr != nil {
					return nil, bErr
				}
				result[blockName] = buffer.String()
				buffer.Reset()
			}
		}
		// We have found all blocks
		if len(blocks) == len(result) {
			break
		}
	}

	return result, nil
}
