package inventory

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Host address grammar from Ansible's parsing/utils/addresses.py: a host
// name, IPv4 or IPv6 address, any of which may carry [x:y(:z)] ranges, with an
// optional :port (IPv6 only when bracketed).
const (
	numericRange      = `\[(?:[0-9]+:[0-9]+)(?::[0-9]+)?\]`
	hexRange          = `\[(?:[0-9a-f]+:[0-9a-f]+)(?::[0-9]+)?\]`
	alphanumericRange = `\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]`
	ipv4Component     = `(?:[01]?[0-9]{1,2}|2[0-4][0-9]|25[0-5]|` + numericRange + `)`
	ipv6Component     = `(?:[0-9a-f]{1,4}|` + hexRange + `)`
	// RE2 has no look-behind: "may not end with - or _" is checked separately.
	label = `(?:[\w]|` + alphanumericRange + `)(?:[\w_-]|` + alphanumericRange + `)*`
)

var (
	reBracketedHostPort = regexp.MustCompile(`^\[(.+)\]:([0-9]+)$`)
	reHostPort          = regexp.MustCompile(`^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$`)
	reIPv4              = regexp.MustCompile(`(?i)^(?:` + ipv4Component + `\.){3}` + ipv4Component + `$`)
	reIPv6              = regexp.MustCompile(strings.ReplaceAll(`(?i)^(?:`+strings.Join([]string{
		`(?:{0}:){7}{0}`,
		`(?:{0}:){1,6}:`,
		`(?:{0}:)(?::{0}){1,6}`,
		`(?:{0}:){2}(?::{0}){1,5}`,
		`(?:{0}:){3}(?::{0}){1,4}`,
		`(?:{0}:){4}(?::{0}){1,3}`,
		`(?:{0}:){5}(?::{0}){1,2}`,
		`(?:{0}:){6}(?::{0})`,
		`:(?::{0}){1,6}`,
		`{0}?::`,
		`(?:0:){6}(?:{0}\.){3}{0}`,
		`::(?:ffff:)?(?:{0}\.){3}{0}`,
		`(?:0:){5}ffff:(?:{0}\.){3}{0}`,
	}, "|")+`)$`, "{0}", ipv6Component))
	reHostname = regexp.MustCompile(`(?i)^` + label + `(?:\.` + label + `)*$`)
	// reLabelEnd finds a label ending in - or _ (outside a range), which Ansible rejects.
	reLabelEnd = regexp.MustCompile(`[_-](?:\.|$)`)
)

// parseAddress splits "host:port" / "[v6]:port" and validates the host part as
// Ansible's parse_address(allow_ranges=True) does. port is -1 when absent.
func parseAddress(addr string) (host string, port int, err error) {
	port = -1
	for _, re := range []*regexp.Regexp{reBracketedHostPort, reHostPort} {
		if m := re.FindStringSubmatch(addr); m != nil {
			addr = m[1]
			if port, err = strconv.Atoi(m[2]); err != nil {
				return "", -1, fmt.Errorf("port %q out of range", m[2])
			}
		}
	}
	if reIPv4.MatchString(addr) || reIPv6.MatchString(addr) ||
		reHostname.MatchString(addr) && !reLabelEnd.MatchString(addr) {
		return addr, port, nil
	}
	return "", -1, fmt.Errorf("not a valid network hostname: %s", addr)
}

// expandHostPattern turns an inventory host entry into host names and a port,
// like Ansible's _expand_hostpattern: entries that do not parse as addresses are
// kept whole, and any [..] in the name is expanded as a range.
func expandHostPattern(pattern string) ([]string, int, error) {
	name, port, err := parseAddress(pattern)
	if err != nil {
		name, port = pattern, -1
	}
	if !strings.Contains(name, "[") {
		return []string{name}, port, nil
	}
	hosts, err := expandRange(name)
	return hosts, port, err
}

const asciiLetters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

// maxRangeHosts stops a typo such as node[1:99999999] from eating memory.
const maxRangeHosts = 100000

// expandRange expands the first [beg:end(:step)] of name, recursively, as
// Ansible's expand_hostname_range: numeric ranges keep zero padding when beg has
// it, single letters range over a-zA-Z.
func expandRange(name string) ([]string, error) {
	var out []string
	err := expandRangeInto(name, &out)
	return out, err
}

func expandRangeInto(name string, out *[]string) error {
	open := strings.IndexByte(name, '[')
	if open < 0 {
		*out = append(*out, name)
		return nil
	}
	head, rest := name[:open], name[open+1:]
	closeAt := strings.IndexByte(rest, ']')
	if closeAt < 0 {
		return errors.New("host range has no closing ]")
	}
	nrange, tail := rest[:closeAt], rest[closeAt+1:]
	bounds := strings.Split(nrange, ":")
	if len(bounds) != 2 && len(bounds) != 3 {
		return fmt.Errorf("host range [%s] must be begin:end or begin:end:step", nrange)
	}
	beg, end, step := bounds[0], bounds[1], 1
	if len(bounds) == 3 {
		n, err := strconv.Atoi(bounds[2])
		if err != nil || n <= 0 {
			return fmt.Errorf("host range [%s]: step must be a positive integer", nrange)
		}
		step = n
	}
	if beg == "" {
		beg = "0"
	}
	if end == "" {
		return fmt.Errorf("host range [%s] must specify end value", nrange)
	}
	width := 0
	if beg[0] == '0' && len(beg) > 1 {
		if len(beg) != len(end) {
			return fmt.Errorf("host range [%s] must specify equal-length begin and end formats", nrange)
		}
		width = len(beg)
	}
	var seq []string
	ib, ie := strings.Index(asciiLetters, beg), strings.Index(asciiLetters, end)
	if len(beg) == 1 && len(end) == 1 && ib >= 0 && ie >= 0 {
		if ib > ie {
			return fmt.Errorf("host range [%s] must have begin <= end", nrange)
		}
		for i := ib; i <= ie; i += step {
			seq = append(seq, asciiLetters[i:i+1])
		}
	} else {
		b, err1 := strconv.Atoi(beg)
		e, err2 := strconv.Atoi(end)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("host range [%s]: bounds must be integers or single letters", nrange)
		}
		if e >= b && (e-b)/step >= maxRangeHosts {
			return fmt.Errorf("host range [%s] expands to more than %d hosts", nrange, maxRangeHosts)
		}
		for i := b; i <= e; i += step {
			s := strconv.Itoa(i)
			if len(s) < width {
				s = strings.Repeat("0", width-len(s)) + s
			}
			seq = append(seq, s)
		}
	}
	if len(*out)+len(seq) > maxRangeHosts {
		return fmt.Errorf("host range in %q expands to more than %d hosts", name, maxRangeHosts)
	}
	for _, s := range seq {
		if err := expandRangeInto(head+s+tail, out); err != nil {
			return err
		}
	}
	return nil
}
