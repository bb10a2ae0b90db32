package inventory

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

var (
	reSection   = regexp.MustCompile(`^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$`)
	reGroupName = regexp.MustCompile(`^([^:\]\s]+)\s*(?:#.*)?$`)
)

// maxINIErrors bounds how many mistakes one file reports.
const maxINIErrors = 20

// pending is a group named before it is declared ([p:children] naming it, or
// a [g:vars] section), checked at the end of the file as Ansible does.
type pending struct {
	line    int
	state   string
	parents []string
}

// parseINI adds the hosts and groups of an INI inventory to inv, following
// Ansible's ini plugin line by line: hosts before any section are in
// "ungrouped"; [g:children] may name groups declared later in the file; a
// [g:vars] section alone does not declare g.
func (inv *Inventory) parseINI(file string, data []byte) error {
	lines, err := iniLines(file, data)
	if err != nil {
		return err
	}
	// Mistakes are collected (up to maxINIErrors) so one run reports them all;
	// the faulty line or section is skipped.
	var errs []error
	lineErr := func(n int, format string, args ...any) {
		if len(errs) < maxINIErrors {
			errs = append(errs, fmt.Errorf("%s:%d: %s", file, n, fmt.Sprintf(format, args...)))
		}
	}
	pend := map[string]*pending{}
	var pendOrder []string
	addPending := func(name string, p *pending) {
		pend[name] = p
		pendOrder = append(pendOrder, name)
	}
	var resolvePending func(g string) error
	resolvePending = func(g string) error {
		for _, parent := range pend[g].parents {
			if err := inv.addChild(inv.groups[parent], inv.groups[g]); err != nil {
				return err
			}
			if pp, ok := pend[parent]; ok && pp.state == "children" {
				if err := resolvePending(parent); err != nil {
					return err
				}
			}
		}
		delete(pend, g)
		return nil
	}

	groupName, state := "ungrouped", "hosts"
	for i, raw := range lines {
		n := i + 1
		line := strings.TrimFunc(raw, pyIsSpace)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if m := reSection.FindStringSubmatch(line); m != nil {
			groupName, state = m[1], m[2]
			if state == "" {
				state = "hosts"
			}
			if state != "hosts" && state != "children" && state != "vars" {
				lineErr(n, "section [%s:%s] has unknown type %q: use [%s], [%s:children] or [%s:vars]",
					m[1], m[2], m[2], m[1], m[1], m[1])
				state = "skip"
				continue
			}
			if _, ok := inv.groups[groupName]; !ok {
				if _, isPending := pend[groupName]; state == "vars" && !isPending {
					addPending(groupName, &pending{line: n, state: state})
				}
				inv.addGroup(groupName)
			}
			if p, ok := pend[groupName]; ok && state != "vars" {
				switch p.state {
				case "children":
					if err := resolvePending(groupName); err != nil {
						lineErr(n, "%v", err)
					}
				case "vars":
					delete(pend, groupName)
				}
			}
			continue
		}
		if line[0] == '[' && line[len(line)-1] == ']' {
			lineErr(n, "invalid section entry %q: a section is [group], [group:children] or [group:vars], without spaces", line)
			state = "skip"
			continue
		}
		switch state {
		case "hosts":
			if err := inv.iniHostLine(file, groupName, line); err != nil {
				lineErr(n, "%v", err)
			}
		case "vars":
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				lineErr(n, "expected key=value in [%s:vars], got %q", groupName, line)
			} else if err := inv.setGroupVar(inv.groups[groupName], strings.TrimFunc(k, pyIsSpace), iniValue(strings.TrimFunc(v, pyIsSpace))); err != nil {
				lineErr(n, "%v", err)
			}
		case "children":
			m := reGroupName.FindStringSubmatch(line)
			if m == nil {
				lineErr(n, "expected a group name in [%s:children], got %q", groupName, line)
				continue
			}
			child := m[1]
			if _, ok := inv.groups[child]; !ok {
				if p, ok := pend[child]; ok {
					p.parents = append(p.parents, groupName)
				} else {
					addPending(child, &pending{line: n, state: "children", parents: []string{groupName}})
				}
			} else if err := inv.addChild(inv.groups[groupName], inv.groups[child]); err != nil {
				lineErr(n, "%v", err)
			}
		}
	}
	for _, name := range pendOrder {
		p, ok := pend[name]
		if !ok {
			continue
		}
		if p.state == "vars" {
			lineErr(p.line, "section [%s:vars] is for group %q, which is not defined: add a [%s] or [%s:children] section",
				name, name, name, name)
		} else {
			lineErr(p.line, "section [%s:children] includes undefined group %q: declare it with [%s] or [%s:children]",
				p.parents[len(p.parents)-1], name, name, name)
		}
	}
	return errors.Join(errs...)
}

// iniHostLine handles "pattern [k=v ...]" in a hosts section.
func (inv *Inventory) iniHostLine(file, groupName, line string) error {
	tokens, err := shlexSplit(line)
	if err != nil {
		return fmt.Errorf("cannot parse host definition %q: %w", line, err)
	}
	if len(tokens) == 0 {
		return fmt.Errorf("expected a host name, got %q", line)
	}
	names, port, err := expandHostPattern(tokens[0])
	if err != nil {
		return err
	}
	if strings.HasSuffix(strings.TrimSpace(tokens[0]), ":") && port < 0 {
		return fmt.Errorf("invalid host pattern %q: a trailing ':' must be followed by a port", tokens[0])
	}
	for _, h := range names {
		if strings.TrimSpace(h) == "---" {
			return fmt.Errorf("invalid host pattern %q: '---' is normally a sign this is a YAML file", tokens[0])
		}
	}
	type kv struct {
		k string
		v any
	}
	vars := make([]kv, 0, len(tokens)-1)
	for _, t := range tokens[1:] {
		k, v, ok := strings.Cut(t, "=")
		if !ok {
			return fmt.Errorf("expected key=value host variable assignment, got %q", t)
		}
		vars = append(vars, kv{k, iniValue(v)})
	}
	for _, name := range names {
		h := inv.addHostPort(name, inv.groups[groupName], file, port)
		for _, e := range vars {
			h.vars[e.k] = e.v
		}
	}
	return nil
}

// addHostPort adds a host; like Ansible, a port only applies when the host is new.
func (inv *Inventory) addHostPort(name string, g *group, source string, port int) *host {
	_, existed := inv.hosts[name]
	h := inv.addHost(name, g, source)
	if !existed && port > 0 {
		h.vars["ansible_port"] = port
	}
	return h
}

// setGroupVar sets a group variable; ansible_group_priority sets the priority
// instead, as Ansible does.
func (inv *Inventory) setGroupVar(g *group, k string, v any) error {
	if k != "ansible_group_priority" {
		g.vars[k] = v
		return nil
	}
	p, ok := pyInt(v)
	if !ok {
		return fmt.Errorf("ansible_group_priority of group %q must be an integer, got %v", g.name, pyStr(v))
	}
	g.priority = p
	return nil
}

// pyInt is Python's int() on the value types inventories produce.
func pyInt(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case float64:
		return int(x), true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case string:
		if i, err := literalEval(strings.TrimSpace(x)); err == nil {
			if n, ok := i.(int); ok {
				return n, true
			}
		}
	}
	return 0, false
}

// pyIsSpace is Python's str.isspace for one character.
func pyIsSpace(r rune) bool {
	return unicode.IsSpace(r) || r >= 0x1c && r <= 0x1f
}

// iniLines splits like Python's str.splitlines. Invalid UTF-8 is tolerated in
// comment lines only, as in Ansible.
func iniLines(file string, data []byte) ([]string, error) {
	text := string(data)
	var lines []string
	start := 0
	for i := 0; i < len(text); {
		r, w := utf8.DecodeRuneInString(text[i:])
		switch r {
		case '\n', '\r', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
			lines = append(lines, text[start:i])
			if r == '\r' && i+1 < len(text) && text[i+1] == '\n' {
				w++
			}
			start = i + w
		}
		i += w
	}
	if start < len(text) {
		lines = append(lines, text[start:])
	}
	for i, l := range lines {
		if utf8.ValidString(l) {
			continue
		}
		if l != "" && (l[0] == '#' || l[0] == ';') {
			lines[i] = ""
			continue
		}
		return nil, fmt.Errorf("%s:%d: %w", file, i+1, errors.New("line is not valid UTF-8"))
	}
	return lines, nil
}
