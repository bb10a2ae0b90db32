// Package playbook is koala's model of Ansible playbooks and roles, and their
// loader. Load reads a playbook (from any fs.FS, so roles embedded with go:embed
// and roles on disk load alike), resolves static imports and roles, and
// validates everything that can be known before a host is touched: YAML syntax,
// unknown modules and task keywords (with the closest valid spelling), module
// arguments, template syntax in task arguments and in statically referenced
// template files, missing roles, task files and template sources. Every
// problem is reported at once, each with file:line (see Errors).
//
// Values that Ansible templates at run time (vars, module arguments, when,
// loop, become, delegate_to, ...) are kept raw here; the engine templates them
// per host.
package playbook

import (
	"fmt"
	"io/fs"
	"path"
	"sync"
)

// Pos is a position in a source file.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// Playbook is a loaded playbook: its plays, in order.
type Playbook struct {
	Path  string // display path of the playbook file
	Dir   Source // the playbook's directory (files/, templates/, vars_files)
	Plays []*Play

	loader *loader
	incMu  sync.Mutex // run-time includes load one at a time
}

// Source is a directory inside a file system, with the name it is shown by.
type Source struct {
	FS      fs.FS
	Dir     string // slash path inside FS ("." for the root)
	Display string // how paths inside Dir are shown in messages
	// OSRoot is FS's root on the local disk ("" for embedded file systems),
	// for modules that read files by path.
	OSRoot string
}

// Join returns the FS path and display path of name inside s.
func (s Source) Join(name string) (fsPath, display string) {
	return path.Join(s.Dir, name), path.Join(s.Display, name)
}

// Sub returns the source for subdirectory name of s.
func (s Source) Sub(name string) Source {
	p, d := s.Join(name)
	return Source{FS: s.FS, Dir: p, Display: d, OSRoot: s.OSRoot}
}

// Play is one play.
type Play struct {
	Pos               Pos
	Name              string
	Hosts             string // host pattern (may be templated)
	GatherFacts       bool
	Vars              map[string]any
	VarsFiles         []VarsFile
	Serial            []any // each an int or a "N%" string (or a template); empty = all hosts
	AnyErrorsFatal    bool
	MaxFailPercentage *float64
	Become            any // bool or template; nil = unset
	BecomeUser        any
	Tags              []string
	Environment       any
	// PreTasks, Tasks, PostTasks and Handlers have roles already expanded:
	// Tasks starts with one block per entry of `roles:`.
	PreTasks  []*Task
	Tasks     []*Task
	PostTasks []*Task
	Handlers  []*Task
	// Roles are the roles whose defaults and vars every task of the play
	// sees (Ansible's public roles: those of roles:, their dependencies and
	// import_role), in load order.
	Roles []*Role
}

// VarsFile is a vars_files entry, loaded when the play starts.
type VarsFile struct {
	Pos  Pos
	Name string // may be templated
	Vars map[string]any
	// Loaded is set when Name was static and the file was read at load time.
	Loaded bool
}

// Task is a task, a handler or a block (Block != nil).
type Task struct {
	Pos  Pos
	Name string

	// Action is the module or engine action, without "ansible.builtin.".
	Action string
	Args   map[string]any
	// ArgPos holds the position of each argument key, for messages.
	ArgPos map[string]Pos

	Block, Rescue, Always []*Task
	IsBlock               bool

	When        []any // conditions (strings or bools), all must hold
	Loop        any   // list or template; nil = no loop
	HasLoop     bool
	LoopControl LoopControl
	Register    string
	Notify      []string
	Listen      []string // handlers only

	Become     any // nil = inherit
	BecomeUser any
	RunOnce    any
	DelegateTo any
	// DelegateFacts stores facts set by a delegated task on the delegate.
	DelegateFacts     bool
	Tags              []string
	ChangedWhen       []any // nil = unset
	FailedWhen        []any
	IgnoreErrors      any
	IgnoreUnreachable any
	Until             []any
	Retries           any // nil = 3 when Until is set
	Delay             any // nil = 5 seconds
	Timeout           any // seconds one invocation (item, attempt) may take; nil = no limit
	NoLog             any
	Environment       any
	CheckMode         any // nil = follow -C
	Diff              any
	Vars              map[string]any

	// Role is the role whose file defined this task (nil for playbook tasks).
	Role *Role
	// Included is the file or role a static include_* resolved to at load time
	// (include_tasks/include_role with a name free of templates); the engine
	// still expands it per host at run time.
	Included []*Task
	// IncludedRole is the role of include_role/import_role.
	IncludedRole *Role
}

// LoopControl is a task's loop_control.
type LoopControl struct {
	LoopVar  string // default "item"
	IndexVar string
	Label    any
	Pause    any
	Extended bool
}

// Role is a loaded role. Task files are loaded once per role.
type Role struct {
	Name     string
	Src      Source // the role's directory
	Defaults map[string]any
	Vars     map[string]any
	Handlers []*Task
	// Deps are the roles of meta/main.yml dependencies, in order.
	Deps []*RoleRef
	// Tasks holds every loaded tasks file by name relative to tasks/ ("main.yml").
	Tasks map[string][]*Task
}

// RoleRef is one use of a role (in `roles:` or as a dependency).
type RoleRef struct {
	Pos  Pos
	Role *Role
	Vars map[string]any
	Tags []string
	When []any
}
