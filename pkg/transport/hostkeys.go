package transport

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// HostKeyPolicy says what to do with a host key that known_hosts does not list.
type HostKeyPolicy int

const (
	// AcceptNew records an unknown host's key in known_hosts and goes on, like
	// OpenSSH's StrictHostKeyChecking=accept-new. A changed key is refused.
	AcceptNew HostKeyPolicy = iota
	// Strict refuses hosts whose key is not already in known_hosts.
	Strict
	// IgnoreHostKeys checks nothing (Ansible's host_key_checking=False); only
	// for throwaway hosts such as a lab.
	IgnoreHostKeys
)

var (
	// ErrHostKeyUnknown: Strict and the host's key is not in known_hosts.
	ErrHostKeyUnknown = errors.New("host key not in known_hosts")
	// ErrHostKeyChanged: known_hosts lists other keys for the host.
	ErrHostKeyChanged = errors.New("host key changed")
)

// hostKeys checks host keys against one known_hosts file, appending new ones
// under AcceptNew; the policy is each host's.
type hostKeys struct {
	file string

	mu sync.Mutex
	db ssh.HostKeyCallback // nil until loaded; reloaded after an append
}

// callback checks keys under policy.
func (h *hostKeys) callback(policy HostKeyPolicy) ssh.HostKeyCallback {
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		return h.check(policy, hostname, remote, key)
	}
}

func (h *hostKeys) check(policy HostKeyPolicy, hostname string, remote net.Addr, key ssh.PublicKey) error {
	if policy == IgnoreHostKeys {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.db == nil {
		if err := h.load(policy == AcceptNew); err != nil {
			return err
		}
	}
	err := h.db(hostname, remote, key)
	var keyErr *knownhosts.KeyError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &keyErr) && len(keyErr.Want) > 0:
		want := keyErr.Want[0]
		return fmt.Errorf("%w: %s offers %s %s but %s:%d has another; if the host was reinstalled, remove the old entry with: ssh-keygen -R %s -f %s",
			ErrHostKeyChanged, hostname, key.Type(), ssh.FingerprintSHA256(key), want.Filename, want.Line,
			Quote(knownhosts.Normalize(hostname)), Quote(h.file))
	case errors.As(err, &keyErr) && policy == Strict:
		return fmt.Errorf("%w: %s offers %s %s, not listed in %s; add it (ssh-keyscan) or use accept-new",
			ErrHostKeyUnknown, hostname, key.Type(), ssh.FingerprintSHA256(key), h.file)
	case errors.As(err, &keyErr):
		return h.add(hostname, key)
	default:
		return fmt.Errorf("check host key of %s against %s: %w", hostname, h.file, err)
	}
}

// load reads known_hosts, creating an empty one if create.
func (h *hostKeys) load(create bool) error {
	if _, err := os.Stat(h.file); errors.Is(err, os.ErrNotExist) && create {
		if err := os.MkdirAll(filepath.Dir(h.file), 0o700); err != nil {
			return fmt.Errorf("create known_hosts %s: %w", h.file, err)
		}
		if err := os.WriteFile(h.file, nil, 0o600); err != nil {
			return fmt.Errorf("create known_hosts %s: %w", h.file, err)
		}
	}
	db, err := knownhosts.New(h.file)
	if err != nil {
		return fmt.Errorf("read known_hosts %s: %w", h.file, err)
	}
	h.db = db
	return nil
}

func (h *hostKeys) add(hostname string, key ssh.PublicKey) error {
	f, err := os.OpenFile(h.file, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("record host key of %s in %s: %w", hostname, h.file, err)
	}
	_, werr := fmt.Fprintln(f, knownhosts.Line([]string{knownhosts.Normalize(hostname)}, key))
	if err := errors.Join(werr, f.Close()); err != nil {
		return fmt.Errorf("record host key of %s in %s: %w", hostname, h.file, err)
	}
	return h.load(false)
}
