package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/koala-stack/koala/pkg/modules"
	"github.com/koala-stack/koala/pkg/playbook"
	"github.com/koala-stack/koala/pkg/transport"
)

const hiddenMsg = "the output has been hidden due to no_log: true"

// runTask runs one (non-block, non-include) task on hosts, in parallel, and
// returns when every host has finished it.
func (r *runner) runTask(ctx context.Context, hosts []*hostState, t *playbook.Task, fr *frame, handler bool) {
	if !handler && t != gatherTask && !r.selected(fr, t) {
		return
	}
	ps := r.play
	name := r.displayName(hosts, fr, t)
	pos := t.Pos.String()
	if t == gatherTask {
		pos = ps.play.Pos.String()
	}
	if t.Action == "meta" && (metaArg(t) == "end_play" || metaArg(t) == "end_batch") {
		r.bus.emit(&TaskStart{Task: name, Pos: pos, Hosts: hostNames(hosts)})
		// Meta tasks bypass the host loop: when is asked of the first host.
		if ok, err := r.newScope(hosts[0], fr, t).cond(pos+" when", r.whens(fr, t)); err != nil || !ok {
			res := &HostResult{Host: hosts[0].name, Task: name, Pos: pos, Status: StatusSkipped}
			if err != nil {
				res.Status, res.Msg = StatusFailed, fmt.Sprintf("when: %v", err)
			}
			r.record(hosts[0], res)
			r.bus.emit(&TaskEnd{Task: name, Counts: map[Status]int{res.Status: 1}})
			return
		}
		// As ansible-core 2.14: end_play ends every batch of the play,
		// end_batch only this one.
		if metaArg(t) == "end_play" {
			ps.endPlay = true
		} else {
			ps.endBatch = true
		}
		r.bus.emit(&TaskEnd{Task: name, Counts: map[Status]int{}})
		return
	}
	targets := hosts
	// run_once (and add_host, which Ansible runs once per task, not per
	// host) runs on the first host; its results are given to every host.
	once := t.Action == "add_host" && !t.HasLoop
	if v := inherited(fr, t, func(t *playbook.Task) any { return t.RunOnce }); v != nil {
		b, err := r.newScope(hosts[0], fr, t).boolean(pos+" run_once", v, false)
		once = once || (err == nil && b)
	}
	if once {
		targets = hosts[:1]
	}
	start := time.Now()
	r.bus.emit(&TaskStart{Task: name, Pos: pos, Role: roleName(fr, t), Handler: handler, Hosts: hostNames(targets)})
	var mu sync.Mutex
	counts := map[Status]int{}
	var onceVars map[string]any
	var onceChanged bool
	var onceStatus Status
	r.forEach(ctx, targets, func(hs *hostState) {
		res, written, changed := r.execTask(ctx, hs, t, fr)
		res.Task = name
		r.record(hs, res)
		if changed && len(t.Notify) > 0 {
			r.notify(hs, t.Notify)
		}
		mu.Lock()
		counts[res.Status]++
		onceVars, onceChanged, onceStatus = written, changed, res.Status
		mu.Unlock()
	})
	if once {
		for _, hs := range hosts[1:] {
			if onceStatus == StatusFailed {
				// Ansible gives a run_once task's result, a failure too,
				// to every host of the batch.
				r.mu.Lock()
				hs.failed = true
				r.downs++
				r.mu.Unlock()
				continue
			}
			if len(onceVars) > 0 {
				r.setVars(hs, onceVars, false)
			}
			if onceChanged && len(t.Notify) > 0 {
				r.notify(hs, t.Notify)
			}
		}
	}
	r.bus.emit(&TaskEnd{Task: name, Counts: counts, Elapsed: time.Since(start)})
	r.checkFailLimits(counts)
}

// checkFailLimits ends the run after a task as any_errors_fatal and
// max_fail_percentage ask: ansible-playbook runs no later play either.
func (r *runner) checkFailLimits(counts map[Status]int) {
	ps := r.play
	failedNow := counts[StatusFailed] + counts[StatusUnreachable]
	if failedNow > 0 && ps.play.AnyErrorsFatal {
		ps.endPlay, r.endRun = true, true
	}
	if ps.play.MaxFailPercentage != nil && len(ps.batch) > 0 {
		failed := 0
		r.mu.Lock()
		for _, h := range ps.batch {
			if h.failed || h.unreachable {
				failed++
			}
		}
		r.mu.Unlock()
		if float64(failed)*100/float64(len(ps.batch)) > *ps.play.MaxFailPercentage {
			ps.endPlay, r.endRun = true, true
		}
	}
}

// record updates a host's counters and state for a result and emits it.
func (r *runner) record(hs *hostState, res *HostResult) {
	r.mu.Lock()
	switch res.Status {
	case StatusOK:
		hs.stats.OK++
	case StatusChanged:
		hs.stats.OK++
		hs.stats.Changed++
	case StatusSkipped:
		hs.stats.Skipped++
	case StatusFailed:
		hs.stats.Failed++
		hs.failed = true
		r.downs++
	case StatusUnreachable:
		hs.stats.Unreachable++
		hs.unreachable = true
		r.downs++
	case StatusIgnored:
		hs.stats.Ignored++
	}
	r.mu.Unlock()
	r.bus.emit(res)
}

// outcome is one module invocation's result on one host (one loop item).
type outcome struct {
	status   Status
	res      modules.Result
	vars     map[string]any // set_fact's variables for the task's host
	data     map[string]any // what register exposes
	err      error
	attempts int
	debug    any
}

// execTask runs t on hs (every loop item), registers the result and returns
// the event, the variables it set on the host and whether it changed.
func (r *runner) execTask(ctx context.Context, hs *hostState, t *playbook.Task, fr *frame) (*HostResult, map[string]any, bool) {
	pos := t.Pos.String()
	res := &HostResult{Host: hs.name, Task: taskName(t), Pos: pos}
	if t == gatherTask {
		res.Pos = r.play.play.Pos.String()
	}
	sc := r.newScope(hs, fr, t)
	fail := func(err error) (*HostResult, map[string]any, bool) {
		res.Status, res.Msg = StatusFailed, err.Error()
		return res, nil, false
	}
	noLog, err := sc.boolean(pos+" no_log", inherited(fr, t, func(t *playbook.Task) any { return t.NoLog }), false)
	if err != nil {
		return fail(err)
	}
	res.Hidden = noLog
	rawDelegate := inherited(fr, t, func(t *playbook.Task) any { return t.DelegateTo })
	// delegate_to is templated per loop item (it may name the item, as in
	// `delegate_to: "{{ item }}"`), once otherwise.
	delegateIn := func(sc *scope) (string, error) {
		d, err := sc.str(pos+" delegate_to", rawDelegate)
		if d == hs.name {
			d = ""
		}
		return d, err
	}
	var delegate string
	if !t.HasLoop {
		if delegate, err = delegateIn(sc); err != nil {
			return fail(err)
		}
	}
	res.Delegate = delegate
	var itemDelegates []string // per loop item
	whens := r.whens(fr, t)
	written := map[string]any{}
	var outs []outcome
	var labels []string
	if !t.HasLoop {
		ok, err := sc.cond(pos+" when", whens)
		if err != nil {
			return fail(fmt.Errorf("when: %w", err))
		}
		if !ok {
			res.Status = StatusSkipped
			if t.Register != "" {
				skip := map[string]any{"changed": false, "skipped": true, "skip_reason": "Conditional result was False"}
				written[t.Register] = skip
				r.setVars(hs, written, false)
			}
			return res, written, false
		}
		outs = append(outs, r.runModule(ctx, sc, hs, t, fr, delegate))
	} else {
		items, err := r.loopItems(sc, t)
		if err != nil {
			return fail(fmt.Errorf("loop: %w", err))
		}
		shared := r.sharedLoop(sc, t, fr, items, whens, rawDelegate)
		runItem := func(i int) (outcome, string, string) {
			item := items[i]
			isc := sc.withItem(t, item, i, len(items))
			isc.loop = shared
			label := r.itemLabel(isc, t, item)
			ok, err := isc.cond(pos+" when", whens)
			var o outcome
			var d string
			switch {
			case err != nil:
				o = outcome{status: StatusFailed, err: fmt.Errorf("when: %w", err)}
			case !ok:
				o = outcome{status: StatusSkipped, data: map[string]any{"changed": false, "skipped": true}}
			default:
				if d, err = delegateIn(isc); err != nil {
					o = outcome{status: StatusFailed, err: err}
					break
				}
				o = r.runModule(ctx, isc, hs, t, fr, d)
			}
			if o.data == nil {
				o.data = map[string]any{}
			}
			o.data[loopVar(t)] = item
			o.data["ansible_loop_var"] = loopVar(t)
			return o, d, label
		}
		if gathersForOthers(t) {
			outs, itemDelegates, labels = r.runItemsAtOnce(ctx, len(items), runItem)
		} else {
			for i := range items {
				if ctx.Err() != nil {
					break
				}
				o, d, label := runItem(i)
				outs, itemDelegates, labels = append(outs, o), append(itemDelegates, d), append(labels, label)
				if o.status == StatusUnreachable {
					break
				}
			}
		}
		for _, d := range itemDelegates {
			if d != "" {
				res.Delegate = d
				break
			}
		}
	}
	status, changed := aggregate(outs, t.HasLoop)
	res.Status = status
	ignore, err := sc.boolean(pos+" ignore_errors", inherited(fr, t, func(t *playbook.Task) any { return t.IgnoreErrors }), false)
	if err != nil {
		return fail(err)
	}
	if status == StatusFailed && ignore {
		res.Status = StatusIgnored
	}
	if status == StatusUnreachable {
		ignoreU, _ := sc.boolean(pos+" ignore_unreachable", inherited(fr, t, func(t *playbook.Task) any { return t.IgnoreUnreachable }), false)
		if ignoreU {
			res.Status = StatusIgnored
		}
	}
	r.describe(res, outs, labels, t.HasLoop)
	for _, o := range outs {
		for k, v := range o.vars {
			written[k] = v
		}
	}
	if t.Register != "" {
		written[t.Register] = registered(outs, t.HasLoop, changed, status)
	}
	// Facts go to the task's host, or with delegate_facts to the delegate
	// (each loop item's own).
	factsOf := map[*hostState]map[string]any{}
	var order []*hostState
	for i, o := range outs {
		if len(o.res.Facts) == 0 {
			continue
		}
		target, d := hs, delegate
		if t.HasLoop && i < len(itemDelegates) {
			d = itemDelegates[i]
		}
		if d != "" && t.DelegateFacts {
			target = r.host(d)
		}
		if _, seen := factsOf[target]; !seen {
			order = append(order, target)
		}
		factsOf[target] = mergeInto(factsOf[target], o.res.Facts)
	}
	for _, target := range order {
		r.setVars(target, factsOf[target], true)
	}
	if len(written) > 0 {
		r.setVars(hs, written, false)
	}
	return res, written, changed
}

// sharedLoop is the modules.Loop the items of t's loop share on one host,
// so that copy, template and file inspect every item in one round trip; nil
// when the items may not run on one connection as one user (delegate_to,
// become or environment templated per item) or are re-run (until).
func (r *runner) sharedLoop(sc *scope, t *playbook.Task, fr *frame, items []any, whens []any, rawDelegate any) *modules.Loop {
	if rawDelegate != nil || len(t.Until) > 0 || gathersForOthers(t) {
		return nil
	}
	for _, get := range []func(*playbook.Task) any{
		func(t *playbook.Task) any { return t.Become }, func(t *playbook.Task) any { return t.BecomeUser },
		func(t *playbook.Task) any { return t.Environment }, func(t *playbook.Task) any { return t.CheckMode },
	} {
		if hasTemplate(inherited(fr, t, get)) {
			return nil
		}
	}
	pos := t.Pos.String()
	return &modules.Loop{Args: func() []map[string]any {
		var all []map[string]any
		for i, item := range items {
			isc := sc.withItem(t, item, i, len(items))
			if ok, err := isc.cond(pos+" when", whens); err != nil || !ok {
				continue
			}
			if v, err := isc.template(pos+" "+t.Action+" arguments", t.Args); err == nil {
				if m, ok := v.(map[string]any); ok {
					all = append(all, m)
				}
			}
		}
		return all
	}}
}

// gathersForOthers reports a loop that gathers the facts of other hosts:
// setup delegated to each item with delegate_facts, kolla-ansible's way of
// knowing the hosts outside --limit. Its items are independent (each reads
// one host and writes that host's facts), so they run at once rather than one
// after another as Ansible runs loop items.
func gathersForOthers(t *playbook.Task) bool {
	return t.Action == "setup" && t.DelegateFacts && t.DelegateTo != nil
}

// runItemsAtOnce runs n loop items concurrently (at most the run's forks at
// a time) and returns their outcomes, delegates and labels in item order.
func (r *runner) runItemsAtOnce(ctx context.Context, n int, runItem func(int) (outcome, string, string)) ([]outcome, []string, []string) {
	outs, delegates, labels := make([]outcome, n), make([]string, n), make([]string, n)
	limit := make(chan struct{}, max(1, min(n, r.opts.Forks)))
	var wg sync.WaitGroup
	for i := range n {
		limit <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-limit; wg.Done() }()
			if ctx.Err() != nil {
				outs[i] = outcome{status: StatusFailed, err: ctx.Err(), data: map[string]any{}}
				return
			}
			outs[i], delegates[i], labels[i] = runItem(i)
		}()
	}
	wg.Wait()
	return outs, delegates, labels
}

func loopVar(t *playbook.Task) string {
	if t.LoopControl.LoopVar != "" {
		return t.LoopControl.LoopVar
	}
	return "item"
}

// withItem is the scope of one loop item.
func (s *scope) withItem(t *playbook.Task, item any, i, n int) *scope {
	v := make(map[string]any, len(s.vars)+4)
	copyInto(v, s.vars)
	done := make(map[string]bool, len(s.done))
	for k := range s.done {
		// Names resolved before the item existed may depend on it.
		if !hasTemplate(v[k]) {
			done[k] = true
		}
	}
	lv := loopVar(t)
	v[lv] = item
	v["ansible_loop_var"] = lv
	done[lv] = true
	if t.LoopControl.IndexVar != "" {
		v[t.LoopControl.IndexVar] = i
		done[t.LoopControl.IndexVar] = true
	}
	if t.LoopControl.Extended {
		v["ansible_loop"] = map[string]any{
			"index": i + 1, "index0": i, "first": i == 0, "last": i == n-1, "length": n,
			"revindex": n - i, "revindex0": n - i - 1,
		}
	}
	return &scope{r: s.r, vars: v, done: done, parent: s}
}

// loopItems templates a task's loop into its items.
func (r *runner) loopItems(sc *scope, t *playbook.Task) ([]any, error) {
	raw := t.Loop
	kind := ""
	if ls, ok := raw.(playbook.LoopSugar); ok {
		raw, kind = ls.Value, ls.Kind
	}
	v, err := sc.template(t.Pos.String()+" loop", raw)
	if err != nil {
		return nil, err
	}
	switch kind {
	case "dict":
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("with_dict needs a mapping, got %T", v)
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		items := make([]any, len(keys))
		for i, k := range keys {
			items[i] = map[string]any{"key": k, "value": m[k]}
		}
		return items, nil
	case "items":
		list, err := asList(v)
		if err != nil {
			return nil, err
		}
		var flat []any
		for _, x := range list {
			if sub, ok := x.([]any); ok {
				flat = append(flat, sub...)
			} else {
				flat = append(flat, x)
			}
		}
		return flat, nil
	}
	return asList(v)
}

func asList(v any) ([]any, error) {
	switch t := v.(type) {
	case nil:
		return nil, nil
	case []any:
		return t, nil
	case []string:
		out := make([]any, len(t))
		for i, s := range t {
			out[i] = s
		}
		return out, nil
	case string:
		return nil, fmt.Errorf("loop needs a list, got the string %q (a template that did not render to a list?)", t)
	}
	return nil, fmt.Errorf("loop needs a list, got %T", v)
}

func (r *runner) itemLabel(sc *scope, t *playbook.Task, item any) string {
	if t.LoopControl.Label != nil {
		if s, err := sc.str(t.Pos.String()+" loop_control.label", t.LoopControl.Label); err == nil {
			return s
		}
	}
	switch item.(type) {
	case string, int, float64, bool:
		return fmt.Sprint(item)
	}
	return shortJSON(item)
}

// runModule runs one invocation (one loop item) with until/retries, then
// applies changed_when and failed_when.
func (r *runner) runModule(ctx context.Context, sc *scope, hs *hostState, t *playbook.Task, fr *frame, delegate string) outcome {
	pos := t.Pos.String()
	argsV, err := sc.template(pos+" "+t.Action+" arguments", t.Args)
	if err != nil {
		return outcome{status: StatusFailed, err: err}
	}
	args, _ := argsV.(map[string]any)
	if args == nil {
		args = map[string]any{}
	}
	retries, delay := 0, 5*time.Second
	if len(t.Until) > 0 {
		retries = 3
		if t.Retries != nil {
			s, err := sc.str(pos+" retries", t.Retries)
			if n, convErr := strconv.Atoi(s); err != nil || convErr != nil || n < 0 {
				return outcome{status: StatusFailed, err: fmt.Errorf("retries: %q is not a count", s)}
			} else {
				retries = n
			}
		}
		if t.Delay != nil {
			s, err := sc.str(pos+" delay", t.Delay)
			f, convErr := strconv.ParseFloat(s, 64)
			if err != nil || convErr != nil || f < 0 {
				return outcome{status: StatusFailed, err: fmt.Errorf("delay: %q is not a number of seconds", s)}
			}
			delay = time.Duration(f * float64(time.Second))
		}
	}
	var limit time.Duration
	if v := inherited(fr, t, func(t *playbook.Task) any { return t.Timeout }); v != nil {
		s, err := sc.str(pos+" timeout", v)
		n, convErr := strconv.Atoi(s)
		if err != nil || convErr != nil || n < 0 {
			return outcome{status: StatusFailed, err: fmt.Errorf("timeout: %q is not a number of seconds", s)}
		}
		limit = time.Duration(n) * time.Second
	}
	var o outcome
	for attempt := 1; ; attempt++ {
		o = r.invokeWithin(ctx, limit, sc, hs, t, fr, args, delegate)
		o.attempts = attempt
		if o.status == StatusUnreachable || ctx.Err() != nil {
			return o
		}
		r.judge(sc, t, &o)
		// A module that skipped (a command in check mode) has no result an
		// until condition could read: there is nothing to wait for.
		if len(t.Until) == 0 || o.status == StatusSkipped {
			return o
		}
		o.data["attempts"] = attempt
		ok, err := sc.cond(pos+" until", t.Until)
		if err != nil {
			o.status, o.err = StatusFailed, fmt.Errorf("until: %w", err)
			return o
		}
		if ok {
			return o
		}
		if attempt > retries {
			o.status = StatusFailed
			if o.err == nil && o.res.Msg == "" {
				o.res.Msg = fmt.Sprintf("until condition still false after %d attempts", attempt)
			}
			o.data["failed"] = true
			return o
		}
		select {
		case <-ctx.Done():
			o.status, o.err = StatusFailed, ctx.Err()
			return o
		case <-time.After(delay):
		}
	}
}

// judge sets the register variable in the scope (for changed_when,
// failed_when and until) and applies changed_when and failed_when.
func (r *runner) judge(sc *scope, t *playbook.Task, o *outcome) {
	pos := t.Pos.String()
	o.data = resultData(o)
	if t.Register != "" {
		sc.vars[t.Register] = o.data
		sc.done[t.Register] = true
	}
	if o.err != nil && o.status == StatusFailed && t.FailedWhen == nil {
		return
	}
	// Nor can changed_when or failed_when judge a skipped invocation.
	if o.status == StatusSkipped {
		return
	}
	if t.ChangedWhen != nil {
		ok, err := sc.cond(pos+" changed_when", t.ChangedWhen)
		if err != nil {
			o.status, o.err = StatusFailed, fmt.Errorf("changed_when: %w", err)
			return
		}
		o.res.Changed = ok
		o.data["changed"] = ok
		if o.status == StatusChanged || o.status == StatusOK {
			o.status = map[bool]Status{true: StatusChanged, false: StatusOK}[ok]
		}
	}
	if t.FailedWhen != nil {
		ok, err := sc.cond(pos+" failed_when", t.FailedWhen)
		if err != nil {
			o.status, o.err = StatusFailed, fmt.Errorf("failed_when: %w", err)
			return
		}
		o.data["failed"] = ok
		o.res.Failed = ok
		switch {
		case ok:
			o.status = StatusFailed
			if o.res.Msg == "" && o.err == nil {
				o.res.Msg = "failed_when condition is true"
			}
		case o.status == StatusFailed:
			o.err = nil
			o.status = map[bool]Status{true: StatusChanged, false: StatusOK}[o.res.Changed]
		}
	}
}

// resultData is what `register:` stores for one invocation.
func resultData(o *outcome) map[string]any {
	d := make(map[string]any, len(o.res.Data)+4)
	copyInto(d, o.res.Data)
	d["changed"] = o.res.Changed
	d["failed"] = o.status == StatusFailed
	if o.res.Skipped {
		d["skipped"] = true
	}
	msg := o.res.Msg
	if o.err != nil {
		msg = o.err.Error()
	}
	if msg != "" {
		d["msg"] = msg
	}
	if len(o.res.Diff) > 0 {
		d["diff"] = o.res.Diff
	}
	return d
}

// registered is the value of the register variable for the whole task.
func registered(outs []outcome, loop, changed bool, status Status) map[string]any {
	if !loop {
		if len(outs) == 0 {
			return map[string]any{"changed": false, "skipped": true}
		}
		return outs[0].data
	}
	results := make([]any, len(outs))
	for i, o := range outs {
		results[i] = o.data
	}
	d := map[string]any{"results": results, "changed": changed, "failed": status == StatusFailed,
		"msg": "All items completed"}
	if status == StatusFailed {
		d["msg"] = "One or more items failed"
	}
	if status == StatusSkipped {
		d["skipped"] = true
	}
	return d
}

// aggregate is the task's status over its items: unreachable, then failed,
// then changed, then ok; skipped when every item was.
func aggregate(outs []outcome, loop bool) (Status, bool) {
	if len(outs) == 0 {
		return StatusSkipped, false
	}
	changed, failed, skipped := false, false, 0
	for _, o := range outs {
		switch o.status {
		case StatusUnreachable:
			return StatusUnreachable, changed
		case StatusFailed:
			failed = true
		case StatusChanged:
			changed = true
		case StatusSkipped:
			skipped++
		}
	}
	switch {
	case failed:
		return StatusFailed, changed
	case skipped == len(outs):
		return StatusSkipped, false
	case changed:
		return StatusChanged, true
	}
	return StatusOK, false
}

// describe fills the event's message, output and items.
func (r *runner) describe(res *HostResult, outs []outcome, labels []string, loop bool) {
	if res.Hidden {
		if res.Status == StatusFailed || res.Status == StatusIgnored {
			res.Msg = hiddenMsg
		}
		if loop {
			for _, o := range outs {
				res.Items = append(res.Items, ItemResult{Label: "(hidden)", Status: o.status})
			}
		}
		return
	}
	for i, o := range outs {
		res.Diff = append(res.Diff, o.res.Diff...)
		if o.attempts > 1 {
			res.Attempts = o.attempts
		}
		msg := o.res.Msg
		if o.err != nil {
			msg = o.err.Error()
		}
		if loop {
			it := ItemResult{Label: labels[i], Status: o.status}
			if o.status == StatusFailed || o.status == StatusUnreachable {
				it.Msg = msg
			}
			res.Items = append(res.Items, it)
		}
		if o.debug != nil {
			res.Debug = o.debug
		}
		// The first failing item (or the only result) gives the message
		// and output shown for the task.
		if o.status == StatusFailed || o.status == StatusUnreachable || (!loop && msg != "") {
			if res.Msg == "" || (o.status == StatusFailed && res.RC == nil) {
				res.Msg = msg
				if rc, ok := o.res.Data["rc"].(int); ok {
					res.RC = &rc
				}
				res.Stdout, _ = o.res.Data["stdout"].(string)
				res.Stderr, _ = o.res.Data["stderr"].(string)
			}
		}
	}
}

// invokeWithin is invoke bounded by the task's timeout (0: none), as
// Ansible's timeout keyword: a module still running then is cancelled and
// the task fails, saying so.
func (r *runner) invokeWithin(ctx context.Context, limit time.Duration, sc *scope, hs *hostState, t *playbook.Task, fr *frame, args map[string]any, delegate string) outcome {
	if limit <= 0 {
		return r.invoke(ctx, sc, hs, t, fr, args, delegate)
	}
	tctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	o := r.invoke(tctx, sc, hs, t, fr, args, delegate)
	failed := o.err != nil || o.status == StatusFailed || o.status == StatusUnreachable
	if failed && ctx.Err() == nil && errors.Is(tctx.Err(), context.DeadlineExceeded) {
		o.status = StatusFailed
		o.err = fmt.Errorf("the task did not finish within its timeout of %s", limit)
	}
	return o
}

// invoke runs an engine action or a module once.
func (r *runner) invoke(ctx context.Context, sc *scope, hs *hostState, t *playbook.Task, fr *frame, args map[string]any, delegate string) outcome {
	pos := t.Pos.String()
	if _, ok := playbook.EngineActions[t.Action]; ok {
		return r.engineAction(ctx, sc, hs, t, args, delegate)
	}
	mod, err := moduleFor(t)
	if err != nil {
		return outcome{status: StatusFailed, err: err}
	}
	kw := func(get func(*playbook.Task) any, play any) any {
		if v := inherited(fr, t, get); v != nil {
			return v
		}
		return play
	}
	become, err := sc.boolean(pos+" become", kw(func(t *playbook.Task) any { return t.Become }, r.play.play.Become), false)
	if err != nil {
		return outcome{status: StatusFailed, err: err}
	}
	becomeUser, err := sc.str(pos+" become_user", kw(func(t *playbook.Task) any { return t.BecomeUser }, r.play.play.BecomeUser))
	if err != nil {
		return outcome{status: StatusFailed, err: err}
	}
	envV, err := sc.template(pos+" environment", kw(func(t *playbook.Task) any { return t.Environment }, r.play.play.Environment))
	if err != nil {
		return outcome{status: StatusFailed, err: err}
	}
	env, err := envMap(envV)
	if err != nil {
		return outcome{status: StatusFailed, err: err}
	}
	check, err := sc.boolean(pos+" check_mode", inherited(fr, t, func(t *playbook.Task) any { return t.CheckMode }), r.opts.Check)
	if err != nil {
		return outcome{status: StatusFailed, err: err}
	}
	diff, err := sc.boolean(pos+" diff", inherited(fr, t, func(t *playbook.Task) any { return t.Diff }), r.opts.Diff)
	if err != nil {
		return outcome{status: StatusFailed, err: err}
	}
	connHost, connVars := hs.name, sc.vars
	if delegate != "" {
		connHost, connVars = delegate, r.connVars(delegate)
	}
	var becomePass string
	if become {
		if becomePass, err = r.becomePassword(sc, pos, connVars); err != nil {
			return outcome{status: StatusFailed, err: err}
		}
	}
	conn, err := r.conn(ctx, connHost, connVars, become, becomeUser, becomePass)
	if err != nil {
		return unreachableOrFailed(err)
	}
	var pending []string
	if check {
		r.mu.Lock()
		pending = slices.Clone(r.hostLocked(connHost).pending)
		r.mu.Unlock()
	}
	mt := &modules.Task{
		Host: hs.name, Args: args, Vars: sc.vars, Conn: conn, Check: check, Diff: diff, Env: env,
		CheckPending: pending,
		ReadFile: func(kind, name string) ([]byte, string, fs.FileMode, error) {
			f, err := r.pb.FindFile(t, kind, name)
			if err != nil {
				return nil, "", 0, err
			}
			data, mode, err := f.Read()
			return data, f.Display, mode, err
		},
		Render: sc.render,
		Loop:   sc.loop,
	}
	mres, err := mod.Run(ctx, mt)
	if err != nil {
		o := unreachableOrFailed(err)
		o.res = mres
		return o
	}
	if check && mres.Changed {
		r.notePending(connHost, args)
	}
	o := outcome{res: mres, status: StatusOK}
	switch {
	case mres.Failed:
		o.status = StatusFailed
	case mres.Skipped:
		o.status = StatusSkipped
	case mres.Changed:
		o.status = StatusChanged
	}
	return o
}

// notePending records, in check mode, the file a changed task would have
// written on host (its dest or path argument).
func (r *runner) notePending(host string, args map[string]any) {
	for _, k := range []string{"dest", "path"} {
		if p, ok := args[k].(string); ok && strings.HasPrefix(p, "/") {
			r.mu.Lock()
			hs := r.hostLocked(host)
			hs.pending = append(hs.pending, path.Clean(p))
			r.mu.Unlock()
			return
		}
	}
}

func unreachableOrFailed(err error) outcome {
	var ue *transport.UnreachableError
	if errors.As(err, &ue) {
		return outcome{status: StatusUnreachable, err: err}
	}
	return outcome{status: StatusFailed, err: err}
}

// connVars are the variables that say how to reach a delegate host.
func (r *runner) connVars(host string) map[string]any {
	hs := r.host(host)
	r.mu.Lock()
	defer r.mu.Unlock()
	v := make(map[string]any, len(hs.inv)+len(r.extra))
	copyInto(v, hs.inv)
	copyInto(v, hs.vars)
	return v
}

func envMap(v any) (map[string]string, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("environment must be a mapping of names to values, got %T", v)
	}
	out := make(map[string]string, len(m))
	for k, x := range m {
		out[k] = fmt.Sprint(x)
	}
	return out, nil
}

func shortJSON(v any) string {
	s := fmt.Sprint(v)
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return strings.ReplaceAll(s, "\n", " ")
}
