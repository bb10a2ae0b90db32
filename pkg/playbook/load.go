package playbook

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/koala-stack/koala/pkg/vault"
)

// Options configure Load.
type Options struct {
	// RolesPath is searched for roles after the playbook directory's roles/.
	RolesPath []Source
	// CheckTemplate checks the syntax of template source (a task argument or a
	// template file); nil skips template checks.
	CheckTemplate func(name, src string) error
	// Modules are the task modules tasks may name (the engine passes
	// modules.Catalog); nil knows none. Passed in, not imported, so that
	// loading a playbook does not link the modules' clients.
	Modules Modules
}

// Modules answers what the loader asks of task modules.
type Modules interface {
	// Args returns a module's accepted and required arguments ("a|b": one
	// of a or b); ok is false when there is no such module.
	Args(name string) (accepted, required []string, ok bool)
	// Names lists every module name, for suggestions.
	Names() []string
}

// LoadFile loads the playbook at file on disk.
func LoadFile(file string, opts Options) (*Playbook, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, fmt.Errorf("playbook %s: %w", file, err)
	}
	dir := filepath.Dir(abs)
	disp := filepath.Dir(file)
	return Load(Source{FS: os.DirFS(dir), Dir: ".", Display: disp, OSRoot: dir}, filepath.Base(abs), opts)
}

// Load loads the playbook name inside dir (the playbook's directory) with
// every role and static include it references. The error is an Errors listing
// every problem found, or a plain error when the playbook cannot be read.
func Load(dir Source, name string, opts Options) (*Playbook, error) {
	l := &loader{opts: opts, pbDir: dir, roles: map[string]*Role{}, files: map[string][]*Task{}}
	fsPath, display := dir.Join(name)
	if _, err := fs.Stat(dir.FS, fsPath); err != nil {
		return nil, fmt.Errorf("playbook %s: %w", display, err)
	}
	pb := &Playbook{Path: display, Dir: dir, loader: l}
	pb.Plays = l.loadPlaybook(dir, name, 0)
	if len(l.errs) > 0 {
		l.errs.sort()
		return nil, l.errs
	}
	return pb, nil
}

type loader struct {
	opts  Options
	pbDir Source
	errs  Errors

	mu    sync.Mutex // guards roles and files for run-time includes
	roles map[string]*Role
	files map[string][]*Task // task files outside roles, by FS path

	curPlay     *Play // handlers of roles imported inside tasks land here
	roleLoading map[string]bool
}

func (l *loader) errorf(p Pos, format string, a ...any) {
	l.errs = append(l.errs, &Error{Pos: p, Msg: fmt.Sprintf(format, a...)})
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// readYAML parses a YAML file into its document node; problems are recorded.
func (l *loader) readYAML(src Source, name string) (*yaml.Node, string, bool) {
	fsPath, display := src.Join(name)
	data, err := fs.ReadFile(src.FS, fsPath)
	if err != nil {
		l.errorf(Pos{File: display}, "cannot read: %v", unwrapPath(err))
		return nil, display, false
	}
	var doc yaml.Node
	if err := vault.Default().UnmarshalNode(display, data, &doc); err != nil {
		var verr *vault.Error
		if errors.As(err, &verr) {
			l.errorf(Pos{File: display, Line: verr.Line}, "%v", verr.Err)
			return nil, display, false
		}
		p := Pos{File: display}
		msg := err.Error()
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			p.Line, _ = strconv.Atoi(m[1])
			msg = m[2]
		}
		l.errorf(p, "YAML syntax: %s", msg)
		return nil, display, false
	}
	if len(doc.Content) == 0 {
		return nil, display, true // empty file
	}
	return doc.Content[0], display, true
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func pos(file string, n *yaml.Node) Pos { return Pos{File: file, Line: n.Line} }

// decode turns a YAML value node into plain Go values (maps, lists, scalars).
func (l *loader) decode(file string, n *yaml.Node) any {
	var v any
	if err := n.Decode(&v); err != nil {
		l.errorf(pos(file, n), "%v", err)
		return nil
	}
	return normalize(v)
}

// normalize converts map[any]any (YAML keys that are not strings) to
// map[string]any so templates and modules see one map type.
func normalize(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = normalize(x)
		}
		return t
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[fmt.Sprint(k)] = normalize(x)
		}
		return m
	case []any:
		for i, x := range t {
			t[i] = normalize(x)
		}
		return t
	}
	return v
}

func (l *loader) decodeMap(file string, n *yaml.Node, what string) map[string]any {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return map[string]any{}
	}
	if n.Kind != yaml.MappingNode {
		l.errorf(pos(file, n), "%s must be a mapping of names to values, not %s", what, kindName(n))
		return nil
	}
	m, _ := l.decode(file, n).(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	return m
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "empty"
		}
		return fmt.Sprintf("the %s %q", strings.TrimPrefix(n.Tag, "!!"), n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "a document"
}

func (l *loader) str(file string, n *yaml.Node, what string) string {
	if n.Kind != yaml.ScalarNode {
		l.errorf(pos(file, n), "%s must be a string, not %s", what, kindName(n))
		return ""
	}
	return n.Value
}

// strList accepts a string, a comma-separated string, or a list of strings.
func (l *loader) strList(file string, n *yaml.Node, what string, commas bool) []string {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return nil
		}
		if commas && !strings.Contains(n.Value, "{{") {
			var out []string
			for _, s := range strings.Split(n.Value, ",") {
				if s = strings.TrimSpace(s); s != "" {
					out = append(out, s)
				}
			}
			return out
		}
		return []string{n.Value}
	case yaml.SequenceNode:
		var out []string
		for _, c := range n.Content {
			out = append(out, l.str(file, c, what))
		}
		return out
	}
	l.errorf(pos(file, n), "%s must be a string or a list of strings, not %s", what, kindName(n))
	return nil
}

// conds reads when/changed_when/failed_when/until: an expression or a list.
func (l *loader) conds(file string, n *yaml.Node, what string) []any {
	var out []any
	add := func(c *yaml.Node) {
		v := l.decode(file, c)
		if s, ok := v.(string); ok {
			l.checkTemplate(pos(file, c), what, "{{ "+stripBraces(s)+" }}")
		}
		out = append(out, v)
	}
	if n.Kind == yaml.SequenceNode {
		for _, c := range n.Content {
			add(c)
		}
		return out
	}
	add(n)
	return out
}

// stripBraces lets `when: "{{ x }}"` (a common mistake Ansible tolerates) be
// read as the bare expression x.
func stripBraces(s string) string {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "{{") && strings.HasSuffix(t, "}}") && strings.Count(t, "{{") == 1 {
		return strings.TrimSpace(t[2 : len(t)-2])
	}
	return s
}

// StripBraces is stripBraces for the engine: a condition may be written bare or
// wrapped in {{ }}.
func StripBraces(s string) string { return stripBraces(s) }

func (l *loader) boolVal(file string, n *yaml.Node, what string) bool {
	var b bool
	if err := n.Decode(&b); err != nil {
		l.errorf(pos(file, n), "%s must be true or false, not %s", what, kindName(n))
	}
	return b
}

// anyVal keeps a scalar that may be a template; templates are syntax-checked.
func (l *loader) anyVal(file string, n *yaml.Node, what string) any {
	v := l.decode(file, n)
	l.checkValue(pos(file, n), what, v)
	return v
}

// HasTemplate reports whether s contains template markup.
func HasTemplate(s string) bool {
	return strings.Contains(s, "{{") || strings.Contains(s, "{%")
}

func (l *loader) checkTemplate(p Pos, what, src string) {
	if l.opts.CheckTemplate == nil {
		return
	}
	if err := l.opts.CheckTemplate(p.String(), src); err != nil {
		l.errorf(p, "%s: template syntax: %v", what, err)
	}
}

// checkValue syntax-checks every template string inside v.
func (l *loader) checkValue(p Pos, what string, v any) {
	switch t := v.(type) {
	case string:
		if HasTemplate(t) {
			l.checkTemplate(p, what, t)
		}
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			l.checkValue(p, what+"."+k, t[k])
		}
	case []any:
		for i, x := range t {
			l.checkValue(p, fmt.Sprintf("%s[%d]", what, i), x)
		}
	}
}

// ---- playbooks and plays ----

var playKeywords = []string{
	"name", "hosts", "gather_facts", "vars", "vars_files", "serial", "any_errors_fatal",
	"max_fail_percentage", "become", "become_user", "tags", "roles", "tasks", "pre_tasks",
	"post_tasks", "handlers", "environment", "strategy", "ignore_unreachable", "remote_user",
	"import_playbook", "become_method", "ignore_errors", "no_log", "check_mode", "diff",
}

func (l *loader) loadPlaybook(dir Source, name string, depth int) []*Play {
	root, file, ok := l.readYAML(dir, name)
	if !ok || root == nil {
		if ok {
			l.errorf(Pos{File: file}, "playbook is empty: expected a list of plays")
		}
		return nil
	}
	if root.Kind != yaml.SequenceNode {
		l.errorf(pos(file, root), "a playbook must be a list of plays, not %s", kindName(root))
		return nil
	}
	var plays []*Play
	for _, pn := range root.Content {
		if pn.Kind != yaml.MappingNode {
			l.errorf(pos(file, pn), "a play must be a mapping (hosts:, tasks:, ...), not %s", kindName(pn))
			continue
		}
		if v := mapGet(pn, "import_playbook"); v != nil {
			sub := l.str(file, v, "import_playbook")
			if depth > 20 {
				l.errorf(pos(file, v), "import_playbook nested too deeply (a cycle?)")
				continue
			}
			if sub != "" {
				d := path.Dir(sub)
				plays = append(plays, l.loadPlaybook(dir.Sub(d), path.Base(sub), depth+1)...)
			}
			continue
		}
		if p := l.loadPlay(dir, file, pn); p != nil {
			plays = append(plays, p)
		}
	}
	return plays
}

func mapGet(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func (l *loader) loadPlay(dir Source, file string, pn *yaml.Node) *Play {
	p := &Play{Pos: pos(file, pn), GatherFacts: true, Vars: map[string]any{}}
	l.curPlay = p
	defer func() { l.curPlay = nil }()
	var rolesN, tasksN, preN, postN, handlersN *yaml.Node
	hasHosts := false
	for i := 0; i+1 < len(pn.Content); i += 2 {
		k, v := pn.Content[i], pn.Content[i+1]
		switch k.Value {
		case "name":
			p.Name = l.str(file, v, "play name")
		case "hosts":
			hasHosts = true
			if hs := l.strList(file, v, "hosts", false); len(hs) > 0 {
				p.Hosts = strings.Join(hs, ":")
			}
		case "gather_facts":
			p.GatherFacts = l.boolVal(file, v, "gather_facts")
		case "vars":
			p.Vars = l.decodeMap(file, v, "play vars")
			l.checkValue(pos(file, v), "vars", p.Vars)
		case "vars_files":
			for _, name := range l.strList(file, v, "vars_files", false) {
				vf := VarsFile{Pos: pos(file, v), Name: name}
				if !HasTemplate(name) {
					vf.Vars, vf.Loaded = l.loadVarsFile(dir, name, vf.Pos), true
				}
				p.VarsFiles = append(p.VarsFiles, vf)
			}
		case "serial":
			p.Serial = l.serial(file, v)
		case "any_errors_fatal":
			p.AnyErrorsFatal = l.boolVal(file, v, "any_errors_fatal")
		case "max_fail_percentage":
			f, err := strconv.ParseFloat(strings.TrimSuffix(v.Value, "%"), 64)
			if v.Kind != yaml.ScalarNode || err != nil || f < 0 || f > 100 {
				l.errorf(pos(file, v), "max_fail_percentage must be a number from 0 to 100, not %s", kindName(v))
			}
			p.MaxFailPercentage = &f
		case "become":
			p.Become = l.anyVal(file, v, "become")
		case "become_user":
			p.BecomeUser = l.anyVal(file, v, "become_user")
		case "tags":
			p.Tags = l.strList(file, v, "tags", true)
		case "environment":
			p.Environment = l.anyVal(file, v, "environment")
		case "roles":
			rolesN = v
		case "tasks":
			tasksN = v
		case "pre_tasks":
			preN = v
		case "post_tasks":
			postN = v
		case "handlers":
			handlersN = v
		case "strategy":
			if s := l.str(file, v, "strategy"); s != "linear" {
				l.errorf(pos(file, v), "strategy %q is not supported: koala runs plays with the linear strategy", s)
			}
		case "remote_user", "become_method", "ignore_unreachable", "ignore_errors", "no_log", "check_mode", "diff":
			l.errorf(pos(file, k), "play keyword %q is not supported by koala; set it on the tasks or in the inventory", k.Value)
		default:
			l.errorf(pos(file, k), "unknown play keyword %q%s", k.Value, suggest(k.Value, playKeywords))
		}
	}
	if !hasHosts || p.Hosts == "" {
		l.errorf(p.Pos, "play has no hosts: (expected a host pattern such as \"all\" or a group name)")
	}
	ctx := taskCtx{src: dir, file: file}
	// Handlers of roles (added while roles and tasks load) come before the
	// play's own, as Ansible orders them.
	var handlers []*Task
	if handlersN != nil {
		handlers = l.tasks(ctx, handlersN, true)
	}
	if preN != nil {
		p.PreTasks = l.tasks(ctx, preN, false)
	}
	if rolesN != nil {
		p.Tasks = append(p.Tasks, l.playRoles(file, rolesN)...)
	}
	if tasksN != nil {
		p.Tasks = append(p.Tasks, l.tasks(ctx, tasksN, false)...)
	}
	if postN != nil {
		p.PostTasks = l.tasks(ctx, postN, false)
	}
	p.Handlers = append(p.Handlers, handlers...)
	l.checkNotify(p)
	return p
}

// checkNotify reports notify: names that no handler of the play answers to.
func (l *loader) checkNotify(p *Play) {
	known := map[string]bool{}
	var names []string
	for _, h := range p.Handlers {
		keys := append([]string{h.Name}, h.Listen...)
		if h.Role != nil && h.Name != "" {
			keys = append(keys, h.Role.Name+" : "+h.Name)
		}
		for _, k := range keys {
			if k != "" && !known[k] {
				known[k] = true
				names = append(names, k)
			}
		}
	}
	seen := map[*Task]bool{}
	var walk func([]*Task)
	walk = func(ts []*Task) {
		for _, t := range ts {
			if seen[t] {
				continue
			}
			seen[t] = true
			for _, n := range t.Notify {
				if !known[n] && !HasTemplate(n) {
					l.errorf(t.Pos, "notify: no handler named or listening to %q in this play%s", n, suggest(n, names))
				}
			}
			walk(t.Block)
			walk(t.Rescue)
			walk(t.Always)
			walk(t.Included)
		}
	}
	for _, list := range [][]*Task{p.PreTasks, p.Tasks, p.PostTasks, p.Handlers} {
		walk(list)
	}
}

func (l *loader) serial(file string, v *yaml.Node) []any {
	var items []*yaml.Node
	if v.Kind == yaml.SequenceNode {
		items = v.Content
	} else {
		items = []*yaml.Node{v}
	}
	var out []any
	for _, n := range items {
		if n.Kind != yaml.ScalarNode {
			l.errorf(pos(file, n), "serial must be a number, a percentage or a list of them, not %s", kindName(n))
			continue
		}
		if HasTemplate(n.Value) {
			out = append(out, n.Value)
			continue
		}
		if _, err := ParseSerial(n.Value); err != nil {
			l.errorf(pos(file, n), "serial: %v", err)
			continue
		}
		out = append(out, n.Value)
	}
	return out
}

func (l *loader) loadVarsFile(dir Source, name string, p Pos) map[string]any {
	root, file, ok := l.readYAML(dir, name)
	if !ok {
		return nil
	}
	if root == nil {
		return map[string]any{}
	}
	m := l.decodeMap(file, root, "a vars file")
	l.checkValue(p, name, m)
	return m
}

// ---- tasks ----

type taskCtx struct {
	src  Source // directory relative includes resolve against
	file string // display name of the file being read
	role *Role
}

var taskKeywords = []string{
	"name", "action", "args", "when", "loop", "loop_control", "register", "notify", "listen",
	"become", "become_user", "run_once", "delegate_to", "delegate_facts", "tags",
	"changed_when", "failed_when", "ignore_errors", "ignore_unreachable", "until", "retries",
	"delay", "no_log", "environment", "check_mode", "diff", "vars", "block", "rescue", "always",
	"with_items", "with_dict", "with_list", "timeout",
}

// unsupported task keywords are reported rather than silently ignored.
var unsupportedKeywords = map[string]string{
	"async": "koala has no async tasks", "poll": "koala has no async tasks",
	"local_action": "use delegate_to: localhost", "connection": "set ansible_connection in the inventory",
	"remote_user": "set ansible_user in the inventory", "throttle": "use serial on the play",
	"become_method": "koala becomes with sudo only", "module_defaults": "set the arguments on each task",
	"collections": "use the module's short name", "with_nested": "use loop with the product filter",
	"with_together": "use loop", "with_subelements": "use loop with the subelements filter",
	"with_sequence": "use loop with range", "with_fileglob": "use loop", "with_first_found": "use loop",
	"debugger": "", "port": "set ansible_port in the inventory",
}

const builtinPrefix = "ansible.builtin."

// canonical strips the collection prefix of a module name.
func canonical(name string) string {
	name = strings.TrimPrefix(name, builtinPrefix)
	return strings.TrimPrefix(name, "ansible.legacy.")
}

// knownAction reports whether name (canonical) is an engine action or a module.
func (l *loader) knownAction(name string) bool {
	if _, ok := EngineActions[name]; ok {
		return true
	}
	if l.opts.Modules == nil {
		return false
	}
	_, _, ok := l.opts.Modules.Args(name)
	return ok
}

func (l *loader) tasks(ctx taskCtx, n *yaml.Node, handlers bool) []*Task {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		l.errorf(pos(ctx.file, n), "expected a list of tasks, not %s", kindName(n))
		return nil
	}
	var out []*Task
	for _, tn := range n.Content {
		if t := l.task(ctx, tn, handlers); t != nil {
			out = append(out, t)
		}
	}
	return out
}

func (l *loader) task(ctx taskCtx, n *yaml.Node, handler bool) *Task {
	file := ctx.file
	if n.Kind != yaml.MappingNode {
		l.errorf(pos(file, n), "a task must be a mapping (name:, a module, ...), not %s", kindName(n))
		return nil
	}
	t := &Task{Pos: pos(file, n), Role: ctx.role}
	isBlock := mapGet(n, "block") != nil
	var actionKey, actionVal *yaml.Node
	var argsN *yaml.Node
	var loopKey string
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "name":
			t.Name = l.str(file, v, "task name")
		case "when":
			t.When = l.conds(file, v, "when")
		case "loop", "with_items", "with_list", "with_dict":
			if loopKey != "" {
				l.errorf(pos(file, k), "task has both %s and %s: use one loop", loopKey, k.Value)
			}
			loopKey = k.Value
			t.HasLoop = true
			t.Loop = l.anyVal(file, v, k.Value)
			switch k.Value {
			case "with_items":
				t.Loop = LoopSugar{Kind: "items", Value: t.Loop}
			case "with_dict":
				t.Loop = LoopSugar{Kind: "dict", Value: t.Loop}
			}
		case "loop_control":
			t.LoopControl = l.loopControl(file, v)
		case "register":
			t.Register = l.str(file, v, "register")
			if !isIdent(t.Register) {
				l.errorf(pos(file, v), "register: %q is not a valid variable name", t.Register)
			}
		case "notify":
			t.Notify = l.strList(file, v, "notify", false)
		case "listen":
			if !handler {
				l.errorf(pos(file, k), "listen is only valid on handlers")
			}
			t.Listen = l.strList(file, v, "listen", false)
		case "become":
			t.Become = l.anyVal(file, v, "become")
		case "become_user":
			t.BecomeUser = l.anyVal(file, v, "become_user")
		case "run_once":
			t.RunOnce = l.anyVal(file, v, "run_once")
		case "delegate_to":
			t.DelegateTo = l.anyVal(file, v, "delegate_to")
		case "delegate_facts":
			t.DelegateFacts = l.boolVal(file, v, "delegate_facts")
		case "tags":
			t.Tags = l.strList(file, v, "tags", true)
		case "changed_when":
			t.ChangedWhen = l.conds(file, v, "changed_when")
		case "failed_when":
			t.FailedWhen = l.conds(file, v, "failed_when")
		case "until":
			t.Until = l.conds(file, v, "until")
		case "ignore_errors":
			t.IgnoreErrors = l.anyVal(file, v, "ignore_errors")
		case "ignore_unreachable":
			t.IgnoreUnreachable = l.anyVal(file, v, "ignore_unreachable")
		case "retries":
			t.Retries = l.anyVal(file, v, "retries")
		case "delay":
			t.Delay = l.anyVal(file, v, "delay")
		case "timeout":
			t.Timeout = l.anyVal(file, v, "timeout")
		case "no_log":
			t.NoLog = l.anyVal(file, v, "no_log")
		case "environment":
			t.Environment = l.anyVal(file, v, "environment")
		case "check_mode":
			t.CheckMode = l.anyVal(file, v, "check_mode")
		case "diff":
			t.Diff = l.anyVal(file, v, "diff")
		case "vars":
			t.Vars = l.decodeMap(file, v, "task vars")
			l.checkValue(pos(file, v), "vars", t.Vars)
		case "block", "rescue", "always":
			if !isBlock {
				l.errorf(pos(file, k), "%s without block:", k.Value)
				continue
			}
			list := l.tasks(ctx, v, handler)
			switch k.Value {
			case "block":
				t.Block = list
			case "rescue":
				t.Rescue = list
			default:
				t.Always = list
			}
		case "args":
			argsN = v
		case "action":
			if actionKey != nil {
				l.errorf(pos(file, k), "task has more than one action: %s and action", actionKey.Value)
				continue
			}
			actionKey, actionVal = k, v
		default:
			if msg, ok := unsupportedKeywords[k.Value]; ok {
				if msg != "" {
					msg = ": " + msg
				}
				l.errorf(pos(file, k), "task keyword %q is not supported by koala%s", k.Value, msg)
				continue
			}
			name := canonical(k.Value)
			if l.knownAction(name) {
				if actionKey != nil {
					l.errorf(pos(file, k), "task has more than one action: %s and %s", actionKey.Value, k.Value)
					continue
				}
				actionKey, actionVal = k, v
				continue
			}
			l.errorf(pos(file, k), "unknown task keyword or module %q%s", k.Value, suggest(name, l.vocabulary()))
		}
	}
	t.IsBlock = isBlock
	if isBlock {
		if actionKey != nil {
			l.errorf(pos(file, actionKey), "a block cannot also have an action (%s)", actionKey.Value)
		}
		for _, kw := range []struct {
			set  bool
			name string
		}{{t.HasLoop, "loop"}, {t.Register != "", "register"}, {t.Notify != nil, "notify"}, {t.Until != nil, "until"}} {
			if kw.set {
				l.errorf(t.Pos, "%s is not valid on a block", kw.name)
			}
		}
		return t
	}
	if actionKey == nil {
		if !l.hasErrorAt(file, n) {
			l.errorf(t.Pos, "task %s has no module (expected one of command, shell, copy, template, ...)", quoteName(t.Name))
		}
		return nil
	}
	l.action(ctx, t, actionKey, actionVal, argsN)
	if handler && t.Name == "" && len(t.Listen) == 0 {
		l.errorf(t.Pos, "handler has neither name nor listen: nothing can notify it")
	}
	return t
}

// hasErrorAt avoids a second "no module" message for a task whose only key
// was already reported as unknown.
func (l *loader) hasErrorAt(file string, n *yaml.Node) bool {
	for _, e := range l.errs {
		if e.Pos.File == file && e.Pos.Line >= n.Line && e.Pos.Line <= lastLine(n) {
			return true
		}
	}
	return false
}

func lastLine(n *yaml.Node) int {
	l := n.Line
	for _, c := range n.Content {
		if x := lastLine(c); x > l {
			l = x
		}
	}
	return l
}

func quoteName(s string) string {
	if s == "" {
		return "(unnamed)"
	}
	return strconv.Quote(s)
}

// LoopSugar is a with_items / with_dict loop, flattened or turned into
// key/value items by the engine after templating.
type LoopSugar struct {
	Kind  string // "items" or "dict"
	Value any
}

func (l *loader) loopControl(file string, n *yaml.Node) LoopControl {
	var lc LoopControl
	if n.Kind != yaml.MappingNode {
		l.errorf(pos(file, n), "loop_control must be a mapping, not %s", kindName(n))
		return lc
	}
	keys := []string{"loop_var", "index_var", "label", "pause", "extended"}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "loop_var":
			lc.LoopVar = l.str(file, v, "loop_var")
		case "index_var":
			lc.IndexVar = l.str(file, v, "index_var")
		case "label":
			lc.Label = l.anyVal(file, v, "label")
		case "pause":
			lc.Pause = l.anyVal(file, v, "pause")
		case "extended":
			lc.Extended = l.boolVal(file, v, "extended")
		default:
			l.errorf(pos(file, k), "unknown loop_control key %q%s", k.Value, suggest(k.Value, keys))
		}
	}
	return lc
}

func (l *loader) vocabulary() []string {
	v := append([]string{}, taskKeywords...)
	for name := range EngineActions {
		v = append(v, name)
	}
	if l.opts.Modules != nil {
		v = append(v, l.opts.Modules.Names()...)
	}
	sort.Strings(v)
	return v
}

// action parses the module part of a task: `mod: {k: v}`, `mod: k=v`,
// `mod: free form`, `action: mod k=v` or `action: {module: mod, ...}`, plus args:.
func (l *loader) action(ctx taskCtx, t *Task, k, v, argsN *yaml.Node) {
	file := ctx.file
	t.ArgPos = map[string]Pos{}
	name := canonical(k.Value)
	if k.Value == "action" {
		switch v.Kind {
		case yaml.ScalarNode:
			mod, rest, _ := strings.Cut(strings.TrimSpace(v.Value), " ")
			name = canonical(mod)
			v = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: rest, Line: v.Line}
		case yaml.MappingNode:
			mn := mapGet(v, "module")
			if mn == nil {
				l.errorf(pos(file, v), "action: mapping needs a module: key")
				return
			}
			name = canonical(mn.Value)
			rest := &yaml.Node{Kind: yaml.MappingNode, Line: v.Line}
			for i := 0; i+1 < len(v.Content); i += 2 {
				if v.Content[i].Value != "module" {
					rest.Content = append(rest.Content, v.Content[i], v.Content[i+1])
				}
			}
			v = rest
		}
		if !l.knownAction(name) {
			l.errorf(pos(file, k), "unknown module %q%s", name, suggest(name, l.vocabulary()))
			return
		}
	}
	t.Action = name
	args := map[string]any{}
	switch {
	case v.Kind == yaml.MappingNode:
		args = l.decodeMap(file, v, name+" arguments")
		for i := 0; i+1 < len(v.Content); i += 2 {
			t.ArgPos[v.Content[i].Value] = pos(file, v.Content[i])
		}
	case v.Kind == yaml.ScalarNode && v.Tag != "!!null":
		kv, err := ParseKV(name, v.Value)
		if err != nil {
			l.errorf(pos(file, v), "%s: %v", name, err)
		}
		for key, val := range kv {
			args[key] = val
			t.ArgPos[key] = pos(file, v)
		}
	case v.Kind == yaml.ScalarNode:
		// `- setup:` with no arguments
	default:
		l.errorf(pos(file, v), "arguments of %s must be a mapping or key=value text, not %s", name, kindName(v))
	}
	if argsN != nil {
		for key, val := range l.decodeMap(file, argsN, "args") {
			args[key] = val
		}
		for i := 0; i+1 < len(argsN.Content); i += 2 {
			t.ArgPos[argsN.Content[i].Value] = pos(file, argsN.Content[i])
		}
	}
	t.Args = args
	for key, val := range args {
		l.checkValue(t.ArgPos[key], name+" "+key, val)
	}
	l.checkArgs(t)
	if t.HasLoop && (name == "include_tasks" || name == "include_role" || name == "import_tasks" || name == "import_role") {
		l.errorf(t.Pos, "%s with a loop is not supported by koala: loop inside the included file instead", name)
	}
	switch name {
	case "include_tasks", "import_tasks":
		l.includeTasks(ctx, t)
	case "include_role", "import_role":
		l.includeRole(ctx, t)
	case "template":
		l.checkSrc(ctx, t, "templates")
	case "copy":
		if b, _ := t.Args["remote_src"].(bool); !b {
			l.checkSrc(ctx, t, "files")
		}
	case "meta":
		l.checkMeta(t)
	}
}

func (l *loader) argPos(t *Task, key string) Pos {
	if p, ok := t.ArgPos[key]; ok {
		return p
	}
	return t.Pos
}

// checkArgs validates arguments against an engine action's or a module's spec.
func (l *loader) checkArgs(t *Task) {
	var accepted, required []string
	if spec, ok := EngineActions[t.Action]; ok {
		if spec.AnyArgs {
			return
		}
		accepted, required = spec.Accepted, spec.Required
	} else if l.opts.Modules != nil {
		accepted, required, _ = l.opts.Modules.Args(t.Action)
	}
	keys := make([]string, 0, len(t.Args))
	for k := range t.Args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !contains(accepted, k) {
			if k == RawParams {
				l.errorf(l.argPos(t, k), "%s does not take a free-form argument; use key=value or a mapping (accepted: %s)", t.Action, strings.Join(accepted, ", "))
				continue
			}
			l.errorf(l.argPos(t, k), "%s: unknown argument %q%s (accepted: %s)", t.Action, k, suggest(k, accepted), strings.Join(accepted, ", "))
		}
	}
	for _, r := range required {
		// "a|b" means one of a or b.
		found := false
		for _, alt := range strings.Split(r, "|") {
			if _, ok := t.Args[alt]; ok {
				found = true
			}
		}
		if !found {
			l.errorf(t.Pos, "%s: missing required argument %s", t.Action, strings.ReplaceAll(r, "|", " or "))
		}
	}
}

func (l *loader) checkMeta(t *Task) {
	what, _ := t.Args[RawParams].(string)
	if !contains(MetaActions, what) {
		l.errorf(t.Pos, "meta: unknown action %q%s (supported: %s)", what, suggest(what, MetaActions), strings.Join(MetaActions, ", "))
	}
}

// MetaActions are the meta: actions koala supports.
var MetaActions = []string{"flush_handlers", "noop", "end_play", "end_batch", "end_host", "clear_host_errors", "refresh_inventory"}

// includeName returns the file or role name argument of an include.
func includeName(t *Task, key string) string {
	if s, ok := t.Args[key].(string); ok {
		return s
	}
	if s, ok := t.Args[RawParams].(string); ok {
		return s
	}
	return ""
}

func (l *loader) includeTasks(ctx taskCtx, t *Task) {
	name := includeName(t, "file")
	if name == "" {
		l.errorf(t.Pos, "%s needs a file name", t.Action)
		return
	}
	if HasTemplate(name) {
		if t.Action == "import_tasks" {
			l.errorf(t.Pos, "import_tasks is static: its file name cannot be a template (use include_tasks)")
		}
		return // a role's task files are all validated when the role loads
	}
	at := l.argPos(t, "file")
	if _, ok := t.Args["file"]; !ok {
		at = l.argPos(t, RawParams)
	}
	tasks, ok := l.loadTaskFile(ctx, name, at)
	if !ok {
		return
	}
	if t.Action == "import_tasks" {
		// Static import: the task becomes a block of the imported tasks; its
		// when/tags/vars apply to each of them as a block's do.
		t.IsBlock, t.Block, t.Action, t.Args = true, tasks, "", nil
		return
	}
	t.Included = tasks
}

// loadTaskFile loads a tasks file relative to the including role's tasks/ or
// the including file's directory. Loaded files are cached.
func (l *loader) loadTaskFile(ctx taskCtx, name string, from Pos) ([]*Task, bool) {
	if ctx.role != nil {
		return l.roleTasks(ctx.role, name, from)
	}
	src := ctx.src
	fsPath, display := src.Join(name)
	l.mu.Lock()
	if ts, ok := l.files[fsPath]; ok {
		l.mu.Unlock()
		return ts, true
	}
	l.mu.Unlock()
	if _, err := fs.Stat(src.FS, fsPath); err != nil {
		l.errorf(from, "tasks file %s not found: %v", display, unwrapPath(err))
		return nil, false
	}
	dir, base := path.Split(name)
	sub := src
	if dir != "" {
		sub = src.Sub(strings.TrimSuffix(dir, "/"))
	}
	tasks := l.taskFile(taskCtx{src: sub}, sub, base)
	l.mu.Lock()
	l.files[fsPath] = tasks
	l.mu.Unlock()
	return tasks, true
}

func (l *loader) taskFile(ctx taskCtx, src Source, name string) []*Task {
	root, file, ok := l.readYAML(src, name)
	if !ok || root == nil {
		return nil
	}
	ctx.file = file
	return l.tasks(ctx, root, false)
}

// checkSrc checks that a static src of copy/template exists, and the syntax of
// a static template file.
func (l *loader) checkSrc(ctx taskCtx, t *Task, kind string) {
	src, ok := t.Args["src"].(string)
	if !ok || src == "" || HasTemplate(src) {
		return
	}
	if kind == "files" && strings.HasPrefix(src, "/") {
		return // absolute paths are read at run time
	}
	f, err := FindFile(l.pbDir, ctx.role, ctx.src, kind, src)
	if err != nil {
		l.errorf(l.argPos(t, "src"), "%s: %v", t.Action, err)
		return
	}
	if kind == "templates" {
		data, err := fs.ReadFile(f.FS, f.Path)
		if err != nil {
			l.errorf(l.argPos(t, "src"), "template: %v", err)
			return
		}
		if l.opts.CheckTemplate != nil {
			if err := l.opts.CheckTemplate(f.Display, string(data)); err != nil {
				l.errorf(Pos{File: f.Display}, "template syntax (used by %s): %v", t.Pos, err)
			}
		}
	}
}

// File is a file found by FindFile.
type File struct {
	FS      fs.FS
	Path    string // inside FS
	Display string
	OSPath  string // on the local disk; "" inside an embedded file system
}

// Read reads the file. mode is its permission bits when it is on the local
// disk, 0 inside an embedded file system (whose modes mean nothing).
func (f File) Read() (data []byte, mode fs.FileMode, err error) {
	st, err := fs.Stat(f.FS, f.Path)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", f.Display, unwrapPath(err))
	}
	if st.IsDir() {
		return nil, 0, fmt.Errorf("%s is a directory: koala copies single files (give each file, or use a loop)", f.Display)
	}
	if data, err = fs.ReadFile(f.FS, f.Path); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", f.Display, unwrapPath(err))
	}
	if f.OSPath != "" {
		mode = st.Mode().Perm()
	}
	return data, mode, nil
}

// FindFile resolves name of kind "files" or "templates" as Ansible does: the
// role's <kind>/ directory, the role's directory, the directory of the
// including file, then the playbook's <kind>/ directory and the playbook
// directory. Absolute names are read from the local disk.
func FindFile(pbDir Source, role *Role, cur Source, kind, name string) (File, error) {
	if strings.HasPrefix(name, "/") {
		if _, err := os.Stat(name); err != nil {
			return File{}, fmt.Errorf("%s not found: %w", name, unwrapPath(err))
		}
		return File{FS: os.DirFS("/"), Path: strings.TrimPrefix(name, "/"), Display: name, OSPath: name}, nil
	}
	var cands []Source
	if role != nil {
		cands = append(cands, role.Src.Sub(kind), role.Src)
	}
	if cur.FS != nil {
		cands = append(cands, cur.Sub(kind), cur)
	}
	cands = append(cands, pbDir.Sub(kind), pbDir)
	var tried []string
	for _, c := range cands {
		p, d := c.Join(name)
		if st, err := fs.Stat(c.FS, p); err == nil && !st.IsDir() {
			f := File{FS: c.FS, Path: p, Display: d}
			if c.OSRoot != "" {
				f.OSPath = filepath.Join(c.OSRoot, filepath.FromSlash(p))
			}
			return f, nil
		}
		if !contains(tried, d) {
			tried = append(tried, d)
		}
	}
	return File{}, fmt.Errorf("%s %q not found (looked for %s)", strings.TrimSuffix(kind, "s"), name, strings.Join(tried, ", "))
}
