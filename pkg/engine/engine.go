// Package engine runs playbooks (pkg/playbook) against an inventory, the way
// ansible-playbook's linear strategy does: every host of a batch finishes task
// N before task N+1 starts, hosts run in parallel under a forks limit, serial
// batches, handlers run at flushes on the hosts that notified them, in the
// order they are defined.
//
// Use:
//
//	pb, err := engine.LoadPlaybook("site.yml", nil) // validates everything, file:line
//	recap, err := engine.Run(ctx, engine.Options{
//		Inventory: inv, Playbook: pb,
//		ExtraVars: []map[string]any{globals, passwords, cliVars},
//		Sinks:     []engine.Sink{view},
//	})
//	if recap.Failed() { ... exit 2 ... }
//
// Run reports progress as a stream of typed events (PlayStart, TaskStart,
// HostResult, TaskEnd, Recap) to Sinks; the terminal view and the --json
// writer in pkg/engine/output are two readers of that stream. Run's error is
// for problems that stop the whole run (a cancelled context, a play whose
// hosts pattern is wrong); a failed or unreachable host is not an error of
// Run, it is in the Recap.
//
// Variables, lowest precedence first: role defaults, inventory group and host
// vars, gathered facts, play vars and vars_files, role vars, block and task
// vars, include parameters, registered results and set_fact, then
// Options.ExtraVars in order (globals.yml, globals.d, passwords.yml, -e).
// Values are templated lazily: a variable whose value is a template is
// rendered when a task's arguments or conditions refer to it.
package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/koala-stack/koala/pkg/modules"
	"github.com/koala-stack/koala/pkg/playbook"
	"github.com/koala-stack/koala/pkg/template"
	"github.com/koala-stack/koala/pkg/transport"
	"github.com/koala-stack/koala/pkg/vault"
)

// Inventory is what the engine needs of an inventory (*inventory.Inventory).
type Inventory interface {
	Hosts() []string
	Groups() []string
	GroupHosts(group string) []string
	GroupNames(host string) []string
	HostVars(host string) map[string]any
	HasHost(host string) bool
	Match(pattern string) ([]string, error)
	AddHost(host string, groups []string, vars map[string]any)
}

// Connector opens (or reuses) a host's connection; *transport.Pool is one.
type Connector interface {
	Get(ctx context.Context, spec transport.HostSpec) (transport.Conn, error)
}

// Options configure Run.
type Options struct {
	Inventory Inventory
	Playbook  *playbook.Playbook
	// ExtraVars are the highest-precedence variables, lowest first:
	// globals.yml, globals.d/*.yml, passwords.yml, then -e values.
	ExtraVars []map[string]any
	Limit     string   // host pattern intersected with every play's hosts
	Tags      []string // only tasks with these tags (empty = all)
	SkipTags  []string
	Check     bool // -C: modules report what they would change
	Diff      bool // -D: modules report before/after
	Forks     int  // hosts worked on at once; 0 = DefaultForks
	Verbosity int  // debug tasks with verbosity above this are skipped
	Sinks     []Sink
	// Secrets are values (passwords.yml's) replaced by Redacted in every
	// event the sinks see, whatever a task prints: the terminal view and
	// --json never show them, no_log or not. Connection passwords and the
	// values vault.Default() decrypted before Run are added.
	Secrets []string
	// Connector reaches hosts; nil = a connection pool built from inventory
	// variables (ansible_host, ansible_user, ...), closed when Run returns.
	Connector Connector
	// ConnectionDefaults are connection variables (ansible_user,
	// ansible_ssh_args, ...) for hosts whose own variables lack them:
	// ansible.cfg's settings, as pkg/ansiblecfg gives them.
	ConnectionDefaults map[string]any
	// Templates renders templates; nil = template.New().
	Templates *template.Engine
}

// DefaultForks is the default parallelism: a host costs the engine a
// goroutine and an SSH session, so it can be much higher than Ansible's 5.
const DefaultForks = 50

// LoadPlaybook loads and validates the playbook at path (on disk) with koala's
// template dialect; rolesPath is searched after the playbook's roles/.
func LoadPlaybook(path string, rolesPath []playbook.Source) (*playbook.Playbook, error) {
	return playbook.LoadFile(path, loadOptions(rolesPath))
}

// LoadPlaybookFrom loads the playbook name inside dir, which may be any file
// system (koala's lifecycle playbooks import generated ones).
func LoadPlaybookFrom(dir playbook.Source, name string, rolesPath []playbook.Source) (*playbook.Playbook, error) {
	return playbook.Load(dir, name, loadOptions(rolesPath))
}

// loadOptions checks templates in koala's dialect and tasks against koala's
// modules.
func loadOptions(rolesPath []playbook.Source) playbook.Options {
	return playbook.Options{RolesPath: rolesPath, CheckTemplate: template.New().Check, Modules: modules.Catalog{}}
}

// Run runs every play of the playbook. See the package comment.
func Run(ctx context.Context, opts Options) (*Recap, error) {
	if opts.Inventory == nil || opts.Playbook == nil {
		return nil, errors.New("engine: Options.Inventory and Options.Playbook are required")
	}
	if opts.Limit != "" {
		if _, err := LimitHosts(opts.Inventory, opts.Limit); err != nil {
			return nil, err
		}
	}
	if opts.Forks <= 0 {
		opts.Forks = DefaultForks
	}
	if opts.Templates == nil {
		opts.Templates = template.New()
	}
	r := &runner{
		opts:  opts,
		pb:    opts.Playbook,
		inv:   opts.Inventory,
		tpl:   opts.Templates,
		bus:   &bus{sinks: opts.Sinks, redact: newRedactor(slices.Concat(opts.Secrets, connectionSecrets(opts), vault.Default().Revealed()))},
		hosts: map[string]*hostState{},
		conns: opts.Connector,
		sem:   make(chan struct{}, opts.Forks),
	}
	if r.conns == nil {
		pool := transport.NewPool(transport.PoolOptions{})
		defer pool.Close()
		r.conns = pool
	}
	for _, m := range opts.ExtraVars {
		r.extra = mergeInto(r.extra, m)
	}
	start := time.Now()
	recap := &Recap{Hosts: map[string]*Stats{}}
	var err error
	for _, play := range r.pb.Plays {
		if r.endRun {
			break
		}
		if err = r.runPlay(ctx, play); err != nil {
			break
		}
	}
	if err == nil {
		err = ctx.Err()
	}
	r.mu.Lock()
	for _, h := range r.inv.Hosts() {
		if hs := r.hosts[h]; hs != nil && hs.played {
			recap.Order = append(recap.Order, h)
			recap.Hosts[h] = &hs.stats
		}
	}
	r.mu.Unlock()
	recap.Elapsed = time.Since(start)
	r.bus.emit(recap)
	return recap, err
}

// runner is the state of one Run.
type runner struct {
	opts  Options
	pb    *playbook.Playbook
	inv   Inventory
	tpl   *template.Engine
	bus   *bus
	conns Connector
	sem   chan struct{}
	extra map[string]any
	// endRun: any_errors_fatal, max_fail_percentage or a batch where every
	// host failed stop the run, later plays included, as ansible-playbook.
	endRun bool

	mu      sync.Mutex // guards hosts, hvCache, version
	hosts   map[string]*hostState
	version int // bumped whenever any host's facts change: hostvars snapshots expire
	downs   int // bumped whenever a host fails, becomes unreachable or is rescued
	hvCache *hostvarsSnapshot
	hvFor   map[string]*hostvarsSnapshot // hostvarsFor results by key set
	// groupsCache is the groups variable; nil after add_host/group_by.
	groupsCache map[string][]string

	play *playState
}

// hostState is one host across the run.
type hostState struct {
	name string
	// inv is the host's inventory variables, read once.
	inv map[string]any
	// facts are gathered facts (setup); vars are registered results and
	// set_fact values. Both persist across plays, as in Ansible.
	facts map[string]any
	vars  map[string]any

	failed      bool // failed in this play; drops out of it
	unreachable bool
	ended       bool // meta: end_host
	played      bool // took part in a play: listed in the recap
	stats       Stats
	version     int // bumped when facts/vars change

	hvVersion int            // version hvMap was built at
	hvMap     map[string]any // hostvars[name], rebuilt when version changes
	// hvRes is hvMap with templated values rendered on demand (hostvarsFor),
	// valid while hvResVersion == version; hvTried lists the keys done.
	hvRes        map[string]any
	hvResVersion int
	hvTried      map[string]bool

	// pending are the paths on this host that tasks would have changed in
	// check mode (modules.Task.CheckPending).
	pending []string
}

// host returns (creating) the state of host name.
func (r *runner) host(name string) *hostState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hostLocked(name)
}

func (r *runner) hostLocked(name string) *hostState {
	hs := r.hosts[name]
	if hs == nil {
		inv := r.inv.HostVars(name)
		if inv == nil {
			inv = map[string]any{}
		}
		hs = &hostState{name: name, inv: inv, facts: map[string]any{}, vars: map[string]any{}, hvVersion: -1}
		r.hosts[name] = hs
	}
	return hs
}

// setVars records registered/set_fact values (or facts) for a host.
func (r *runner) setVars(hs *hostState, vars map[string]any, facts bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	dst := hs.vars
	if facts {
		dst = hs.facts
	}
	for k, v := range vars {
		dst[k] = v
	}
	hs.version++
	r.version++
}

// active reports whether the host still takes part in the play.
func (hs *hostState) active() bool { return !hs.failed && !hs.unreachable && !hs.ended }

func (r *runner) activeHosts(hosts []*hostState) []*hostState {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*hostState
	for _, h := range hosts {
		if h.active() {
			out = append(out, h)
		}
	}
	return out
}

// conn returns the connection to host name (its own inventory variables say
// how to reach it), wrapped for become when asked; becomePass is sudo's
// password ("" = sudo must not ask).
func (r *runner) conn(ctx context.Context, name string, vars map[string]any, become bool, becomeUser, becomePass string) (transport.Conn, error) {
	spec := transport.SpecFromVars(name, vars, r.opts.ConnectionDefaults)
	if name == "localhost" && !r.inv.HasHost(name) {
		spec.Local = true
	}
	c, err := r.conns.Get(ctx, spec)
	if err != nil {
		return nil, err
	}
	if become {
		if becomeUser == "" {
			becomeUser = "root"
		}
		c = transport.BecomeWithPassword(c, becomeUser, becomePass)
	}
	return c, nil
}

// becomePassVars name sudo's password, as Ansible's sudo become plugin reads
// it; --ask-become-pass puts it in ConnectionDefaults.
var becomePassVars = []string{"ansible_become_password", "ansible_become_pass", "ansible_sudo_pass"}

// becomePassword is the become password for a task on a host with vars
// (templated: it often names a vault variable), else ConnectionDefaults'.
func (r *runner) becomePassword(sc *scope, pos string, vars map[string]any) (string, error) {
	for _, m := range []map[string]any{vars, r.opts.ConnectionDefaults} {
		for _, k := range becomePassVars {
			if v, ok := m[k]; ok && v != nil {
				return sc.str(pos+" "+k, v)
			}
		}
	}
	return "", nil
}

// connectionSecrets are the passwords in connection variables (the
// inventory's and ConnectionDefaults'): starred in events like passwords.yml's.
func connectionSecrets(opts Options) []string {
	var out []string
	add := func(m map[string]any) {
		for _, k := range append([]string{"ansible_password", "ansible_ssh_pass"}, becomePassVars...) {
			if s, ok := m[k].(string); ok {
				out = append(out, s)
			}
		}
	}
	add(opts.ConnectionDefaults)
	for _, h := range opts.Inventory.Hosts() {
		add(opts.Inventory.HostVars(h))
	}
	return out
}

// forks runs fn for every host, at most opts.Forks at a time, and waits.
func (r *runner) forEach(ctx context.Context, hosts []*hostState, fn func(*hostState)) {
	var wg sync.WaitGroup
	for _, h := range hosts {
		select {
		case r.sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		wg.Add(1)
		go func() {
			defer func() { <-r.sem; wg.Done() }()
			fn(h)
		}()
	}
	wg.Wait()
}

func mergeInto(dst, src map[string]any) map[string]any {
	if dst == nil {
		dst = make(map[string]any, len(src))
	}
	for k, v := range src {
		dst[k] = v
	}
	return dst
}

// moduleFor finds the module of an action, with a message naming the task.
func moduleFor(t *playbook.Task) (modules.Module, error) {
	m, ok := modules.Lookup(t.Action)
	if !ok {
		return nil, fmt.Errorf("%s: unknown module %q", t.Pos, t.Action)
	}
	return m, nil
}
