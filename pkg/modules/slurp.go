package modules

import (
	"context"
	"fmt"
	"strings"
)

type slurpModule struct{}

func init() { Register(slurpModule{}, "slurp") }

func (slurpModule) Args() (accepted, required []string) {
	return []string{"src", "path"}, []string{"src|path"}
}

// Run reads a file on the host into the result as base64, as Ansible's slurp.
func (slurpModule) Run(ctx context.Context, t *Task) (Result, error) {
	a := newArgs(t.Args)
	src := a.str("", "src", "path")
	if err := a.err("slurp"); err != nil {
		return Result{}, err
	}
	res, err := t.exec(ctx, fmt.Sprintf("f=%s; [ -f \"$f\" ] || { echo \"file not found: $f\" >&2; exit 1; }; base64 -w0 < \"$f\"", quote(src)))
	if err != nil {
		return Result{}, fmt.Errorf("slurp %s: %w", src, err)
	}
	if res.RC != 0 {
		return failed("host %s: slurp %s: %s", t.Host, src, firstLine(res.Stderr, res.Stdout)), nil
	}
	return Result{Data: map[string]any{"content": strings.TrimSpace(string(res.Stdout)), "encoding": "base64", "source": src}}, nil
}
