package configdir

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// kind checks one known variable's value; it returns what was expected when
// the value does not fit.
type kind func(v any) (ok bool, want string)

// known are the globals.yml variables whose type koala can check before any
// host is touched: kolla-ansible's names, with what they must hold. A value
// that is a template ("{{ ... }}") is only known at run time and is not
// checked here. Variables matched by a pattern are in knownPatterns.
var known = map[string]kind{
	"kolla_internal_vip_address":    ipAddress,
	"kolla_external_vip_address":    ipAddress,
	"network_interface":             ifaceName,
	"api_interface":                 ifaceName,
	"neutron_external_interface":    ifaceName,
	"keepalived_virtual_router_id":  intRange(0, 255),
	"kolla_base_distro":             oneOf("debian", "ubuntu", "rocky", "centos"),
	"config_strategy":               oneOf("COPY_ALWAYS", "COPY_ONCE"),
	"kolla_container_engine":        oneOf("docker"),
	"openstack_release":             nonEmpty,
	"docker_registry":               registryAddr,
	"docker_namespace":              nonEmpty,
	"docker_registry_insecure":      boolean,
	"docker_restart_policy":         oneOf("no", "always", "unless-stopped", "on-failure"),
	"kolla_enable_tls_internal":     boolean,
	"kolla_enable_tls_external":     boolean,
	"kolla_copy_ca_into_containers": boolean,
	"kolla_internal_fqdn":           nonEmpty,
	"kolla_external_fqdn":           nonEmpty,
}

var knownPatterns = []struct {
	re *regexp.Regexp
	k  kind
}{
	{regexp.MustCompile(`^enable_[a-z0-9_]+$`), boolean},
	{regexp.MustCompile(`^om_enable_[a-z0-9_]+$`), boolean},
	{regexp.MustCompile(`^[a-z0-9_]+_port$`), intRange(1, 65535)},
}

// Validate checks the values of known globals.yml (and globals.d) variables
// and reports every misfit at once, each as file:line: name: value, what was
// expected.
func (d *Dir) Validate() error {
	var errs []string
	for _, l := range d.Globals {
		for name, v := range l.Vars {
			k := kindOf(name)
			if k == nil || isTemplate(v) {
				continue
			}
			if ok, want := k(v); !ok {
				errs = append(errs, fmt.Sprintf("%s:%d: %s: %s is not %s", l.File, l.Lines[name], name, show(v), want))
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	sort.Strings(errs)
	return errors.New(strings.Join(errs, "\n"))
}

func kindOf(name string) kind {
	if k, ok := known[name]; ok {
		return k
	}
	for _, p := range knownPatterns {
		if p.re.MatchString(name) {
			return p.k
		}
	}
	return nil
}

func isTemplate(v any) bool {
	s, ok := v.(string)
	return ok && (strings.Contains(s, "{{") || strings.Contains(s, "{%"))
}

func show(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	if v == nil {
		return "empty"
	}
	return fmt.Sprint(v)
}

// boolean accepts what the bool filter reads as a boolean, as written.
func boolean(v any) (bool, string) {
	const want = "a boolean (yes/no, true/false, on/off, 1/0)"
	switch t := v.(type) {
	case bool:
		return true, want
	case int:
		return t == 0 || t == 1, want
	case string:
		switch strings.ToLower(strings.TrimSpace(t)) {
		case "yes", "no", "true", "false", "on", "off", "1", "0":
			return true, want
		}
	}
	return false, want
}

// ipAddress accepts an IPv4 or IPv6 address; empty is left to the checks
// that need the value (prechecks say it is not set).
func ipAddress(v any) (bool, string) {
	const want = "an IP address"
	if v == nil || v == "" {
		return true, want
	}
	s, ok := v.(string)
	return ok && net.ParseIP(s) != nil, want
}

var ifaceRe = regexp.MustCompile(`^[A-Za-z0-9_.:@-]{1,15}$`)

func ifaceName(v any) (bool, string) {
	s, ok := v.(string)
	return ok && ifaceRe.MatchString(s), "a network interface name (eth0, ens3, bond0.100)"
}

func intRange(lo, hi int) kind {
	return func(v any) (bool, string) {
		want := fmt.Sprintf("a number from %d to %d", lo, hi)
		var n int
		switch t := v.(type) {
		case int:
			n = t
		case string:
			var err error
			if n, err = strconv.Atoi(strings.TrimSpace(t)); err != nil {
				return false, want
			}
		default:
			return false, want
		}
		return n >= lo && n <= hi, want
	}
}

func oneOf(vals ...string) kind {
	return func(v any) (bool, string) {
		s, _ := v.(string)
		for _, x := range vals {
			if s == x {
				return true, "one of " + strings.Join(vals, ", ")
			}
		}
		return false, "one of " + strings.Join(vals, ", ")
	}
}

func nonEmpty(v any) (bool, string) {
	s, ok := v.(string)
	return ok && strings.TrimSpace(s) != "", "a non-empty string"
}

// registryAddr is host[:port], no scheme: docker_image_url puts it in front of
// the namespace. Empty means Docker Hub.
func registryAddr(v any) (bool, string) {
	const want = "a registry address host[:port] without http:// (set docker_registry_insecure: yes for plain HTTP)"
	if v == nil || v == "" {
		return true, want
	}
	s, ok := v.(string)
	if !ok || strings.Contains(s, "://") || strings.ContainsAny(s, " /") {
		return false, want
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		host = s
	} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return false, want
	}
	return host != "", want
}
