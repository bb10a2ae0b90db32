// Package inventory reads Ansible inventories (INI and YAML files, directories of
// them, group_vars/ and host_vars/) into the groups, hosts and merged variables
// that Ansible itself would compute, and selects hosts with Ansible host
// patterns. ansible-inventory (ansible-core 2.14) is the reference: ListJSON,
// HostJSON and Graph print what `ansible-inventory --list/--host/--graph` print.
//
// Values follow Ansible's typing: INI values go through Python literal_eval
// rules (so port=22 is an int and name="x y" a string), YAML uses YAML 1.1
// scalars (yes/no are booleans). Variables merge as Ansible's defaults do: all
// group < other groups by (depth, ansible_group_priority, name) < group_vars
// files in the same order < inline host vars < host_vars files.
//
// An Inventory is safe for concurrent use; AddHost may run while other
// goroutines read.
package inventory

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
)

// localhostNames are the names Ansible resolves to an implicit local host when
// the inventory does not define them.
var localhostNames = []string{"127.0.0.1", "localhost", "::1"}

type group struct {
	name     string
	vars     map[string]any
	hosts    []*host
	children []*group
	parents  []*group
	priority int
	depth    int // longest path from "all"; computed by reconcile
}

type host struct {
	name   string
	vars   map[string]any
	groups []*group // direct groups only; ancestors are derived
}

// Inventory is a loaded inventory. The zero value is not usable: call Load or New.
type Inventory struct {
	mu     sync.RWMutex
	groups map[string]*group
	glist  []*group // creation order: all.children lists top-level groups in it
	hosts  map[string]*host
	hlist  []*host // definition order

	// Vars from group_vars/ and host_vars/ next to each source, in source order.
	fileGroupVars []map[string]map[string]any
	fileHostVars  []map[string]map[string]any

	warnings []string

	// Caches, rebuilt lazily after a change.
	merged     map[string]map[string]any // host -> merged vars
	groupHosts map[string][]string
}

// New returns an inventory holding only the implicit "all" and "ungrouped" groups.
func New() *Inventory {
	inv := &Inventory{
		groups: map[string]*group{}, hosts: map[string]*host{},
		merged: map[string]map[string]any{}, groupHosts: map[string][]string{},
	}
	all := inv.addGroup("all")
	ungrouped := inv.addGroup("ungrouped")
	_ = inv.addChild(all, ungrouped)
	return inv
}

func (inv *Inventory) addGroup(name string) *group {
	if g, ok := inv.groups[name]; ok {
		return g
	}
	g := &group{name: name, vars: map[string]any{}, priority: 1}
	inv.groups[name] = g
	inv.glist = append(inv.glist, g)
	return g
}

// addHost creates the host if needed and puts it in g (if not nil). The new
// host gets inventory_file and inventory_dir, as Ansible sets them.
func (inv *Inventory) addHost(name string, g *group, source string) *host {
	h, ok := inv.hosts[name]
	if !ok {
		h = &host{name: name, vars: map[string]any{}}
		if source != "" {
			h.vars["inventory_file"] = source
			h.vars["inventory_dir"] = dirOf(source)
		} else {
			h.vars["inventory_file"] = nil
			h.vars["inventory_dir"] = nil
		}
		inv.hosts[name] = h
		inv.hlist = append(inv.hlist, h)
	}
	if g != nil && !slices.Contains(h.groups, g) { // h.groups is short; g.hosts may be huge
		g.hosts = append(g.hosts, h)
		h.groups = append(h.groups, g)
	}
	return h
}

// cycleError reports a group made its own ancestor.
type cycleError struct{ parent, child string }

func (e *cycleError) Error() string {
	return fmt.Sprintf("adding group %q as a child of %q creates a loop: %q is already an ancestor of %q",
		e.child, e.parent, e.child, e.parent)
}

// addChild makes child a child group of parent, refusing loops as Ansible does.
func (inv *Inventory) addChild(parent, child *group) error {
	if parent == child {
		return &cycleError{parent.name, child.name}
	}
	if slices.Contains(parent.children, child) {
		return nil
	}
	if _, anc := ancestors(parent)[child]; anc {
		return &cycleError{parent.name, child.name}
	}
	parent.children = append(parent.children, child)
	child.parents = append(child.parents, parent)
	return nil
}

// ancestors returns every group above g.
func ancestors(g *group) map[*group]struct{} {
	seen := map[*group]struct{}{}
	stack := slices.Clone(g.parents)
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if _, ok := seen[p]; ok {
			continue
		}
		seen[p] = struct{}{}
		stack = append(stack, p.parents...)
	}
	return seen
}

// reconcile applies Ansible's post-parse rules: every group without a parent
// is a child of "all"; "ungrouped" holds exactly the hosts that are in no group
// but all/ungrouped; depths are recomputed. Caches are dropped.
func (inv *Inventory) reconcile() {
	all, ungrouped := inv.groups["all"], inv.groups["ungrouped"]
	for _, g := range inv.glist {
		if g != all && len(g.parents) == 0 {
			_ = inv.addChild(all, g) // all has no parents: cannot loop
		}
	}
	leave := map[*host]bool{}
	for _, h := range inv.hlist {
		other := false
		inUngrouped := false
		for _, g := range h.groups {
			switch g {
			case ungrouped:
				inUngrouped = true
			case all:
			default:
				other = true
			}
		}
		if inUngrouped && other {
			leave[h] = true
			h.groups = slices.DeleteFunc(h.groups, func(g *group) bool { return g == ungrouped })
		} else if !inUngrouped && !other {
			inv.addHost(h.name, ungrouped, "")
		}
	}
	if len(leave) > 0 { // one pass: ungrouped may hold many hosts
		ungrouped.hosts = slices.DeleteFunc(ungrouped.hosts, func(h *host) bool { return leave[h] })
	}
	depth := map[*group]int{}
	var walk func(g *group) int
	walk = func(g *group) int {
		if d, ok := depth[g]; ok {
			return d
		}
		d := 0
		for _, p := range g.parents {
			d = max(d, walk(p)+1)
		}
		depth[g] = d
		return d
	}
	for _, g := range inv.glist {
		g.depth = walk(g)
	}
	inv.merged = map[string]map[string]any{}
	inv.groupHosts = map[string][]string{}
}

// hostGroups returns all groups of h, ancestors included, except "all".
func (inv *Inventory) hostGroups(h *host) []*group {
	all := inv.groups["all"]
	seen := map[*group]struct{}{}
	var out []*group
	var add func(g *group)
	add = func(g *group) {
		if _, ok := seen[g]; ok {
			return
		}
		seen[g] = struct{}{}
		if g != all {
			out = append(out, g)
		}
		for _, p := range g.parents {
			add(p)
		}
	}
	for _, g := range h.groups {
		add(g)
	}
	return out
}

// sortGroups orders groups as Ansible merges their vars: shallow first, then
// by ansible_group_priority, then by name; later groups win.
func sortGroups(gs []*group) {
	sort.SliceStable(gs, func(i, j int) bool {
		a, b := gs[i], gs[j]
		if a.depth != b.depth {
			return a.depth < b.depth
		}
		if a.priority != b.priority {
			return a.priority < b.priority
		}
		return a.name < b.name
	})
}

// Hosts returns every host in definition order.
func (inv *Inventory) Hosts() []string {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	out := make([]string, len(inv.hlist))
	for i, h := range inv.hlist {
		out[i] = h.name
	}
	return out
}

// Groups returns every group name, sorted, "all" and "ungrouped" included.
func (inv *Inventory) Groups() []string {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	out := slices.Collect(maps.Keys(inv.groups))
	sort.Strings(out)
	return out
}

// HasGroup reports whether the inventory defines the group.
func (inv *Inventory) HasGroup(name string) bool {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	_, ok := inv.groups[name]
	return ok
}

// HasHost reports whether the inventory defines the host (implicit localhost is not defined).
func (inv *Inventory) HasHost(name string) bool {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	_, ok := inv.hosts[name]
	return ok
}

// GroupHosts returns the value of groups[group] in Ansible: the group's own
// hosts, then those of its child groups level by level, without duplicates.
// An unknown group gives nil.
func (inv *Inventory) GroupHosts(name string) []string {
	inv.mu.RLock()
	if hs, ok := inv.groupHosts[name]; ok {
		inv.mu.RUnlock()
		return slices.Clone(hs)
	}
	inv.mu.RUnlock()
	inv.mu.Lock()
	defer inv.mu.Unlock()
	g, ok := inv.groups[name]
	if !ok {
		return nil
	}
	hs := hostNames(groupHostList(g))
	inv.groupHosts[name] = hs
	return slices.Clone(hs)
}

func hostNames(hs []*host) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.name
	}
	return out
}

// groupHostList walks g and its descendants breadth first, as Ansible's
// Group.get_hosts does, collecting hosts in order.
func groupHostList(g *group) []*host {
	level := []*group{g}
	seenG := map[*group]struct{}{g: {}}
	seenH := map[*host]struct{}{}
	var out []*host
	for len(level) > 0 {
		var next []*group
		for _, x := range level {
			for _, h := range x.hosts {
				if _, ok := seenH[h]; !ok {
					seenH[h] = struct{}{}
					out = append(out, h)
				}
			}
			for _, c := range x.children {
				if _, ok := seenG[c]; !ok {
					seenG[c] = struct{}{}
					next = append(next, c)
				}
			}
		}
		level = next
	}
	return out
}

// GroupNames returns Ansible's group_names for host: every group it belongs to,
// directly or through a child group, sorted, without "all". A host that is in
// no other group is in "ungrouped", and that is listed (as Ansible does).
func (inv *Inventory) GroupNames(hostName string) []string {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	h, ok := inv.hosts[hostName]
	if !ok {
		return []string{}
	}
	gs := inv.hostGroups(h)
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = g.name
	}
	sort.Strings(out)
	return out
}

// HostVars returns the host's merged inventory variables (see the package
// comment for the order), including inventory_file and inventory_dir as
// Ansible sets them. The map and everything in it is a fresh copy. An
// undefined localhost gets Ansible's implicit localhost vars; another unknown
// host gets nil.
func (inv *Inventory) HostVars(hostName string) map[string]any {
	inv.mu.RLock()
	if m, ok := inv.merged[hostName]; ok {
		inv.mu.RUnlock()
		return deepCopyMap(m)
	}
	inv.mu.RUnlock()
	inv.mu.Lock()
	defer inv.mu.Unlock()
	m := inv.computeHostVars(hostName)
	if m == nil {
		return nil
	}
	inv.merged[hostName] = m
	return deepCopyMap(m)
}

// computeHostVars merges vars in VariableManager's default order
// (VARIABLE_PRECEDENCE: all_inventory, groups_inventory, all_plugins_inventory,
// groups_plugins_inventory; then host vars and host_vars files).
func (inv *Inventory) computeHostVars(hostName string) map[string]any {
	all := inv.groups["all"]
	h, ok := inv.hosts[hostName]
	var gs []*group
	var hostVars map[string]any
	switch {
	case ok:
		gs = inv.hostGroups(h)
		sortGroups(gs)
		hostVars = h.vars
	case slices.Contains(localhostNames, hostName):
		hostVars = map[string]any{"ansible_connection": "local"}
	default:
		return nil
	}
	out := map[string]any{}
	maps.Copy(out, all.vars)
	for _, g := range gs {
		maps.Copy(out, g.vars)
	}
	for _, src := range inv.fileGroupVars {
		maps.Copy(out, src["all"])
	}
	for _, src := range inv.fileGroupVars {
		for _, g := range gs {
			maps.Copy(out, src[g.name])
		}
	}
	maps.Copy(out, hostVars)
	for _, src := range inv.fileHostVars {
		maps.Copy(out, src[hostName])
	}
	return out
}

// AddHost adds host (creating it if new) to the given groups (creating those
// as children of "all"), and sets vars on it, as Ansible's add_host and
// group_by do at run time.
func (inv *Inventory) AddHost(hostName string, groups []string, vars map[string]any) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	h, ok := inv.hosts[hostName]
	if !ok {
		h = inv.addHost(hostName, inv.groups["all"], "")
	}
	for _, name := range groups {
		inv.addHost(hostName, inv.addGroup(name), "")
	}
	for k, v := range vars {
		h.vars[k] = deepCopy(v)
	}
	inv.reconcile()
}

func deepCopyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = deepCopy(v)
	}
	return out
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return deepCopyMap(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}
