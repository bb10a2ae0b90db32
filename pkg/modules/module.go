// Package modules holds koala's task modules: small idempotent units (command,
// copy, template, file, sysctl, ...) that act on one host through its
// transport.Conn and return changed/failed/diff. Modules that need engine state
// (set_fact, group_by, include_*, meta, assert, debug, fail) live in the engine.
//
// Every module here declares its arguments (Args), makes every change through
// the check-mode gate (gate.go) and aims at one round trip to the host per
// call: the inspection and, where it can be done in the same shell script, the
// change.
package modules

import (
	"context"
	"io/fs"
	"sort"
	"strings"

	"github.com/koala-stack/koala/pkg/transport"
)

// Module is one task module.
type Module interface {
	Run(ctx context.Context, t *Task) (Result, error)
	// Args returns the accepted argument names (aliases included) and which
	// of them are required ("a|b": one of a or b), so that the playbook
	// loader reports an unknown or missing argument before any host is
	// touched.
	Args() (accepted, required []string)
}

// Task is one invocation of a module on one host, prepared by the engine.
type Task struct {
	Host  string         // inventory hostname
	Args  map[string]any // templated arguments
	Vars  map[string]any // the host's variables, for modules that render templates
	Conn  transport.Conn // already wrapped for become when the task asks for it
	Check bool           // check mode: report what would change, change nothing (read by gate.go only)
	Diff  bool           // compute Result.Diff
	// Env is the task's `environment:`; modules that run commands pass it as
	// transport.Command.Env, never in process arguments.
	Env map[string]string
	// ReadFile reads a controller-side src of copy, template or
	// merge_configs: an absolute path, or a name looked for as Ansible does
	// (the role's and playbook's files/ or templates/ directory: kind is
	// "files" or "templates"), from disk or from roles embedded in the
	// binary. display names the file in messages; mode is its permission
	// bits when known (a file on disk), else 0.
	ReadFile func(kind, name string) (data []byte, display string, mode fs.FileMode, err error)
	// Render renders template source (a template file's content) with Vars;
	// name is used in error messages.
	Render func(name, src string) (string, error)
	// CheckPending lists, in check mode, the paths on this host that earlier
	// tasks of the run would have changed (their dest or path argument) but,
	// in check mode, did not: a module that decides from files on the host
	// (kolla_container restarting for a changed config_dir) reads them too.
	CheckPending []string
	// Loop, when set, is shared by the items of this task's loop on this
	// host, so that their inspections can be one round trip (loop.go).
	Loop *Loop
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
	// Facts are returned host facts (setup), named as Ansible injects them
	// (ansible_hostname, ansible_default_ipv4, ...); the engine also exposes
	// each under ansible_facts without the "ansible_" prefix.
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
// the file that defines the module. Names from collections other than
// ansible.builtin (ansible.posix.sysctl) are given in full.
func Register(m Module, names ...string) {
	for _, n := range names {
		registry[n] = m
	}
}

// builtinPrefixes are the collection prefixes Lookup strips: every module
// registered under a short name is also its ansible.builtin (and legacy) name.
var builtinPrefixes = []string{"ansible.builtin.", "ansible.legacy."}

// Lookup finds a module by name (short or ansible.builtin.* form).
func Lookup(name string) (Module, bool) {
	if m, ok := registry[name]; ok {
		return m, true
	}
	for _, p := range builtinPrefixes {
		if short, ok := strings.CutPrefix(name, p); ok {
			m, ok := registry[short]
			return m, ok
		}
	}
	return nil, false
}

// Catalog is the registry as the playbook loader asks about it
// (playbook.Options.Modules): the loader is handed it rather than importing
// this package, so loading a playbook does not link the modules' clients.
type Catalog struct{}

// Args returns the arguments of the module name; ok is false when there is
// no such module.
func (Catalog) Args(name string) (accepted, required []string, ok bool) {
	m, ok := Lookup(name)
	if !ok {
		return nil, nil, false
	}
	accepted, required = m.Args()
	return accepted, required, true
}

// Names lists every registered module name, sorted.
func (Catalog) Names() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
