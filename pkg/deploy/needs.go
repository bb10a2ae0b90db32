package deploy

import (
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	koala "github.com/koala-stack/koala"
	"github.com/koala-stack/koala/pkg/configdir"
	"github.com/koala-stack/koala/pkg/passwords"
	"github.com/koala-stack/koala/pkg/playbook"
	"github.com/koala-stack/koala/pkg/plays"
	"github.com/koala-stack/koala/pkg/template"
)

// checkConfig reports, all at once, the globals.yml values of the wrong kind
// and the groups and passwords the enabled roles need but do not have. It
// returns the images of the enabled services, for the registry check the
// playbook runs before it touches a container.
func checkConfig(cd *configdir.Dir, inv Inventory, pb *playbook.Playbook, metas []*plays.Meta, layers []map[string]any) ([]string, error) {
	var errs []error
	if err := cd.Validate(); err != nil {
		errs = append(errs, err)
	}
	n, err := newNeeds(cd, inv, metas, layers)
	if err != nil {
		return nil, err
	}
	images, problems, err := n.check(pb)
	if err != nil {
		return nil, err
	}
	problems = append(problems, unsupported(cd, inv, metas)...)
	if len(problems) > 0 {
		errs = append(errs, errors.New(strings.Join(problems, "\n")))
	}
	return images, errors.Join(errs...)
}

// configProblems lists the groups and passwords the enabled roles of pb need
// but do not have, for `koala prechecks` to report with what it finds on the
// hosts (its own playbook runs no service role).
func configProblems(cd *configdir.Dir, inv Inventory, pb *playbook.Playbook, metas []*plays.Meta, layers []map[string]any) ([]string, error) {
	n, err := newNeeds(cd, inv, metas, layers)
	if err != nil {
		return nil, err
	}
	_, problems, err := n.check(pb)
	return append(problems, unsupported(cd, inv, metas)...), err
}

// unsupported lists the enable_* flags globals.yml turns on that no service
// role reads and group_vars do not define: a service koala has no role for
// would otherwise be silently left out.
func unsupported(cd *configdir.Dir, inv Inventory, metas []*plays.Meta) []string {
	known := map[string]bool{}
	var services []string
	for _, m := range metas {
		known[m.Enable] = true
		services = append(services, m.Enable)
	}
	if hosts := inv.Hosts(); len(hosts) > 0 {
		for k := range inv.HostVars(hosts[0]) {
			known[k] = true
		}
	}
	var out []string
	for _, l := range cd.Globals {
		for k, v := range l.Vars {
			if !strings.HasPrefix(k, "enable_") || known[k] || !template.Truthy(v) {
				continue
			}
			out = append(out, fmt.Sprintf("%s:%d: %s: koala has no role for this service, so it would not be deployed (the services koala deploys: %s); set it to \"no\" or remove it", l.File, l.Lines[k], k, strings.Join(services, ", ")))
		}
	}
	sort.Strings(out)
	return out
}

func newNeeds(cd *configdir.Dir, inv Inventory, metas []*plays.Meta, layers []map[string]any) (*needs, error) {
	pwKeys, err := passwordKeys(cd)
	if err != nil {
		return nil, err
	}
	return &needs{inv: inv, layers: layers, metas: metas, pwKeys: pwKeys, pwFile: cd.Passwords.File, tpl: template.New(), roleFiles: readRoleFiles}, nil
}

// passwordKeys are the keys of kolla-ansible's passwords.yml and of the
// operator's.
func passwordKeys(cd *configdir.Dir) (map[string]bool, error) {
	var tmpl map[string]any
	if err := yaml.Unmarshal(koala.PasswordsTemplate, &tmpl); err != nil {
		return nil, fmt.Errorf("embedded passwords.yml: %w", err)
	}
	keys := map[string]bool{}
	for k := range tmpl {
		keys[k] = true
	}
	for k := range cd.Passwords.Vars {
		keys[k] = true
	}
	return keys, nil
}

// needs are what the enabled roles of a playbook ask of the inventory and of
// passwords.yml, derived from the playbook itself: a play whose role is
// enabled (its `when:` true with globals.yml, the inventory and -e) needs its
// group; the variables an enabled role's files name, followed through the
// defaults and group_vars they refer to, that are passwords.yml keys, must be
// filled. Adding a service (a role and a play) needs no change here.
type needs struct {
	inv       Inventory
	layers    []map[string]any // globals.yml, globals.d, passwords.yml, fixed, -e
	pwKeys    map[string]bool  // every key passwords.yml may hold
	pwFile    string
	tpl       *template.Engine
	roleFiles func(r *playbook.Role) ([]byte, error)
	metas     []*plays.Meta // the service roles, to name the one a group is for
}

// Inventory is what needs reads of an inventory.
type Inventory interface {
	Hosts() []string
	Groups() []string
	GroupHosts(group string) []string
	HostVars(host string) map[string]any
}

// roleUse is an enabled role, with the play that runs it.
type roleUse struct {
	role *playbook.Role
	play *playbook.Play
	why  string // the condition that enabled it
}

// check lists every missing group and password at once, and the images of the
// enabled services; err is a failure to read the roles.
func (n *needs) check(pb *playbook.Playbook) (images, problems []string, err error) {
	var errs []string
	var enabled []roleUse
	seenGroup := map[string]bool{}
	for _, play := range pb.Plays {
		group, ok := patternGroup(play.Hosts)
		vars := n.vars(play, n.sampleHost(group))
		var uses []roleUse
		runs := false
		for _, t := range play.Tasks {
			on, why := n.enabled(t.When, vars)
			if !on {
				continue
			}
			runs = true
			r := t.Role
			if t.IncludedRole != nil {
				r = t.IncludedRole
			}
			if r != nil && (t.IsBlock || t.IncludedRole != nil) {
				uses = append(uses, roleUse{role: r, play: play, why: why})
			}
		}
		enabled = append(enabled, uses...)
		if !runs || !ok || seenGroup[group] || n.isHost(group) {
			continue
		}
		if len(n.inv.GroupHosts(group)) == 0 {
			seenGroup[group] = true
			reason := fmt.Sprintf("play %q (%s) runs on it", play.Name, play.Pos)
			if len(uses) > 0 && uses[0].why != "" {
				reason = fmt.Sprintf("role %s runs on it (%s is true)", uses[0].role.Name, uses[0].why)
			}
			for _, m := range n.metas {
				if m.Group == group {
					reason = fmt.Sprintf("role %s runs on it (%s | bool is true; %s)", m.Role, m.Enable, m.File)
					break
				}
			}
			errs = append(errs, fmt.Sprintf("inventory: group %q is missing or has no hosts; %s. Add hosts to [%s] (or a :children entry) or disable the service in globals.yml", group, reason, group))
		}
	}
	missing, err := n.missingPasswords(enabled)
	if err != nil {
		return nil, nil, err
	}
	return n.images(enabled), append(errs, missing...), nil
}

// images lists the image of every enabled service of the enabled roles: the
// `image` of each entry of a role's `<project>_services` dict whose `enabled`
// is true. A value that cannot be rendered before the run is left out.
func (n *needs) images(uses []roleUse) []string {
	seen := map[string]bool{}
	var out []string
	for _, u := range uses {
		vars := n.vars(u.play, n.sampleHost(""))
		for key, v := range u.role.Defaults {
			services, ok := v.(map[string]any)
			if !strings.HasSuffix(key, "_services") || !ok {
				continue
			}
			for _, sv := range services {
				svc, ok := sv.(map[string]any)
				if !ok {
					continue
				}
				if e, ok := svc["enabled"]; ok {
					on, err := n.tpl.Template("enabled", e, vars)
					if err != nil || !template.Truthy(on) {
						continue
					}
				}
				img, err := n.tpl.Template("image", svc["image"], vars)
				if s, ok := img.(string); err == nil && ok && s != "" && !seen[s] {
					seen[s] = true
					out = append(out, s)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// patternGroup is the group a play's hosts pattern names ("mariadb",
// "mariadb[0]"); ok is false for templates and compound patterns.
func patternGroup(p string) (string, bool) {
	if i := strings.IndexByte(p, '['); i > 0 {
		p = p[:i]
	}
	if p == "" || strings.ContainsAny(p, "{}:,*!&~ ") {
		return "", false
	}
	return p, true
}

// isHost reports whether a play's pattern names a host rather than a group:
// an inventory host, or localhost, which Ansible has even when the inventory
// does not list it (post-deploy and certificates run there).
func (n *needs) isHost(pattern string) bool {
	return pattern == "localhost" || slices.Contains(n.inv.Hosts(), pattern)
}

// sampleHost is a host whose variables stand for the play's: the group's
// first host, else the inventory's first.
func (n *needs) sampleHost(group string) string {
	if hs := n.inv.GroupHosts(group); len(hs) > 0 {
		return hs[0]
	}
	if hs := n.inv.Hosts(); len(hs) > 0 {
		return hs[0]
	}
	return ""
}

// vars are what a condition of the play sees on host, as the engine layers
// them (role defaults < inventory < extra vars), templated lazily.
func (n *needs) vars(play *playbook.Play, host string) map[string]any {
	raw := map[string]any{}
	for _, r := range play.Roles {
		for k, v := range r.Defaults {
			raw[k] = v
		}
	}
	for k, v := range play.Vars {
		raw[k] = v
	}
	if host != "" {
		for k, v := range n.inv.HostVars(host) {
			raw[k] = v
		}
	}
	for _, l := range n.layers {
		for k, v := range l {
			raw[k] = v
		}
	}
	groups := map[string]any{}
	for _, g := range n.inv.Groups() {
		groups[g] = toAny(n.inv.GroupHosts(g))
	}
	out := make(map[string]any, len(raw)+2)
	for k, v := range raw {
		out[k] = n.tpl.Lazy(k, v, out)
	}
	out["groups"] = groups
	out["inventory_hostname"] = host
	return out
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// enabled evaluates a role's or include's conditions. One that cannot be
// known before the run (it reads facts or registered results) counts as
// true: the check then asks for more, never less.
func (n *needs) enabled(when []any, vars map[string]any) (bool, string) {
	var why []string
	for _, c := range when {
		s, isStr := c.(string)
		if !isStr {
			if b, ok := c.(bool); ok && !b {
				return false, ""
			}
			continue
		}
		v, err := n.tpl.Eval("when", s, vars)
		if err != nil {
			continue
		}
		if !template.Truthy(v) {
			return false, ""
		}
		why = append(why, s)
	}
	return true, strings.Join(why, " and ")
}

var ident = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)

// missingPasswords lists, one message each, the passwords.yml keys the
// enabled roles read that no layer fills.
func (n *needs) missingPasswords(uses []roleUse) ([]string, error) {
	// Definitions a role's templates may reach a password through:
	// group_vars, role defaults and globals.
	defs := map[string]any{}
	for _, u := range uses {
		for _, r := range roleTree(u.role) {
			for k, v := range r.Defaults {
				defs[k] = v
			}
		}
	}
	if hs := n.inv.Hosts(); len(hs) > 0 {
		for k, v := range n.inv.HostVars(hs[0]) {
			defs[k] = v
		}
	}
	for _, l := range n.layers {
		for k, v := range l {
			if !n.pwKeys[k] {
				defs[k] = v
			}
		}
	}
	byKey := map[string][]string{} // password key → roles that read it
	done := map[*playbook.Role]bool{}
	for _, u := range uses {
		for _, r := range roleTree(u.role) {
			if done[r] {
				continue
			}
			done[r] = true
			text, err := n.roleFiles(r)
			if err != nil {
				return nil, err
			}
			for name := range reach(string(text), defs) {
				if n.pwKeys[name] && passwords.Kind(name) != "blank" {
					byKey[name] = append(byKey[name], r.Name)
				}
			}
		}
	}
	var out []string
	for key, roles := range byKey {
		if n.filled(key) {
			continue
		}
		sort.Strings(roles)
		what, fix := "is empty", ""
		if !n.present(key) {
			what, fix = "is missing", fmt.Sprintf("add `%s:` to it and ", key)
		}
		out = append(out, fmt.Sprintf("%s: %s %s (read by role %s); %srun `koala genpwd -p %s` to fill every empty key",
			n.pwFile, key, what, strings.Join(roles, ", "), fix, n.pwFile))
	}
	sort.Strings(out)
	return out, nil
}

// filled reports whether some layer sets key to a non-empty value.
func (n *needs) filled(key string) bool {
	for _, l := range n.layers {
		if v, ok := l[key]; ok && v != nil && v != "" {
			return true
		}
	}
	return false
}

// present reports whether some layer has key, empty or not.
func (n *needs) present(key string) bool {
	for _, l := range n.layers {
		if _, ok := l[key]; ok {
			return true
		}
	}
	return false
}

// roleTree is r and its dependencies.
func roleTree(r *playbook.Role) []*playbook.Role {
	out := []*playbook.Role{r}
	for _, d := range r.Deps {
		out = append(out, roleTree(d.Role)...)
	}
	return out
}

// reach is every identifier of text and, through defs, of the values the
// identifiers name, transitively.
func reach(text string, defs map[string]any) map[string]bool {
	seen := map[string]bool{}
	queue := ident.FindAllString(text, -1)
	for len(queue) > 0 {
		id := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		if seen[id] {
			continue
		}
		seen[id] = true
		if v, ok := defs[id]; ok {
			b, _ := yaml.Marshal(v)
			queue = append(queue, ident.FindAllString(string(b), -1)...)
		}
	}
	return seen
}

// readRoleFiles is every file of a role's directory, concatenated.
func readRoleFiles(r *playbook.Role) ([]byte, error) {
	var all []byte
	err := fs.WalkDir(r.Src.FS, r.Src.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(r.Src.FS, p)
		all = append(append(all, b...), '\n')
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("role %s: %w", r.Name, err)
	}
	return all, nil
}
