package engine

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/koala-stack/koala/pkg/playbook"
)

// playState is the state of the play being run.
type playState struct {
	play       *playbook.Play
	vars       map[string]any // play vars, then vars_files
	all        []*hostState
	allNames   []string
	batch      []*hostState
	batchNames []string

	mu       sync.Mutex
	notified map[*playbook.Task]map[*hostState]bool // handler → hosts that notified it
	endPlay  bool                                   // meta: end_play, or the run ends
	endBatch bool                                   // meta: end_batch

	active             []string // activeNames, as of activeAt and activeOf
	activeAt, activeOf int
}

// activeNames lists the play's hosts that have not failed; r.mu is held.
//
// It is asked for every host-task (ansible_play_hosts), so it is kept until a
// host goes down or comes back (downs, the runner's count of those): a list
// made each time would make a run's cost grow with the square of its hosts.
// Callers hold the runner's mu.
func (ps *playState) activeNames(downs int) []string {
	if ps.active != nil && ps.activeAt == downs && ps.activeOf == len(ps.all) {
		return ps.active
	}
	defer func() { ps.activeAt, ps.activeOf = downs, len(ps.all) }()
	ps.active = ps.computeActive()
	return ps.active
}

func (ps *playState) computeActive() []string {
	out := make([]string, 0, len(ps.all))
	for _, h := range ps.all {
		if !h.failed && !h.unreachable {
			out = append(out, h.name)
		}
	}
	return out
}

// StatusIncluded reports an include that expanded for a host; it is not
// counted in the recap.
const StatusIncluded Status = "included"

var gatherTask = &playbook.Task{Name: "Gathering Facts", Action: "setup", Args: map[string]any{}}

func (r *runner) runPlay(ctx context.Context, play *playbook.Play) error {
	ps := &playState{play: play, vars: map[string]any{}, notified: map[*playbook.Task]map[*hostState]bool{}}
	r.play = ps
	copyInto(ps.vars, play.Vars)
	title := play.Name
	if title == "" {
		title = play.Hosts
	}
	// Play-level values (hosts, vars_files names, serial) can only use play
	// vars and extra vars: no host is in scope yet.
	base := &scope{r: r, vars: mergeInto(mergeInto(map[string]any{}, ps.vars), r.extra), done: map[string]bool{}}
	base.vars["groups"] = r.groups()
	pattern, err := base.str(play.Pos.String()+" hosts", play.Hosts)
	if err != nil {
		return fmt.Errorf("%s: hosts: %w", play.Pos, err)
	}
	names, err := r.inv.Match(pattern)
	if err != nil {
		return fmt.Errorf("%s: hosts %q: %w", play.Pos, pattern, err)
	}
	if r.opts.Limit != "" {
		limited, err := r.inv.Match(r.opts.Limit)
		if err != nil {
			return fmt.Errorf("--limit %q: %w", r.opts.Limit, err)
		}
		in := map[string]bool{}
		for _, h := range limited {
			in[h] = true
		}
		var keep []string
		for _, h := range names {
			if in[h] {
				keep = append(keep, h)
			}
		}
		names = keep
	}
	for _, vf := range play.VarsFiles {
		vars := vf.Vars
		if !vf.Loaded {
			name, err := base.str(vf.Pos.String()+" vars_files", vf.Name)
			if err != nil {
				return fmt.Errorf("%s: vars_files: %w", vf.Pos, err)
			}
			if vars, err = r.readVarsFile(nil, name); err != nil {
				return fmt.Errorf("%s: vars_files: %w", vf.Pos, err)
			}
		}
		copyInto(ps.vars, vars)
	}
	for _, n := range names {
		hs := r.host(n)
		hs.ended = false
		if hs.failed || hs.unreachable {
			continue // failed in an earlier play
		}
		hs.played = true
		ps.all = append(ps.all, hs)
		ps.allNames = append(ps.allNames, n)
	}
	if len(ps.all) == 0 {
		r.bus.emit(&PlayStart{Play: title, Pos: play.Pos.String(), Batches: 0})
		return nil
	}
	var serial []playbook.Serial
	for _, s := range play.Serial {
		str, err := base.str(play.Pos.String()+" serial", s)
		if err != nil {
			return fmt.Errorf("%s: serial: %w", play.Pos, err)
		}
		sv, err := playbook.ParseSerial(str)
		if err != nil {
			return fmt.Errorf("%s: serial: %w", play.Pos, err)
		}
		serial = append(serial, sv)
	}
	batches := playbook.Batches(ps.allNames, serial)
	byName := map[string]*hostState{}
	for _, h := range ps.all {
		byName[h.name] = h
	}
	for i, b := range batches {
		if ps.endPlay || ctx.Err() != nil {
			break
		}
		ps.batch, ps.batchNames = nil, b
		for _, n := range b {
			ps.batch = append(ps.batch, byName[n])
		}
		r.bus.emit(&PlayStart{Play: title, Pos: play.Pos.String(), Hosts: b, Batch: i + 1, Batches: len(batches)})
		r.runBatch(ctx, ps)
		if r.allFailed(ps.batch) {
			// Every host of the batch failed: ansible-playbook stops, later
			// plays included.
			r.endRun = true
		}
		if r.endRun {
			ps.endPlay = true
		}
	}
	return ctx.Err()
}

func (r *runner) runBatch(ctx context.Context, ps *playState) {
	hosts := ps.batch
	if ps.play.GatherFacts {
		r.runTask(ctx, hosts, gatherTask, nil, false)
	}
	for _, section := range [][]*playbook.Task{ps.play.PreTasks, ps.play.Tasks, ps.play.PostTasks} {
		if len(section) == 0 {
			continue
		}
		r.runTasks(ctx, hosts, section, nil)
		r.flushHandlers(ctx)
	}
	ps.endBatch = false
}

// allFailed reports whether every one of hosts failed or was unreachable in
// this play (a host that ended with end_host did not fail).
func (r *runner) allFailed(hosts []*hostState) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, h := range hosts {
		if !h.failed && !h.unreachable {
			return false
		}
	}
	return true
}

// runTasks runs tasks in order on the hosts still active.
func (r *runner) runTasks(ctx context.Context, hosts []*hostState, tasks []*playbook.Task, fr *frame) {
	for _, t := range tasks {
		if r.play.endPlay || r.play.endBatch || ctx.Err() != nil {
			return
		}
		act := r.activeHosts(hosts)
		if len(act) == 0 {
			return
		}
		switch {
		case t.IsBlock:
			r.runBlock(ctx, act, t, fr)
		case t.Action == "include_tasks" || t.Action == "include_role":
			r.runInclude(ctx, act, t, fr)
		case t.Action == "meta" && metaArg(t) == "flush_handlers":
			if r.selected(fr, t) {
				r.flushHandlers(ctx)
			}
		default:
			r.runTask(ctx, act, t, fr, false)
		}
	}
}

func metaArg(t *playbook.Task) string {
	s, _ := t.Args[playbook.RawParams].(string)
	return strings.TrimSpace(s)
}

// runBlock runs a block, then its rescue on the hosts that failed in it,
// then its always on every host that entered it.
func (r *runner) runBlock(ctx context.Context, hosts []*hostState, blk *playbook.Task, fr *frame) {
	nf := fr.push(blk, false)
	r.runTasks(ctx, hosts, blk.Block, nf)
	var failed []*hostState
	r.mu.Lock()
	for _, h := range hosts {
		if h.failed && !h.unreachable {
			failed = append(failed, h)
		}
	}
	if len(blk.Rescue) > 0 {
		for _, h := range failed {
			h.failed = false
			r.downs++
			h.stats.Failed--
			h.stats.Rescued++
		}
	}
	r.mu.Unlock()
	if len(blk.Rescue) > 0 && len(failed) > 0 {
		r.runTasks(ctx, failed, blk.Rescue, nf)
	}
	if len(blk.Always) == 0 {
		return
	}
	var cand, stillFailed []*hostState
	r.mu.Lock()
	for _, h := range hosts {
		if h.unreachable || h.ended {
			continue
		}
		if h.failed {
			stillFailed = append(stillFailed, h)
			h.failed = false
			r.downs++
		}
		cand = append(cand, h)
	}
	r.mu.Unlock()
	r.runTasks(ctx, cand, blk.Always, nf)
	r.mu.Lock()
	for _, h := range stillFailed {
		h.failed = true
		r.downs++
	}
	r.mu.Unlock()
}

// flushHandlers runs every notified handler, in definition order, on the
// hosts that notified it and are still active.
func (r *runner) flushHandlers(ctx context.Context) {
	ps := r.play
	for _, h := range ps.play.Handlers {
		if ctx.Err() != nil {
			return
		}
		ps.mu.Lock()
		set := ps.notified[h]
		delete(ps.notified, h)
		ps.mu.Unlock()
		var hosts []*hostState
		for _, hs := range ps.batch {
			if set[hs] {
				hosts = append(hosts, hs)
			}
		}
		if hosts = r.activeHosts(hosts); len(hosts) == 0 {
			continue
		}
		var fr *frame
		if h.Role != nil {
			fr = &frame{t: &playbook.Task{IsBlock: true, Role: h.Role}, role: h.Role}
		}
		r.runTask(ctx, hosts, h, fr, true)
	}
}

// notify records that host hs notified the named handlers (by name, by
// "role : name", or by a listen topic).
func (r *runner) notify(hs *hostState, names []string) {
	ps := r.play
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for _, n := range names {
		for _, h := range ps.play.Handlers {
			if !handlerMatches(h, n) {
				continue
			}
			if ps.notified[h] == nil {
				ps.notified[h] = map[*hostState]bool{}
			}
			ps.notified[h][hs] = true
		}
	}
}

func handlerMatches(h *playbook.Task, name string) bool {
	if h.Name == name || (h.Role != nil && h.Role.Name+" : "+h.Name == name) {
		return true
	}
	for _, l := range h.Listen {
		if l == name {
			return true
		}
	}
	return false
}

// runInclude expands include_tasks / include_role per host and runs the
// included tasks, grouping hosts that include the same file.
func (r *runner) runInclude(ctx context.Context, hosts []*hostState, t *playbook.Task, fr *frame) {
	if !r.selected(fr, t) {
		return
	}
	name := r.displayName(hosts, fr, t)
	start := time.Now()
	r.bus.emit(&TaskStart{Task: name, Pos: t.Pos.String(), Role: roleName(fr, t), Hosts: hostNames(hosts)})
	type group struct {
		key   string
		role  *playbook.Role
		tasks []*playbook.Task
		hosts []*hostState
	}
	var groups []*group
	counts := map[Status]int{}
	for _, hs := range hosts {
		res := &HostResult{Host: hs.name, Task: name, Pos: t.Pos.String()}
		sc := r.newScope(hs, fr, t)
		ok, err := sc.cond(t.Pos.String()+" when", r.whens(fr, t))
		var (
			key   string
			role  *playbook.Role
			tasks []*playbook.Task
		)
		if err == nil && ok {
			key, role, tasks, err = r.resolveInclude(sc, t)
		}
		switch {
		case err != nil:
			res.Status, res.Msg = StatusFailed, err.Error()
		case !ok:
			res.Status = StatusSkipped
		default:
			res.Status, res.Msg = StatusIncluded, key
			var g *group
			for _, x := range groups {
				if x.key == key {
					g = x
				}
			}
			if g == nil {
				g = &group{key: key, role: role, tasks: tasks}
				groups = append(groups, g)
			}
			g.hosts = append(g.hosts, hs)
		}
		r.record(hs, res)
		counts[res.Status]++
	}
	r.bus.emit(&TaskEnd{Task: name, Counts: counts, Elapsed: time.Since(start)})
	r.checkFailLimits(counts)
	for _, g := range groups {
		nf := fr.push(t, true)
		if g.role != nil {
			nf.role = g.role
		}
		r.runTasks(ctx, g.hosts, g.tasks, nf)
	}
}

// resolveInclude finds the tasks an include names for one host.
func (r *runner) resolveInclude(sc *scope, t *playbook.Task) (string, *playbook.Role, []*playbook.Task, error) {
	where := t.Pos.String()
	if t.Action == "include_tasks" {
		raw := t.Args["file"]
		if raw == nil {
			raw = t.Args[playbook.RawParams]
		}
		file, err := sc.str(where+" include_tasks", raw)
		if err != nil {
			return "", nil, nil, err
		}
		if t.Included != nil && !hasTemplate(raw) {
			return file, nil, t.Included, nil
		}
		ts, err := r.pb.IncludeTasks(t, file)
		return file, nil, ts, err
	}
	name, err := sc.str(where+" include_role name", t.Args["name"])
	if err != nil {
		return "", nil, nil, err
	}
	from, err := sc.str(where+" include_role tasks_from", t.Args["tasks_from"])
	if err != nil {
		return "", nil, nil, err
	}
	key := name
	if from != "" {
		key += " (" + from + ")"
	}
	if t.Included != nil && !hasTemplate(t.Args["name"]) && !hasTemplate(t.Args["tasks_from"]) {
		return key, t.IncludedRole, t.Included, nil
	}
	role, ts, err := r.pb.IncludeRole(t, name, from)
	if err == nil && role != nil {
		r.addRoleHandlers(role)
	}
	return key, role, ts, err
}

// addRoleHandlers makes a role included at run time contribute its handlers.
func (r *runner) addRoleHandlers(role *playbook.Role) {
	ps := r.play
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for _, h := range ps.play.Handlers {
		if h.Role == role {
			return
		}
	}
	ps.play.Handlers = append(ps.play.Handlers, role.Handlers...)
}

func hostNames(hs []*hostState) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.name
	}
	return out
}

func taskName(t *playbook.Task) string {
	if t.Name != "" {
		return t.Name
	}
	if t.Action == "" {
		return "block"
	}
	return t.Action
}

// displayName is the task's name as Ansible shows it: templated with the
// first host's variables ("Check {{ project_name }} containers" reads "Check
// keystone containers"), the raw name when it cannot be rendered.
func (r *runner) displayName(hosts []*hostState, fr *frame, t *playbook.Task) string {
	name := taskName(t)
	if len(hosts) == 0 || !playbook.HasTemplate(name) {
		return name
	}
	if s, err := r.newScope(hosts[0], fr, t).render(t.Pos.String()+" name", name); err == nil {
		return s
	}
	return name
}

func roleName(fr *frame, t *playbook.Task) string {
	if t.Role != nil {
		return t.Role.Name
	}
	if fr != nil && fr.role != nil {
		return fr.role.Name
	}
	return ""
}

// whens collects the conditions of t and of the blocks around it; a dynamic
// include's own condition was evaluated when it ran.
func (r *runner) whens(fr *frame, t *playbook.Task) []any {
	var out []any
	for _, f := range fr.chain() {
		if !f.include {
			out = append(out, f.t.When...)
		}
	}
	return append(out, t.When...)
}

// tags collects the tags of t, the blocks and roles around it and the play;
// a dynamic include's own tags select the include only.
func (r *runner) tags(fr *frame, t *playbook.Task) []string {
	out := append([]string{}, r.play.play.Tags...)
	for _, f := range fr.chain() {
		if !f.include {
			out = append(out, f.t.Tags...)
		}
	}
	return append(out, t.Tags...)
}

func (r *runner) selected(fr *frame, t *playbook.Task) bool {
	return Selected(r.tags(fr, t), r.opts.Tags, r.opts.SkipTags)
}

// Selected decides by tags whether a task runs, as ansible-playbook's
// --tags/--skip-tags do: "all" (the default) selects every task not tagged
// "never"; "tagged" and "untagged" select by having tags; a task tagged
// "always" runs unless "always" is skipped; a task tagged "never" runs only
// when one of its tags is asked for by name. Skip wins over selection.
func Selected(taskTags, only, skip []string) bool {
	has := func(list []string, s string) bool {
		for _, x := range list {
			if x == s {
				return true
			}
		}
		return false
	}
	anyOf := func(list []string) bool {
		for _, x := range list {
			if has(taskTags, x) {
				return true
			}
		}
		return false
	}
	if len(skip) > 0 {
		if anyOf(skip) || has(skip, "all") ||
			(has(skip, "tagged") && len(taskTags) > 0) || (has(skip, "untagged") && len(taskTags) == 0) {
			return false
		}
	}
	if has(taskTags, "always") {
		return true
	}
	if len(only) == 0 {
		only = []string{"all"}
	}
	explicit := anyOf(only)
	if has(taskTags, "never") {
		return explicit
	}
	switch {
	case explicit:
		return true
	case has(only, "all"):
		return true
	case has(only, "tagged") && len(taskTags) > 0:
		return true
	case has(only, "untagged") && len(taskTags) == 0:
		return true
	}
	return false
}
