package playbook

import (
	"fmt"
	"io/fs"
	"math"
	"path"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ActionSpec describes the arguments of an engine action.
type ActionSpec struct {
	Accepted, Required []string
	AnyArgs            bool // set_fact, add_host: any name is a variable
}

// EngineActions are the actions the engine runs itself rather than through a
// module, because they change engine state (variables, inventory, control flow).
var EngineActions = map[string]ActionSpec{
	"set_fact":      {AnyArgs: true},
	"add_host":      {AnyArgs: true},
	"group_by":      {Accepted: []string{"key", "parents"}, Required: []string{"key"}},
	"debug":         {Accepted: []string{"msg", "var", "verbosity"}},
	"assert":        {Accepted: []string{"that", "fail_msg", "msg", "success_msg", "quiet"}, Required: []string{"that"}},
	"fail":          {Accepted: []string{"msg"}},
	"meta":          {Accepted: []string{RawParams}, Required: []string{RawParams}},
	"include_tasks": {Accepted: []string{"file", RawParams, "apply"}},
	"import_tasks":  {Accepted: []string{"file", RawParams}},
	"include_role":  {Accepted: []string{"name", "tasks_from", "vars_from", "defaults_from", "handlers_from", "public", "apply"}, Required: []string{"name"}},
	"import_role":   {Accepted: []string{"name", "tasks_from", "vars_from", "defaults_from", "handlers_from", "public"}, Required: []string{"name"}},
	"include_vars":  {Accepted: []string{"file", RawParams, "name"}},
	"pause":         {Accepted: []string{"seconds", "minutes", "prompt"}},
}

// ParseSerial parses one serial entry: a count ("3") or a percentage ("30%").
func ParseSerial(s string) (Serial, error) {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || f <= 0 || f > 100 {
			return Serial{}, fmt.Errorf("%q is not a percentage from 1%% to 100%%", s)
		}
		return Serial{Percent: f}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return Serial{}, fmt.Errorf("%q is not a host count or a percentage", s)
	}
	return Serial{Count: n}, nil
}

// Serial is one entry of a play's serial:.
type Serial struct {
	Count   int
	Percent float64
}

// size is the batch size this entry gives for total hosts (at least 1).
func (s Serial) size(total int) int {
	n := s.Count
	if s.Percent > 0 {
		n = int(math.Floor(float64(total) * s.Percent / 100))
	}
	if n <= 0 || n > total {
		if s.Count == 0 && s.Percent == 0 {
			return total // serial: 0 means all at once
		}
		n = max(n, 1)
		n = min(n, total)
	}
	return n
}

// Batches splits hosts into serial batches as Ansible does: each entry of
// the list gives the next batch's size; the last entry repeats until every
// host has had its turn. An empty list is one batch of every host.
func Batches(hosts []string, serial []Serial) [][]string {
	if len(hosts) == 0 {
		return nil
	}
	if len(serial) == 0 {
		return [][]string{hosts}
	}
	var out [][]string
	rest := hosts
	for i := 0; len(rest) > 0; i++ {
		s := serial[min(i, len(serial)-1)]
		n := min(s.size(len(hosts)), len(rest))
		out = append(out, rest[:n:n])
		rest = rest[n:]
	}
	return out
}

// ---- roles ----

func (l *loader) playRoles(file string, n *yaml.Node) []*Task {
	if n.Kind != yaml.SequenceNode {
		l.errorf(pos(file, n), "roles must be a list, not %s", kindName(n))
		return nil
	}
	seen := map[string]bool{}
	var out []*Task
	for _, rn := range n.Content {
		ref := l.roleRef(file, rn)
		if ref == nil {
			continue
		}
		l.addPublicTree(ref.Role)
		out = append(out, l.expandRole(ref, "main.yml", seen, ref.Pos))
	}
	return out
}

var roleRefKeys = []string{"role", "name", "vars", "tags", "when"}

// roleRef reads `- name`, `- role: name` or `- {role: name, vars:, tags:, when:, param: x}`.
func (l *loader) roleRef(file string, n *yaml.Node) *RoleRef {
	ref := &RoleRef{Pos: pos(file, n), Vars: map[string]any{}}
	var name string
	switch n.Kind {
	case yaml.ScalarNode:
		name = n.Value
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			switch k.Value {
			case "role", "name":
				name = l.str(file, v, "role name")
			case "vars":
				for key, val := range l.decodeMap(file, v, "role vars") {
					ref.Vars[key] = val
				}
			case "tags":
				ref.Tags = l.strList(file, v, "tags", true)
			case "when":
				ref.When = l.conds(file, v, "when")
			default:
				// Any other key is a role parameter, as in Ansible.
				ref.Vars[k.Value] = l.decode(file, v)
			}
		}
	default:
		l.errorf(ref.Pos, "a role entry must be a name or a mapping with role:, not %s", kindName(n))
		return nil
	}
	if name == "" {
		l.errorf(ref.Pos, "role entry has no name (expected role: NAME)")
		return nil
	}
	l.checkValue(ref.Pos, "role vars", ref.Vars)
	ref.Role = l.role(name, ref.Pos)
	if ref.Role == nil {
		return nil
	}
	return ref
}

// expandRole turns a role use into a block: its dependencies (each once per
// play), then its tasks file. The role's handlers join the play's.
func (l *loader) expandRole(ref *RoleRef, tasksFile string, seen map[string]bool, from Pos) *Task {
	r := ref.Role
	blk := &Task{Pos: ref.Pos, IsBlock: true, Vars: ref.Vars, Tags: ref.Tags, When: ref.When, Role: r,
		Name: "role " + r.Name}
	for _, dep := range r.Deps {
		if seen[dep.Role.Name] {
			continue
		}
		seen[dep.Role.Name] = true
		blk.Block = append(blk.Block, l.expandRole(dep, "main.yml", seen, dep.Pos))
	}
	tasks, _ := l.roleTasks(r, tasksFile, from)
	blk.Block = append(blk.Block, tasks...)
	l.addHandlers(r)
	return blk
}

// addPublicTree makes r and its dependencies public, dependencies first.
func (l *loader) addPublicTree(r *Role) {
	for _, d := range r.Deps {
		l.addPublicTree(d.Role)
	}
	l.addPublic(r)
}

// addPublic makes a role's defaults and vars visible to the whole play.
func (l *loader) addPublic(r *Role) {
	if l.curPlay == nil {
		return
	}
	for _, x := range l.curPlay.Roles {
		if x == r {
			return
		}
	}
	l.curPlay.Roles = append(l.curPlay.Roles, r)
}

func (l *loader) addHandlers(r *Role) {
	if l.curPlay == nil {
		return
	}
	for _, h := range l.curPlay.Handlers {
		if h.Role == r {
			return
		}
	}
	l.curPlay.Handlers = append(l.curPlay.Handlers, r.Handlers...)
}

func (l *loader) includeRole(ctx taskCtx, t *Task) {
	name, _ := t.Args["name"].(string)
	if name == "" || HasTemplate(name) {
		if t.Action == "import_role" && name != "" {
			l.errorf(t.Pos, "import_role is static: its name cannot be a template (use include_role)")
		}
		return
	}
	r := l.role(name, l.argPos(t, "name"))
	if r == nil {
		return
	}
	from := "main.yml"
	if tf, ok := t.Args["tasks_from"].(string); ok && tf != "" {
		if HasTemplate(tf) {
			t.IncludedRole = r
			return
		}
		from = tasksFileName(tf)
	}
	t.IncludedRole = r
	blk := l.expandRole(&RoleRef{Pos: t.Pos, Role: r, Vars: map[string]any{}}, from, map[string]bool{}, l.argPos(t, "tasks_from"))
	if t.Action == "import_role" {
		l.addPublicTree(r)
		t.IsBlock, t.Block, t.Action, t.Args = true, blk.Block, "", nil
		t.Role = r
		return
	}
	t.Included = blk.Block
}

// tasksFileName adds the .yml extension tasks_from may leave out.
func tasksFileName(s string) string {
	if strings.HasSuffix(s, ".yml") || strings.HasSuffix(s, ".yaml") {
		return s
	}
	return s + ".yml"
}

// findRole looks for a role directory: the playbook directory's roles/, then
// each RolesPath entry.
func (l *loader) findRole(name string) (Source, []string, bool) {
	cands := append([]Source{l.pbDir.Sub("roles")}, l.opts.RolesPath...)
	var tried []string
	for _, c := range cands {
		s := c.Sub(name)
		if st, err := fs.Stat(s.FS, s.Dir); err == nil && st.IsDir() {
			return s, nil, true
		}
		tried = append(tried, s.Display)
	}
	return Source{}, tried, false
}

func (l *loader) role(name string, from Pos) *Role {
	l.mu.Lock()
	r, ok := l.roles[name]
	l.mu.Unlock()
	if ok {
		return r
	}
	src, tried, ok := l.findRole(name)
	if !ok {
		l.errorf(from, "role %q not found (looked in %s)", name, strings.Join(tried, ", "))
		return nil
	}
	if l.roleLoading == nil {
		l.roleLoading = map[string]bool{}
	}
	if l.roleLoading[name] {
		l.errorf(from, "role %q depends on itself", name)
		return nil
	}
	l.roleLoading[name] = true
	defer delete(l.roleLoading, name)
	r = &Role{Name: path.Base(name), Src: src, Tasks: map[string][]*Task{}}
	r.Defaults = l.roleVars(src.Sub("defaults"))
	r.Vars = l.roleVars(src.Sub("vars"))
	if root, file, ok := l.readOptional(src.Sub("meta"), "main.yml"); ok && root != nil {
		r.Deps = l.roleDeps(file, root)
	}
	// Register before loading tasks so include_role of itself terminates.
	l.mu.Lock()
	l.roles[name] = r
	l.mu.Unlock()
	if root, file, ok := l.readOptional(src.Sub("handlers"), "main.yml"); ok && root != nil {
		r.Handlers = l.tasks(taskCtx{src: src.Sub("handlers"), file: file, role: r}, root, true)
	}
	// Every tasks file of the role is validated now, so a dynamic
	// include_tasks: "{{ action }}.yml" cannot meet a broken file later.
	tasksDir := src.Sub("tasks")
	names, _ := fs.Glob(tasksDir.FS, path.Join(tasksDir.Dir, "*.y*ml"))
	sort.Strings(names)
	for _, n := range names {
		base := path.Base(n)
		if _, done := r.Tasks[base]; !done {
			l.roleTasks(r, base, from)
		}
	}
	return r
}

// readOptional reads name (or its .yaml twin) in src when it exists.
func (l *loader) readOptional(src Source, name string) (*yaml.Node, string, bool) {
	for _, n := range []string{name, strings.TrimSuffix(name, ".yml") + ".yaml"} {
		p, _ := src.Join(n)
		if _, err := fs.Stat(src.FS, p); err == nil {
			return l.readYAML(src, n)
		}
	}
	return nil, "", false
}

func (l *loader) roleVars(src Source) map[string]any {
	root, file, ok := l.readOptional(src, "main.yml")
	if !ok || root == nil {
		return map[string]any{}
	}
	m := l.decodeMap(file, root, "role variables")
	l.checkValue(Pos{File: file, Line: root.Line}, "vars", m)
	return m
}

func (l *loader) roleDeps(file string, root *yaml.Node) []*RoleRef {
	if root.Kind != yaml.MappingNode {
		l.errorf(pos(file, root), "meta/main.yml must be a mapping, not %s", kindName(root))
		return nil
	}
	dn := mapGet(root, "dependencies")
	if dn == nil || dn.Tag == "!!null" {
		return nil
	}
	if dn.Kind != yaml.SequenceNode {
		l.errorf(pos(file, dn), "dependencies must be a list of roles, not %s", kindName(dn))
		return nil
	}
	var deps []*RoleRef
	for _, n := range dn.Content {
		if ref := l.roleRef(file, n); ref != nil {
			deps = append(deps, ref)
		}
	}
	return deps
}

// roleTasks loads (once) the tasks file name of role r.
func (l *loader) roleTasks(r *Role, name string, from Pos) ([]*Task, bool) {
	name = tasksFileName(name)
	l.mu.Lock()
	ts, ok := r.Tasks[name]
	l.mu.Unlock()
	if ok {
		return ts, true
	}
	src := r.Src.Sub("tasks")
	p, d := src.Join(name)
	if _, err := fs.Stat(src.FS, p); err != nil {
		if name == "main.yml" {
			return nil, true // a role without tasks (defaults or handlers only)
		}
		l.errorf(from, "role %s: tasks file %s not found", r.Name, d)
		return nil, false
	}
	l.mu.Lock()
	r.Tasks[name] = nil // breaks include cycles while loading
	l.mu.Unlock()
	dir, base := path.Split(name)
	sub := src
	if dir != "" {
		sub = src.Sub(strings.TrimSuffix(dir, "/"))
	}
	ts = l.taskFile(taskCtx{src: sub, role: r}, sub, base)
	l.mu.Lock()
	r.Tasks[name] = ts
	l.mu.Unlock()
	return ts, true
}

// ---- run-time includes ----

// IncludeTasks returns the tasks of an include_tasks whose file name was only
// known at run time (from a template), resolved as at load time relative to
// the including task's role or file.
func (pb *Playbook) IncludeTasks(from *Task, name string) ([]*Task, error) {
	pb.incMu.Lock()
	defer pb.incMu.Unlock()
	l := pb.loader
	l.mu.Lock()
	before := len(l.errs)
	l.mu.Unlock()
	ctx := taskCtx{role: from.Role, src: pb.Dir}
	if from.Role == nil {
		ctx.src = pb.sourceOf(from)
	}
	ts, _ := l.loadTaskFile(ctx, name, from.Pos)
	return ts, l.newErrors(before)
}

// IncludeRole returns a role's tasks file (tasksFrom "" = main.yml) for an
// include_role resolved at run time, with the role.
func (pb *Playbook) IncludeRole(from *Task, name, tasksFrom string) (*Role, []*Task, error) {
	pb.incMu.Lock()
	defer pb.incMu.Unlock()
	l := pb.loader
	l.mu.Lock()
	before := len(l.errs)
	l.mu.Unlock()
	r := l.role(name, from.Pos)
	if r == nil {
		return nil, nil, l.newErrors(before)
	}
	if tasksFrom == "" {
		tasksFrom = "main.yml"
	}
	blk := l.expandRole(&RoleRef{Pos: from.Pos, Role: r, Vars: map[string]any{}}, tasksFrom, map[string]bool{}, from.Pos)
	return r, blk.Block, l.newErrors(before)
}

// sourceOf is the directory of the file that defined t, inside the playbook
// directory's file system.
func (pb *Playbook) sourceOf(t *Task) Source {
	rel := strings.TrimPrefix(path.Dir(t.Pos.File), pb.Dir.Display)
	rel = strings.TrimPrefix(rel, "/")
	if rel == "" {
		return pb.Dir
	}
	return pb.Dir.Sub(rel)
}

func (l *loader) newErrors(before int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) == before {
		return nil
	}
	es := append(Errors{}, l.errs[before:]...)
	l.errs = l.errs[:before]
	return es
}

// ReadFile reads a file of kind "files" or "templates" for a task, searching
// as FindFile does.
func (pb *Playbook) FindFile(t *Task, kind, name string) (File, error) {
	cur := Source{}
	if t != nil && t.Role == nil {
		cur = pb.sourceOf(t)
	}
	var r *Role
	if t != nil {
		r = t.Role
	}
	return FindFile(pb.Dir, r, cur, kind, name)
}
