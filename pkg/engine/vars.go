package engine

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/koala-stack/koala/pkg/modules"
	"github.com/koala-stack/koala/pkg/playbook"
	"github.com/koala-stack/koala/pkg/template"
)

// frame is one level of the task tree a task runs inside: a block, a role's
// block, or a dynamic include. Children inherit its vars, when, tags and
// keywords.
type frame struct {
	parent *frame
	t      *playbook.Task
	role   *playbook.Role
	// include marks a dynamic include: its own when and tags were evaluated
	// when it ran and do not apply again to the included tasks.
	include bool
}

func (f *frame) push(t *playbook.Task, include bool) *frame {
	role := t.Role
	if role == nil && f != nil {
		role = f.role
	}
	if include && t.IncludedRole != nil {
		role = t.IncludedRole
	}
	return &frame{parent: f, t: t, role: role, include: include}
}

// chain lists the frames outermost first.
func (f *frame) chain() []*frame {
	var out []*frame
	for ; f != nil; f = f.parent {
		out = append(out, f)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// roles lists the distinct roles of the chain and t, outermost first.
func roles(fr *frame, t *playbook.Task) []*playbook.Role {
	var out []*playbook.Role
	add := func(r *playbook.Role) {
		if r == nil {
			return
		}
		for _, x := range out {
			if x == r {
				return
			}
		}
		out = append(out, r)
	}
	for _, f := range fr.chain() {
		add(f.t.Role)
		add(f.role)
	}
	add(t.Role)
	return out
}

// inherited returns the nearest value of a keyword set on t or its frames.
func inherited(fr *frame, t *playbook.Task, get func(*playbook.Task) any) any {
	if v := get(t); v != nil {
		return v
	}
	for f := fr; f != nil; f = f.parent {
		if v := get(f.t); v != nil {
			return v
		}
	}
	return nil
}

// scope is the variables one task sees on one host, templated lazily.
type scope struct {
	r      *runner
	vars   map[string]any
	done   map[string]bool // names already templated in vars
	parent *scope          // the task's scope, for a loop item's scope
	// hvKeys are the names hostvars entries were rendered for; a scope
	// that renders one host's hostvars entry uses plain hostvars
	// (plainHostvars), so resolution cannot recurse through hosts.
	hvKeys        map[string]bool
	plainHostvars bool
	// loop is shared by the items of a loop whose modules may inspect ahead.
	loop *modules.Loop
}

// hostvarsKeys sets hostvars with the values of names (identifiers of the
// template being prepared) rendered in every host's entry where they are
// templates: hostvars[h]['api_address'] sees h's value, not its source.
func (s *scope) hostvarsKeys(names []string) {
	if s.hvKeys == nil {
		s.hvKeys = map[string]bool{}
	}
	grew := s.vars["hostvars"] == nil
	for _, n := range names {
		if !s.hvKeys[n] {
			s.hvKeys[n] = true
			grew = true
		}
	}
	if !grew {
		return
	}
	keys := make([]string, 0, len(s.hvKeys))
	for k := range s.hvKeys {
		keys = append(keys, k)
	}
	s.vars["hostvars"] = s.r.hostvarsFor(keys)
	s.done["hostvars"] = true
}

// set defines a variable for the rest of the task (set_fact in a loop is
// seen by the next item).
func (s *scope) set(name string, v any) {
	for ; s != nil; s = s.parent {
		s.vars[name] = v
		s.done[name] = true
	}
}

// newScope merges every variable layer for host hs running t inside fr.
func (r *runner) newScope(hs *hostState, fr *frame, t *playbook.Task) *scope {
	ps := r.play
	rs := roles(fr, t)
	r.mu.Lock()
	n := len(hs.inv) + len(hs.facts) + len(hs.vars) + len(ps.vars) + len(r.extra) + 24
	v := make(map[string]any, n)
	for _, ro := range ps.play.Roles {
		copyInto(v, ro.Defaults)
	}
	for _, ro := range rs {
		copyInto(v, ro.Defaults)
	}
	copyInto(v, hs.inv)
	copyInto(v, hs.facts)
	if len(hs.facts) > 0 {
		v["ansible_facts"] = factsView(hs.facts)
	}
	copyInto(v, ps.vars)
	for _, ro := range ps.play.Roles {
		copyInto(v, ro.Vars)
	}
	for _, ro := range rs {
		copyInto(v, ro.Vars)
	}
	for _, f := range fr.chain() {
		copyInto(v, f.t.Vars)
	}
	copyInto(v, t.Vars)
	copyInto(v, hs.vars)
	active := ps.activeNames(r.downs)
	r.mu.Unlock()
	copyInto(v, r.extra)
	r.magic(v, hs, rs, active)
	return &scope{r: r, vars: v, done: map[string]bool{}}
}

func copyInto(dst, src map[string]any) {
	for k, x := range src {
		dst[k] = x
	}
}

// factsView is ansible_facts: the facts without their "ansible_" prefix.
func factsView(facts map[string]any) map[string]any {
	m := make(map[string]any, len(facts))
	for k, v := range facts {
		m[strings.TrimPrefix(k, "ansible_")] = v
	}
	return m
}

// magic sets Ansible's special variables.
func (r *runner) magic(v map[string]any, hs *hostState, rs []*playbook.Role, active []string) {
	ps := r.play
	v["inventory_hostname"] = hs.name
	short, _, _ := strings.Cut(hs.name, ".")
	v["inventory_hostname_short"] = short
	v["group_names"] = r.inv.GroupNames(hs.name)
	v["groups"] = r.groups()
	v["playbook_dir"] = r.pb.Dir.Display
	v["ansible_check_mode"] = r.opts.Check
	v["ansible_diff_mode"] = r.opts.Diff
	v["ansible_verbosity"] = r.opts.Verbosity
	v["ansible_play_hosts_all"] = ps.allNames
	v["ansible_play_batch"] = ps.batchNames
	v["ansible_play_hosts"] = active
	v["play_hosts"] = active
	if len(rs) > 0 {
		ro := rs[len(rs)-1]
		v["role_name"] = ro.Name
		v["role_path"] = ro.Src.Display
	}
}

// groups returns the groups map, rebuilt when the inventory changed
// (add_host, group_by).
func (r *runner) groups() map[string][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.groupsCache == nil {
		g := map[string][]string{}
		for _, name := range r.inv.Groups() {
			g[name] = r.inv.GroupHosts(name)
		}
		r.groupsCache = g
	}
	return r.groupsCache
}

// hostvarsFor is hostvars with the values of keys rendered, per host, where
// they are templates. Rendered entries are cached per host until the host's
// variables change; entries are replaced, never modified, as templates on
// other goroutines may be reading them.
func (r *runner) hostvarsFor(keys []string) map[string]any {
	sort.Strings(keys)
	ck := strings.Join(keys, " ")
	r.mu.Lock()
	if c, ok := r.hvFor[ck]; ok && c.version == r.version {
		r.mu.Unlock()
		return c.m
	}
	version := r.version
	r.mu.Unlock()
	out := r.renderHostvars(keys)
	r.mu.Lock()
	if r.hvFor == nil || len(r.hvFor) > 64 {
		r.hvFor = map[string]*hostvarsSnapshot{}
	}
	r.hvFor[ck] = &hostvarsSnapshot{version: version, m: out}
	r.mu.Unlock()
	return out
}

func (r *runner) renderHostvars(keys []string) map[string]any {
	snap := r.hostvars()
	var out map[string]any
	for name, base := range snap {
		r.mu.Lock()
		hs := r.hosts[name]
		if hs.hvResVersion != hs.version || hs.hvRes == nil {
			hs.hvRes, hs.hvResVersion, hs.hvTried = base.(map[string]any), hs.version, map[string]bool{}
		}
		cur, ver := hs.hvRes, hs.version
		var todo []string
		for _, k := range keys {
			if v, ok := cur[k]; ok && !hs.hvTried[k] && hasTemplate(v) {
				todo = append(todo, k)
			}
		}
		r.mu.Unlock()
		if len(todo) > 0 {
			next := make(map[string]any, len(cur)+1)
			copyInto(next, cur)
			next["hostvars"] = snap
			hsc := &scope{r: r, vars: next, done: map[string]bool{"hostvars": true}, plainHostvars: true}
			for _, k := range todo {
				hsc.resolveValue(k)
			}
			delete(next, "hostvars")
			// Goroutines racing on one host compute the same values; the
			// last one stores them.
			r.mu.Lock()
			if hs.hvResVersion == ver {
				if !sameMap(hs.hvRes, cur) {
					// Another goroutine stored keys meanwhile: keep them.
					merged := make(map[string]any, len(hs.hvRes))
					copyInto(merged, hs.hvRes)
					for _, k := range todo {
						merged[k] = next[k]
					}
					next = merged
				}
				hs.hvRes = next
				for _, k := range todo {
					hs.hvTried[k] = true
				}
			}
			r.mu.Unlock()
			cur = next
		}
		if cur != nil && !sameMap(cur, base) {
			if out == nil {
				out = make(map[string]any, len(snap))
				copyInto(out, snap)
			}
			out[name] = cur
		}
	}
	if out == nil {
		return snap
	}
	return out
}

// sameMap reports whether a and b are the same map (not equal contents).
func sameMap(a map[string]any, b any) bool {
	bm, ok := b.(map[string]any)
	return ok && len(a) == len(bm) && reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(bm).UnsafePointer()
}

// hostvarsSnapshot is hostvars at one version of every host's variables.
type hostvarsSnapshot struct {
	version int
	m       map[string]any
}

// hostvars returns every inventory host's variables (inventory, facts,
// registered, extra vars), rebuilding only hosts that changed.
func (r *runner) hostvars() map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.hvCache != nil && r.hvCache.version == r.version && len(r.hvCache.m) == len(r.hosts) {
		return r.hvCache.m
	}
	for _, name := range r.inv.Hosts() {
		r.hostLocked(name)
	}
	m := make(map[string]any, len(r.hosts))
	for name, hs := range r.hosts {
		if hs.hvVersion != hs.version || hs.hvMap == nil {
			hv := make(map[string]any, len(hs.inv)+len(hs.facts)+len(hs.vars)+len(r.extra)+4)
			copyInto(hv, hs.inv)
			copyInto(hv, hs.facts)
			if len(hs.facts) > 0 {
				hv["ansible_facts"] = factsView(hs.facts)
			}
			copyInto(hv, hs.vars)
			copyInto(hv, r.extra)
			hv["inventory_hostname"] = name
			hv["group_names"] = r.inv.GroupNames(name)
			hs.hvMap, hs.hvVersion = hv, hs.version
		}
		m[name] = hs.hvMap
	}
	r.hvCache = &hostvarsSnapshot{version: r.version, m: m}
	return m
}

var identRe = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)

// prepare templates, in place, every variable that the template strings in v
// may refer to, so a variable whose value is itself a template (base:
// "/srv/{{ inventory_hostname }}") is seen rendered. Identifiers are found
// by a scan that may over-approximate; that only costs a render.
func (s *scope) prepare(v any, bare bool) {
	switch t := v.(type) {
	case string:
		if !bare && !playbook.HasTemplate(t) {
			return
		}
		ids := identRe.FindAllString(t, -1)
		for _, id := range ids {
			if id == "hostvars" && !s.plainHostvars {
				s.hostvarsKeys(ids)
				continue
			}
			s.resolve(id)
		}
	case map[string]any:
		for _, x := range t {
			s.prepare(x, false)
		}
	case []any:
		for _, x := range t {
			s.prepare(x, false)
		}
	}
}

func (s *scope) resolve(name string) {
	if s.done[name] {
		return
	}
	s.done[name] = true
	if name == "hostvars" {
		s.vars[name] = s.r.hostvars()
		return
	}
	s.resolveValue(name)
}

func (s *scope) resolveValue(name string) {
	val, ok := s.vars[name]
	if !ok || !hasTemplate(val) {
		return
	}
	s.done[name] = true
	s.prepare(val, false)
	// A variable that cannot be templated yet (it refers to something
	// undefined) keeps its raw value; using it reports the error then.
	if out, err := s.r.tpl.Template(name, val, s.vars); err == nil {
		s.vars[name] = out
	}
}

func hasTemplate(v any) bool {
	switch t := v.(type) {
	case string:
		return playbook.HasTemplate(t)
	case map[string]any:
		for _, x := range t {
			if hasTemplate(x) {
				return true
			}
		}
	case []any:
		for _, x := range t {
			if hasTemplate(x) {
				return true
			}
		}
	}
	return false
}

// template templates v deeply (a lone "{{ x }}" keeps x's type).
func (s *scope) template(name string, v any) (any, error) {
	if !hasTemplate(v) {
		return v, nil
	}
	s.prepare(v, false)
	return s.r.tpl.Template(name, v, s.vars)
}

// str templates v and returns it as a string ("" for nil).
func (s *scope) str(name string, v any) (string, error) {
	out, err := s.template(name, v)
	if err != nil || out == nil {
		return "", err
	}
	return fmt.Sprint(out), nil
}

// boolean templates a keyword such as become or ignore_errors.
func (s *scope) boolean(name string, v any, def bool) (bool, error) {
	if v == nil {
		return def, nil
	}
	out, err := s.template(name, v)
	if err != nil {
		return false, err
	}
	return truthy(out), nil
}

// cond evaluates conditions (when, changed_when, ...): all must hold.
func (s *scope) cond(name string, conds []any) (bool, error) {
	for _, c := range conds {
		switch x := c.(type) {
		case bool:
			if !x {
				return false, nil
			}
		case string:
			s.prepare(x, true)
			v, err := s.r.tpl.Eval(name, playbook.StripBraces(x), s.vars)
			if err != nil {
				return false, err
			}
			if !truthy(v) {
				return false, nil
			}
		default:
			if !truthy(x) {
				return false, nil
			}
		}
	}
	return true, nil
}

// truthy is Ansible's truth for conditions and boolean keywords, where
// strings such as "yes" and "false" are common.
func truthy(v any) bool { return template.Truthy(v) }

// renderer renders template file source for modules (template:).
func (s *scope) render(name, src string) (string, error) {
	if !playbook.HasTemplate(src) {
		return src, nil
	}
	s.prepare(src, false)
	return s.r.tpl.Render(name, src, s.vars)
}
