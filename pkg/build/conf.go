package build

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// Conf is koala-build.conf: an INI file in kolla-build.conf's spirit.
//
//	[DEFAULT]            option defaults: base, base_tag, namespace, registry, tag,
//	                     install_type, threads, retries, profile
//	[profiles]           name = regex, regex, ...   (adds to or replaces built-in profiles)
//	[sources]            <image> = local:PATH | url:URL | git:URL[#REF]
type Conf struct {
	Path     string
	Defaults map[string]string
	Profiles map[string][]string
	Sources  map[string]Source
}

// Source says where an image's `<image>-archive` comes from (install type source).
type Source struct {
	Type      string // local, url, git
	Location  string
	Reference string // git ref (branch or tag)
	Where     string // file:line, for messages
}

var confDefaultKeys = map[string]bool{
	"base": true, "base_tag": true, "namespace": true, "registry": true, "tag": true,
	"install_type": true, "threads": true, "retries": true, "profile": true,
}

// DerivedProfiles are Kolla's built-in profiles, read from the tree itself
// (so a new image directory is in them without a list to edit): main is
// every image of an OpenStack project (a top directory of the tree with an
// image built on openstack-base, so nova-libvirt, on base, is with nova),
// infra every other image that is not a base, default both. A [profiles]
// entry of koala-build.conf with the same name wins.
func DerivedProfiles(t *Tree, r *Renderer) (map[string][]string, error) {
	parent := map[string]string{}
	for _, n := range t.Names() {
		rd, err := r.Render(n)
		if err != nil {
			return nil, err
		}
		parent[n] = rd.Parent
	}
	isBase := map[string]bool{}
	for _, p := range parent {
		isBase[p] = true
	}
	project := func(n string) string { return strings.SplitN(t.Images[n].Dir, "/", 2)[0] }
	openstack := map[string]bool{}
	for _, n := range t.Names() {
		for p := parent[n]; p != ""; p = parent[p] {
			if p == "openstack-base" {
				openstack[project(n)] = true
			}
		}
	}
	out := map[string][]string{"infra": nil, "main": nil, "default": nil}
	for _, n := range t.Names() {
		if n == "base" || n == "openstack-base" {
			continue
		}
		re := "^" + regexp.QuoteMeta(n) + "$"
		switch {
		case openstack[project(n)]:
			out["main"] = append(out["main"], re)
		case isBase[n]:
			continue // a project's own base (openvswitch-base): pulled in by its children
		default:
			out["infra"] = append(out["infra"], re)
		}
		out["default"] = append(out["default"], re)
	}
	return out, nil
}

// LoadConf reads path. All mistakes are reported at once, each with file:line.
func LoadConf(path string) (*Conf, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("build config: %w", err)
	}
	return ParseConf(path, data)
}

// ParseConf parses koala-build.conf content; path is used in messages.
func ParseConf(path string, data []byte) (*Conf, error) {
	c := &Conf{Path: path, Defaults: map[string]string{}, Profiles: map[string][]string{}, Sources: map[string]Source{}}
	var errs []string
	bad := func(line int, format string, a ...any) {
		errs = append(errs, fmt.Sprintf("%s:%d: %s", path, line, fmt.Sprintf(format, a...)))
	}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			if !strings.HasSuffix(line, "]") {
				bad(n, "section header %q has no closing ]", line)
				continue
			}
			section = strings.TrimSpace(line[1 : len(line)-1])
			if section != "DEFAULT" && section != "profiles" && section != "sources" {
				bad(n, "unknown section [%s] (want [DEFAULT], [profiles] or [sources])", section)
			}
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			bad(n, "%q is not key = value", line)
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch section {
		case "":
			bad(n, "%q before any [section]", k)
		case "DEFAULT":
			k = strings.ReplaceAll(k, "-", "_")
			if !confDefaultKeys[k] {
				bad(n, "unknown option %q in [DEFAULT] (known: base, base_tag, namespace, registry, tag, install_type, threads, retries, profile)", k)
				continue
			}
			c.Defaults[k] = v
		case "profiles":
			var res []string
			for _, r := range strings.Split(v, ",") {
				if r = strings.TrimSpace(r); r == "" {
					continue
				}
				if _, err := regexp.Compile(r); err != nil {
					bad(n, "profile %s: bad regex %q: %v", k, r, err)
				}
				res = append(res, r)
			}
			if len(res) == 0 {
				bad(n, "profile %s lists no images", k)
			}
			c.Profiles[k] = res
		case "sources":
			typ, loc, ok := strings.Cut(v, ":")
			if !ok || (typ != "local" && typ != "url" && typ != "git") || loc == "" {
				bad(n, "source %s = %q: want local:PATH, url:URL or git:URL[#REF]", k, v)
				continue
			}
			s := Source{Type: typ, Location: loc, Where: fmt.Sprintf("%s:%d", path, n)}
			if typ == "git" {
				s.Location, s.Reference, _ = strings.Cut(loc, "#")
			}
			c.Sources[k] = s
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("build config %s: %w", path, err)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("build config has %d error(s):\n  %s", len(errs), strings.Join(errs, "\n  "))
	}
	return c, nil
}
