package inventory

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

var (
	reSubscript    = regexp.MustCompile(`^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$`)
	rePatternWords = regexp.MustCompile(`(?:[^\s:\[\]]|\[[^\]]*\])+`)
)

// Match returns the hosts selected by an Ansible host pattern, in Ansible's
// order: "all" or "*", host and group names, globs (web*), regexes (~web\d+),
// unions (a:b or a,b), intersections (a:&b), exclusions (a:!b) and subscripts
// (web[0], web[1:2], web[-1]). Intersections and exclusions apply after all
// unions, whatever their position. A pattern that matches nothing gives an
// empty list, not an error (as Ansible, which only warns); malformed patterns
// and out-of-range subscripts are errors. An undefined localhost matches
// Ansible's implicit local host.
func (inv *Inventory) Match(pattern string) ([]string, error) {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	parts := splitHostPattern(pattern)
	var regular, and, not []string
	for _, p := range parts {
		switch p[0] {
		case '!':
			not = append(not, p)
		case '&':
			and = append(and, p)
		default:
			regular = append(regular, p)
		}
	}
	if len(regular) == 0 {
		regular = []string{"all"}
	}
	var hosts []string
	have := map[string]bool{}
	for _, p := range regular {
		if _, ok := inv.hosts[p]; ok {
			if !have[p] {
				have[p] = true
				hosts = append(hosts, p)
			}
			continue
		}
		that, err := inv.matchOne(p)
		if err != nil {
			return nil, err
		}
		for _, h := range that {
			if !have[h] {
				have[h] = true
				hosts = append(hosts, h)
			}
		}
	}
	for _, p := range and {
		that, err := inv.matchOne(p[1:])
		if err != nil {
			return nil, err
		}
		keep := map[string]bool{}
		for _, h := range that {
			keep[h] = true
		}
		hosts = slices.DeleteFunc(hosts, func(h string) bool { return !keep[h] })
	}
	for _, p := range not {
		that, err := inv.matchOne(p[1:])
		if err != nil {
			return nil, err
		}
		drop := map[string]bool{}
		for _, h := range that {
			drop[h] = true
		}
		hosts = slices.DeleteFunc(hosts, func(h string) bool { return drop[h] })
	}
	if hosts == nil {
		hosts = []string{}
	}
	return hosts, nil
}

// splitHostPattern is Ansible's split_host_pattern: commas always separate;
// colons separate unless the whole pattern is one address (IPv6, host:port,
// a host range such as web[1:3]).
func splitHostPattern(pattern string) []string {
	var parts []string
	if strings.Contains(pattern, ",") {
		parts = strings.Split(pattern, ",")
	} else if _, _, err := parseAddress(pattern); err == nil {
		parts = []string{pattern}
	} else {
		parts = rePatternWords.FindAllString(pattern, -1)
	}
	out := parts[:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// matchOne resolves one pattern without its &/! prefix.
func (inv *Inventory) matchOne(pattern string) ([]string, error) {
	expr, sub, err := splitSubscript(pattern)
	if err != nil {
		return nil, err
	}
	hosts, err := inv.enumerate(expr)
	if err != nil {
		return nil, err
	}
	if sub == nil || len(hosts) == 0 {
		return hosts, nil
	}
	start, end := sub[0], sub[1]
	if end != 0 { // as in Ansible, [x:0] means the single index x
		if end == -1 {
			end = len(hosts) - 1
		}
		lo, hi := clampSlice(start, end+1, len(hosts))
		return slices.Clone(hosts[lo:hi]), nil
	}
	i := start
	if i < 0 {
		i += len(hosts)
	}
	if i < 0 || i >= len(hosts) {
		return nil, fmt.Errorf("host pattern %q: no hosts matched the subscript (the selection has %d hosts)", pattern, len(hosts))
	}
	return []string{hosts[i]}, nil
}

// clampSlice applies Python's slice bounds rules for non-negative steps.
func clampSlice(lo, hi, n int) (int, int) {
	norm := func(i int) int {
		if i < 0 {
			i += n
		}
		return min(max(i, 0), n)
	}
	lo, hi = norm(lo), norm(hi)
	if hi < lo {
		hi = lo
	}
	return lo, hi
}

// splitSubscript separates "pat[1]" or "pat[1:3]" into the pattern and
// (start, end); end is 0 for a single index and -1 for an open end.
func splitSubscript(pattern string) (string, []int, error) {
	if pattern == "" || pattern[0] == '~' {
		return pattern, nil, nil
	}
	m := reSubscript.FindStringSubmatch(pattern)
	if m == nil {
		return pattern, nil, nil
	}
	if m[2] != "" {
		i, err := strconv.Atoi(m[2])
		if err != nil {
			return "", nil, fmt.Errorf("host pattern %q: bad subscript: %w", pattern, err)
		}
		return m[1], []int{i, 0}, nil
	}
	start, err := strconv.Atoi(m[3])
	if err != nil {
		return "", nil, fmt.Errorf("host pattern %q: bad subscript: %w", pattern, err)
	}
	end := -1
	if m[5] != "" {
		if end, err = strconv.Atoi(m[5]); err != nil {
			return "", nil, fmt.Errorf("host pattern %q: bad subscript: %w", pattern, err)
		}
	}
	return m[1], []int{start, end}, nil
}

// enumerate matches a pattern against group names (taking all their hosts)
// and, when no group matched or the pattern is a glob or regex, host names.
func (inv *Inventory) enumerate(pattern string) ([]string, error) {
	re, err := compileHostPattern(pattern)
	if err != nil {
		return nil, err
	}
	var out []string
	matchedGroup := false
	for _, g := range inv.glist {
		if re.MatchString(g.name) {
			matchedGroup = true
			for _, h := range groupHostList(g) {
				out = append(out, h.name)
			}
		}
	}
	if !matchedGroup || pattern[0] == '~' || strings.ContainsAny(pattern, ".?*[") {
		for _, h := range inv.hlist {
			if re.MatchString(h.name) {
				out = append(out, h.name)
			}
		}
	}
	if len(out) == 0 && slices.Contains(localhostNames, pattern) {
		out = append(out, pattern)
	}
	return out, nil
}

// compileHostPattern turns a glob into an anchored regexp (fnmatch.translate)
// or compiles a ~regex, anchored at the start only as Python's re.match.
func compileHostPattern(p string) (*regexp.Regexp, error) {
	if p[0] == '~' {
		re, err := regexp.Compile(`^(?:` + p[1:] + `)`)
		if err != nil {
			return nil, fmt.Errorf("host pattern %q: invalid regular expression (Go RE2 syntax): %w", p, err)
		}
		return re, nil
	}
	return regexp.Compile(globToRegexp(p))
}

// globToRegexp is Python's fnmatch.translate: * ? [seq] [!seq], matching the
// whole name.
func globToRegexp(p string) string {
	var b strings.Builder
	b.WriteString(`(?s)^(?:`)
	rs := []rune(p)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch c {
		case '*':
			b.WriteString(".*")
			for i+1 < len(rs) && rs[i+1] == '*' {
				i++
			}
		case '?':
			b.WriteString(".")
		case '[':
			j := i + 1
			if j < len(rs) && rs[j] == '!' {
				j++
			}
			if j < len(rs) && rs[j] == ']' {
				j++
			}
			for j < len(rs) && rs[j] != ']' {
				j++
			}
			if j >= len(rs) {
				b.WriteString(`\[`)
				continue
			}
			set := string(rs[i+1 : j])
			i = j
			neg := strings.HasPrefix(set, "!")
			if neg {
				set = set[1:]
			}
			var sb strings.Builder
			for _, r := range set {
				if r == '\\' || r == ']' || r == '[' || r == '^' {
					sb.WriteByte('\\')
				}
				sb.WriteRune(r)
			}
			if sb.Len() == 0 {
				if neg {
					b.WriteString(".") // [!] matches any character
				} else {
					b.WriteString("[^\\x{0}-\\x{10FFFF}]") // [] matches nothing
				}
				continue
			}
			if neg {
				b.WriteString("[^" + sb.String() + "]")
			} else {
				b.WriteString("[" + sb.String() + "]")
			}
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString(`)$`)
	return b.String()
}
