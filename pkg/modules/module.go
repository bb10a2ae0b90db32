// Package modules holds koala's task modules: small idempotent units (command,
// copy, template, file, sysctl, ...) that act on one host through its
// transport.Conn and return changed/failed/diff. Modules that need engine state
// (set_fact, group_by, include_*, meta, assert, debug, fail) live in the engine.
package modules

import (
	"context"

	"github.com/koala-stack/koala/pkg/transport"
)

// Module is one task module.
type Module interface {
	Run(ctx context.Context, t *Task) (Result, error)
}

// ArgSpec is implemented by modules that declare their arguments, so that an
// unknown or missing argument is reported before any host is touched.
type ArgSpec interface {
	// Args returns the accepted argument names and which of them are required.
	Args() (accepted, required []string)
}

// Task is one invocation of a module on one host, prepared by the engine.
type Task struct {
	Host  string         // inventory hostname
	Args  map[string]any // templated arguments
	Vars  map[string]any // the host's variables, for modules that render templates
	Conn  transport.Conn // already wrapped for become when the task asks for it
	Check bool           // check mode: report what would change, change nothing
	Diff  bool           // compute Result.Diff
	// FindFile resolves a relative src of copy/template against the role's and
	// playbook's files/ or templates/ directory (kind is "files" or "templates").
	FindFile func(kind, name string) (string, error)
	// Render renders template source (a template file's content) with Vars;
	// name is used in error messages.
	Render func(name, src string) (string, error)
}

// Result is what a module did on one host.
type Result struct {
	Changed bool
	Failed  bool
	Skipped bool
	Msg     string
	Diff    []Diff
	// Data are the fields a `register:` exposes (rc, stdout, stderr,
	// stdout_lines, stat, ...), besides changed/failed/msg.
	Data map[string]any
	// Facts are returned host facts (setup), merged into the host's variables.
	Facts map[string]any
}

// Diff is one before/after pair, for -D/--diff.
type Diff struct {
	Path   string
	Before string
	After  string
}

var registry = map[string]Module{}

// Register adds a module under its name and its aliases; called from init of
// the file that defines the module.
func Register(m Module, names ...string) {
	for _, n := range names {
		registry[n] = m
	}
}

// Lookup finds a module by name (short or ansible.builtin.* form).
func Lookup(name string) (Module, bool) {
	m, ok := registry[name]
	return m, ok
}
