package transport

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/shlex"
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
	ConnectTimeout time.Duration
	// ConnectRetries overrides PoolOptions.ConnectRetries (ansible_ssh_retries).
	ConnectRetries *int

	// bad is a variable SpecFromVars could not use; Pool.Get reports it.
	bad error
}

// SpecFromVars reads Ansible's connection variables for host: ansible_host,
// ansible_port, ansible_user, ansible_ssh_private_key_file, ansible_password,
// ansible_connection (ssh, smart or local), ansible_timeout (seconds per
// connection attempt), ansible_ssh_retries (attempts after a failed one), and a ProxyJump
// (`-J hop` or `-o ProxyJump=hop`) and known_hosts file (`-o
// UserKnownHostsFile=FILE`) given in ansible_ssh_common_args or
// ansible_ssh_extra_args. The older ansible_ssh_host/port/user/pass spellings
// are read too. It never fails: a spec built from a bad value fails at Pool.Get
// with an error naming the variable.
func SpecFromVars(host string, vars map[string]any) HostSpec {
	s := HostSpec{Name: host}
	str := func(names ...string) (string, string) {
		for _, n := range names {
			if v, ok := vars[n]; ok && v != nil {
				return strings.TrimSpace(fmt.Sprint(v)), n
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
	for _, name := range []string{"ansible_ssh_common_args", "ansible_ssh_extra_args"} {
		v, _ := str(name)
		if v == "" {
			continue
		}
		jump, known, err := sshArgs(v)
		if err != nil {
			setBad(fmt.Errorf("%s: %w", name, err))
		}
		if jump != "" {
			s.ProxyJump = jump
		}
		if known != "" {
			s.KnownHostsFile = known
		}
	}
	return s
}

// sshArgs finds -J HOP or -o ProxyJump=HOP, and -o UserKnownHostsFile=FILE,
// in ssh command-line options; other options are ignored.
func sshArgs(args string) (jump, knownHosts string, err error) {
	words, err := shlex.Split(args)
	if err != nil {
		return "", "", fmt.Errorf("cannot split %q: %w", args, err)
	}
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "-J" && i+1 < len(words):
			i++
			jump = words[i]
		case strings.HasPrefix(w, "-J"):
			jump = w[2:]
		case strings.HasPrefix(w, "-o"):
			opt := strings.TrimPrefix(w, "-o")
			if opt == "" {
				if i+1 == len(words) {
					return "", "", fmt.Errorf("-o without an option in %q", args)
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
				jump = strings.TrimSpace(v)
			case strings.EqualFold(k, "UserKnownHostsFile"):
				// ssh takes several files; the first is the one it writes.
				knownHosts = strings.Fields(v)[0]
			}
		}
	}
	return jump, knownHosts, nil
}
