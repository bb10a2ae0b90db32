package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/koala-stack/koala/pkg/modules"
	"github.com/koala-stack/koala/pkg/playbook"
	"github.com/koala-stack/koala/pkg/vault"
)

// engineAction runs the actions that change engine state rather than a host.
func (r *runner) engineAction(ctx context.Context, sc *scope, hs *hostState, t *playbook.Task, args map[string]any, delegate string) outcome {
	ok := func(msg string) outcome { return outcome{status: StatusOK, res: modules.Result{Msg: msg}} }
	failed := func(format string, a ...any) outcome {
		return outcome{status: StatusFailed, res: modules.Result{Failed: true, Msg: fmt.Sprintf(format, a...)}}
	}
	target := hs
	if delegate != "" && t.DelegateFacts {
		target = r.host(delegate)
	}
	switch t.Action {
	case "set_fact":
		vars := map[string]any{}
		for k, v := range args {
			if k != "cacheable" {
				vars[k] = v
			}
		}
		return r.setHostVars(sc, hs, target, vars)
	case "debug":
		if v, set := args["verbosity"]; set {
			if n, _ := toInt(v); n > r.opts.Verbosity {
				return outcome{status: StatusSkipped, res: modules.Result{Skipped: true}}
			}
		}
		o := ok("")
		if name, set := args["var"].(string); set {
			v, err := sc.r.tpl.Eval(t.Pos.String()+" debug var", name, prepared(sc, name))
			if err != nil {
				return failed("debug var %s: %v", name, err)
			}
			o.debug = map[string]any{name: v}
			return o
		}
		msg, set := args["msg"]
		if !set {
			msg = "Hello world!"
		}
		o.debug = msg
		o.res.Data = map[string]any{"msg": msg}
		return o
	case "assert":
		that := args["that"]
		conds, isList := that.([]any)
		if !isList {
			conds = []any{that}
		}
		for _, c := range conds {
			held, err := sc.cond(t.Pos.String()+" assert", []any{c})
			if err != nil {
				return failed("assert %v: %v", c, err)
			}
			if !held {
				msg := fmt.Sprint(firstSet(args, "fail_msg", "msg"))
				if msg == "" || msg == "<nil>" {
					msg = fmt.Sprintf("Assertion failed: %v", c)
				}
				o := failed("%s", msg)
				o.res.Data = map[string]any{"assertion": c, "evaluated_to": false}
				return o
			}
		}
		msg := fmt.Sprint(firstSet(args, "success_msg"))
		if msg == "<nil>" {
			msg = "All assertions passed"
		}
		return ok(msg)
	case "fail":
		msg := "Failed as requested from task"
		if m, set := args["msg"]; set {
			msg = fmt.Sprint(m)
		}
		return failed("%s", msg)
	case "meta":
		switch metaArg(t) {
		case "end_host":
			r.mu.Lock()
			hs.ended = true
			r.mu.Unlock()
		case "clear_host_errors":
			// Failed hosts are not active, so there is nothing to clear for
			// the hosts that reach this task.
		}
		return ok("")
	case "group_by":
		key := strings.TrimSpace(fmt.Sprint(args["key"]))
		if key == "" {
			return failed("group_by: key is empty")
		}
		groups := []string{key}
		r.addHost(hs.name, groups, nil)
		return outcome{status: StatusChanged, res: modules.Result{Changed: true, Msg: "added to group " + key}}
	case "add_host":
		name := fmt.Sprint(firstSet(args, "name", "hostname", "host"))
		if name == "" || name == "<nil>" {
			return failed("add_host: name is required")
		}
		var groups []string
		switch g := firstSet(args, "groups", "group", "groupname").(type) {
		case string:
			for _, s := range strings.Split(g, ",") {
				if s = strings.TrimSpace(s); s != "" {
					groups = append(groups, s)
				}
			}
		case []any:
			for _, s := range g {
				groups = append(groups, fmt.Sprint(s))
			}
		}
		vars := map[string]any{}
		for k, v := range args {
			switch k {
			case "name", "hostname", "host", "groups", "group", "groupname":
			default:
				vars[k] = v
			}
		}
		r.addHost(name, groups, vars)
		return outcome{status: StatusChanged, res: modules.Result{Changed: true, Msg: "added host " + name}}
	case "include_vars":
		name := fmt.Sprint(firstSet(args, "file", playbook.RawParams))
		vars, err := r.readVarsFile(t, name)
		if err != nil {
			return failed("include_vars: %v", err)
		}
		if ns, set := args["name"].(string); set && ns != "" {
			vars = map[string]any{ns: vars}
		}
		return r.setHostVars(sc, hs, target, vars)
	case "pause":
		d := time.Duration(0)
		if s, set := args["seconds"]; set {
			n, err := toInt(s)
			if err != nil {
				return failed("pause: seconds: %v", err)
			}
			d += time.Duration(n) * time.Second
		}
		if m, set := args["minutes"]; set {
			n, err := toInt(m)
			if err != nil {
				return failed("pause: minutes: %v", err)
			}
			d += time.Duration(n) * time.Minute
		}
		if d == 0 {
			return failed("pause: koala does not prompt; give seconds or minutes")
		}
		select {
		case <-ctx.Done():
			return failed("pause: %v", ctx.Err())
		case <-time.After(d):
		}
		return ok("")
	case "import_tasks", "import_role":
		// Resolved into blocks at load time; reaching here means the loader
		// could not (and reported it).
		return failed("%s was not resolved at load time", t.Action)
	}
	return failed("action %s cannot run here", t.Action)
}

// prepared resolves the variables an expression refers to and returns the
// scope's variables.
func prepared(sc *scope, expr string) map[string]any {
	sc.prepare(expr, true)
	return sc.vars
}

func (r *runner) addHost(name string, groups []string, vars map[string]any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inv.AddHost(name, groups, vars)
	r.groupsCache = nil
	if hs := r.hosts[name]; hs != nil {
		copyInto(hs.inv, vars)
		hs.version++
	}
	r.version++
}

func firstSet(m map[string]any, keys ...string) any {
	for _, k := range keys {
		if v, ok := m[k]; ok {
			return v
		}
	}
	return nil
}

func toInt(v any) (int, error) {
	switch t := v.(type) {
	case int:
		return t, nil
	case float64:
		return int(t), nil
	}
	var n int
	_, err := fmt.Sscan(fmt.Sprint(v), &n)
	if err != nil {
		return 0, fmt.Errorf("%v is not a whole number", v)
	}
	return n, nil
}

// readVarsFile reads a YAML vars file found like a task's files (the role's
// vars/, the playbook directory).
func (r *runner) readVarsFile(t *playbook.Task, name string) (map[string]any, error) {
	f, err := r.pb.FindFile(t, "vars", name)
	if err != nil {
		return nil, err
	}
	data, _, err := f.Read()
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := vault.Default().Unmarshal(f.Display, data, &m); err != nil {
		var verr *vault.Error
		if errors.As(err, &verr) {
			return nil, err
		}
		return nil, fmt.Errorf("%s: %w", f.Display, err)
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// setHostVars gives set_fact's and include_vars' variables to the task: to
// the rest of its loop at once, and to its host through the task's result
// (so that a run_once task gives them to every host of the batch, as Ansible
// does). With delegate_facts they are the delegate's, written at once.
func (r *runner) setHostVars(sc *scope, hs, target *hostState, vars map[string]any) outcome {
	o := outcome{status: StatusOK}
	if target != hs {
		r.setVars(target, vars, false)
		return o
	}
	for k, v := range vars {
		sc.set(k, v)
	}
	o.vars = vars
	return o
}
