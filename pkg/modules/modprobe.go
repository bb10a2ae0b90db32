package modules

import (
	"context"
	"fmt"
	"strings"
)

type modprobeModule struct{}

func init() { Register(modprobeModule{}, "modprobe", "community.general.modprobe") }

func (modprobeModule) Args() (accepted, required []string) {
	return []string{"name", "state", "params"}, []string{"name"}
}

// Run loads or unloads a kernel module; params apply when loading.
func (modprobeModule) Run(ctx context.Context, t *Task) (Result, error) {
	a := newArgs(t.Args)
	name := a.str("", "name")
	present := a.choice("present", "state", "present", "absent") == "present"
	params := a.str("", "params")
	if name == "" || strings.ContainsAny(name, " /\t\n") {
		a.bad("name %q is not a kernel module name", name)
	}
	if err := a.err("modprobe"); err != nil {
		return Result{}, err
	}
	// /sys/module lists built-in modules too; lsmod would miss those.
	mod := strings.ReplaceAll(name, "-", "_")
	act := "modprobe -- " + quote(name)
	if params != "" {
		act = "modprobe -- " + quote(name) + " " + quoteAll(strings.Fields(params))
	}
	test := fmt.Sprintf("[ -d /sys/module/%s ]", quote(mod))
	if !present {
		act = "modprobe -r -- " + quote(name)
		test = "! " + test
	}
	res, err := t.exec(ctx, t.script(fmt.Sprintf("if %s; then exit 0; fi; change %s", test, act)))
	if err != nil {
		return Result{}, fmt.Errorf("modprobe %s: %w", name, err)
	}
	data := map[string]any{"name": name, "params": params, "state": map[bool]string{true: "present", false: "absent"}[present]}
	if res.RC != 0 {
		return Result{Failed: true, Data: data, Msg: fmt.Sprintf("host %s: modprobe %s: %s", t.Host, name, firstLine(res.Stderr, res.Stdout))}, nil
	}
	return Result{Changed: strings.HasPrefix(string(res.Stdout), "change"), Data: data}, nil
}
