package transport

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/shlex"

	"github.com/koala-stack/koala/pkg/ansiblecfg"
)

// HostSpec is how to reach one host, as an inventory describes it.
type HostSpec struct {
	Name      string // inventory name
	Address   string // host name or IP to connect to; "" = Name
	Port      int    // 0 = ~/.ssh/config's Port, else 22
	User      string // "" = ~/.ssh/config's User, else the local user
	KeyFiles  []string
	Password  string
	Local     bool   // ansible_connection=local
	ProxyJump string // "[user@]host[:port]" hops, comma-separated, as ssh -J
	// KnownHostsFile is `-o UserKnownHostsFile=FILE` of the ssh arguments;
	// "" = the pool's file.
	KnownHostsFile string
	// HostKeyPolicy is `-o StrictHostKeyChecking=` of the ssh arguments or
	// ansible_host_key_checking=false; nil = ~/.ssh/config's, else the pool's.
	HostKeyPolicy  *HostKeyPolicy
	ConnectTimeout time.Duration
	// ConnectRetries overrides PoolOptions.ConnectRetries (ansible_ssh_retries).
	ConnectRetries *int

	// bad is a variable SpecFromVars could not use; Pool.Get reports it.
	bad error
}

// SpecFromVars reads Ansible's connection variables for host: ansible_host,
// ansible_port, ansible_user, ansible_ssh_private_key_file, ansible_password,
// ansible_connection (ssh, smart or local), ansible_timeout (seconds per
// connection attempt), ansible_ssh_retries (attempts after a failed one),
// ansible_host_key_checking, and a ProxyJump (`-J hop` or `-o ProxyJump=hop`),
// known_hosts file (`-o UserKnownHostsFile=FILE`) and `-o
// StrictHostKeyChecking=` given in ansible_ssh_args, ansible_ssh_common_args
// or ansible_ssh_extra_args. The older ansible_ssh_host/port/user/pass
// spellings are read too. A variable vars lacks is looked up in fallback, in
// order (ansible.cfg's settings, as pkg/ansiblecfg gives them). It never
// fails: a spec built from a bad value fails at Pool.Get with an error naming
// the variable.
func SpecFromVars(host string, vars map[string]any, fallback ...map[string]any) HostSpec {
	s := HostSpec{Name: host}
	layers := append([]map[string]any{vars}, fallback...)
	str := func(names ...string) (string, string) {
		for _, m := range layers {
			for _, n := range names {
				if v, ok := m[n]; ok && v != nil {
					return strings.TrimSpace(fmt.Sprint(v)), n
				}
			}
		}
		return "", ""
	}
	setBad := func(err error) {
		if s.bad == nil {
			s.bad = err
		}
	}
	s.Address, _ = str("ansible_host", "ansible_ssh_host")
	if v, name := str("ansible_port", "ansible_ssh_port"); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 || p > 65535 {
			setBad(fmt.Errorf("%s=%q is not a port number (1-65535)", name, v))
		}
		s.Port = p
	}
	s.User, _ = str("ansible_user", "ansible_ssh_user")
	if v, _ := str("ansible_ssh_private_key_file", "ansible_private_key_file"); v != "" {
		s.KeyFiles = []string{v}
	}
	s.Password, _ = str("ansible_password", "ansible_ssh_pass", "ansible_ssh_password")
	switch v, name := str("ansible_connection"); v {
	case "", "ssh", "smart", "paramiko":
	case "local":
		s.Local = true
	default:
		setBad(fmt.Errorf("%s=%s is not supported (use ssh or local)", name, v))
	}
	if v, name := str("ansible_timeout", "ansible_ssh_timeout"); v != "" {
		secs, err := strconv.Atoi(v)
		if err != nil || secs < 1 {
			setBad(fmt.Errorf("%s=%q is not a number of seconds", name, v))
		}
		s.ConnectTimeout = time.Duration(secs) * time.Second
	}
	if v, name := str("ansible_ssh_retries"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			setBad(fmt.Errorf("%s=%q is not a count", name, v))
		}
		s.ConnectRetries = &n
	}
	// In the order Ansible's ssh plugin puts them on ssh's command line,
	// where the first value of an option wins.
	sshOpts := func(name string) {
		v, _ := str(name)
		if v == "" {
			return
		}
		o, err := sshArgs(v)
		if err != nil {
			setBad(fmt.Errorf("%s: %w", name, err))
		}
		if s.ProxyJump == "" {
			s.ProxyJump = o.jump
		}
		if s.KnownHostsFile == "" {
			s.KnownHostsFile = o.knownHosts
		}
		if s.HostKeyPolicy == nil {
			s.HostKeyPolicy = o.policy
		}
	}
	sshOpts("ansible_ssh_args")
	if v, name := str("ansible_host_key_checking", "ansible_ssh_host_key_checking"); v != "" {
		check, err := ansiblecfg.ParseBool(v)
		if err != nil {
			setBad(fmt.Errorf("%s: %w", name, err))
		}
		if !check && s.HostKeyPolicy == nil {
			ignore := IgnoreHostKeys
			s.HostKeyPolicy = &ignore
		}
	}
	sshOpts("ansible_ssh_common_args")
	sshOpts("ansible_ssh_extra_args")
	return s
}

// sshOptions are the ssh command-line options koala acts on.
type sshOptions struct {
	jump, knownHosts string
	policy           *HostKeyPolicy
}

// sshArgs finds -J HOP or -o ProxyJump=HOP, -o UserKnownHostsFile=FILE and
// -o StrictHostKeyChecking=VALUE in ssh command-line options, the first of
// each as ssh takes it; other options are ignored.
func sshArgs(args string) (sshOptions, error) {
	var o sshOptions
	words, err := shlex.Split(args)
	if err != nil {
		return o, fmt.Errorf("cannot split %q: %w", args, err)
	}
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "-J" && i+1 < len(words):
			i++
			o.jump = cmp.Or(o.jump, words[i])
		case strings.HasPrefix(w, "-J"):
			o.jump = cmp.Or(o.jump, w[2:])
		case strings.HasPrefix(w, "-o"):
			opt := strings.TrimPrefix(w, "-o")
			if opt == "" {
				if i+1 == len(words) {
					return o, fmt.Errorf("-o without an option in %q", args)
				}
				i++
				opt = words[i]
			}
			k, v, ok := strings.Cut(opt, "=")
			if !ok {
				k, v, _ = strings.Cut(opt, " ")
			}
			switch k = strings.TrimSpace(k); {
			case strings.EqualFold(k, "ProxyJump"):
				o.jump = cmp.Or(o.jump, strings.TrimSpace(v))
			case strings.EqualFold(k, "UserKnownHostsFile") && o.knownHosts == "" && strings.TrimSpace(v) != "":
				// ssh takes several files; the first is the one it writes.
				o.knownHosts = strings.Fields(v)[0]
			case strings.EqualFold(k, "StrictHostKeyChecking") && o.policy == nil:
				p, err := parseStrictHostKeyChecking(v)
				if err != nil {
					return o, err
				}
				o.policy = &p
			}
		}
	}
	return o, nil
}

// parseStrictHostKeyChecking maps OpenSSH's StrictHostKeyChecking values to
// a policy. "no" lets ssh connect to a host whose key changed (key logins
// only): koala checks nothing then, as Ansible's host_key_checking=False.
// "ask" needs a terminal ssh would prompt on; koala has none: strict.
func parseStrictHostKeyChecking(v string) (HostKeyPolicy, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "yes", "ask":
		return Strict, nil
	case "accept-new":
		return AcceptNew, nil
	case "no", "off":
		return IgnoreHostKeys, nil
	}
	return 0, fmt.Errorf("StrictHostKeyChecking=%s: use yes, accept-new or no", strings.TrimSpace(v))
}
