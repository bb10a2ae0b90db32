package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kevinburke/ssh_config"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Defaults for PoolOptions' zero values.
const (
	// DefaultConnectTimeout bounds one connection attempt (TCP and the SSH
	// handshake). Ansible's 10 s is too short for sshd on a loaded host (a
	// lab of node containers on one busy machine).
	DefaultConnectTimeout = 30 * time.Second
	// DefaultConnectRetries is how many times a failed connection attempt
	// is tried again (after 1 s, then 2 s, ...) before the host counts as
	// unreachable. Ansible's ssh plugin defaults to 0 (reconnection_retries);
	// a host that refuses or drops a connection under load usually takes the
	// next one. Authentication and host key failures are not retried.
	DefaultConnectRetries = 2
	DefaultKeepAlive      = 15 * time.Second
	// DefaultMaxSessions stays under OpenSSH's default MaxSessions (10).
	DefaultMaxSessions = 8
	// maxJumpDepth bounds ProxyJump chains (and catches loops).
	maxJumpDepth = 8
)

// PoolOptions configure how a Pool connects.
type PoolOptions struct {
	KnownHostsFile string        // "" = ~/.ssh/known_hosts
	HostKeyPolicy  HostKeyPolicy // default AcceptNew
	SSHConfigFile  string        // "" = ~/.ssh/config when it exists
	AgentSocket    string        // "" = $SSH_AUTH_SOCK; the agent is optional
	ConnectTimeout time.Duration // per attempt, per host unless its spec says otherwise
	// ConnectRetries are the attempts after a failed first one, unless the
	// host's spec says otherwise; < 0 = none, 0 = DefaultConnectRetries.
	ConnectRetries int
	KeepAlive      time.Duration // interval; < 0 disables
	MaxSessions    int           // concurrent commands per host
	// SessionPerCommand runs every command in an SSH session of its own
	// instead of in the host's persistent shells (see shell.go): slower, and
	// the way to rule the shells out when something looks wrong.
	SessionPerCommand bool
}

// Pool holds one connection per host for a whole run. It is safe for
// concurrent use; concurrent Gets of one host dial it once.
type Pool struct {
	opts     PoolOptions
	hostKeys *hostKeys // the pool's known_hosts file
	sshCfg   *ssh_config.Config
	cfgErr   error

	mu      sync.Mutex
	entries map[string]*entry
	signers map[string]ssh.Signer // parsed key files by path
	// knownHosts: a checker per UserKnownHostsFile that specs name.
	knownHosts map[string]*hostKeys
	agent      agent.ExtendedAgent // nil: none
	agentC     net.Conn            // the agent's socket, closed with the pool
	agentOK    bool                // the agent has been looked for
	closed     bool
}

type entry struct {
	ready chan struct{} // closed when conn/err are set
	conn  Conn
	err   error
}

// NewPool returns a Pool; nothing is dialled until Get.
func NewPool(opts PoolOptions) *Pool {
	home, _ := os.UserHomeDir()
	if opts.KnownHostsFile == "" {
		opts.KnownHostsFile = filepath.Join(home, ".ssh", "known_hosts")
	}
	if opts.AgentSocket == "" {
		opts.AgentSocket = os.Getenv("SSH_AUTH_SOCK")
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = DefaultConnectTimeout
	}
	if opts.KeepAlive == 0 {
		opts.KeepAlive = DefaultKeepAlive
	}
	if opts.ConnectRetries == 0 {
		opts.ConnectRetries = DefaultConnectRetries
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = DefaultMaxSessions
	}
	p := &Pool{
		opts:       opts,
		hostKeys:   &hostKeys{file: opts.KnownHostsFile},
		entries:    map[string]*entry{},
		signers:    map[string]ssh.Signer{},
		knownHosts: map[string]*hostKeys{},
	}
	cfgFile, explicit := opts.SSHConfigFile, opts.SSHConfigFile != ""
	if !explicit {
		cfgFile = filepath.Join(home, ".ssh", "config")
	}
	if f, err := os.Open(cfgFile); err == nil {
		p.sshCfg, p.cfgErr = ssh_config.Decode(f)
		f.Close()
		if p.cfgErr != nil {
			p.cfgErr = fmt.Errorf("read ssh config %s: %w", cfgFile, p.cfgErr)
		}
	} else if explicit {
		p.cfgErr = fmt.Errorf("read ssh config: %w", err)
	}
	return p
}

type jumpDepthKey struct{}

// Get returns the host's connection, dialling it on first use (or again after
// the previous connection was lost). Failure to connect is an *UnreachableError.
func (p *Pool) Get(ctx context.Context, spec HostSpec) (Conn, error) {
	if spec.bad != nil {
		return nil, fmt.Errorf("host %s: %w", spec.Name, spec.bad)
	}
	if spec.Local {
		return Local(spec.Name), nil
	}
	if p.cfgErr != nil {
		return nil, p.cfgErr
	}
	key := fmt.Sprintf("%s\x00%s\x00%d\x00%s\x00%s\x00%s", spec.Name, spec.Address, spec.Port, spec.User, spec.ProxyJump, spec.KnownHostsFile)
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, errors.New("transport pool is closed")
		}
		e, ok := p.entries[key]
		if !ok {
			e = &entry{ready: make(chan struct{})}
			p.entries[key] = e
			p.mu.Unlock()
			e.conn, e.err = p.dial(ctx, spec)
			if e.err != nil {
				p.mu.Lock()
				delete(p.entries, key) // a later Get tries again
				p.mu.Unlock()
			}
			close(e.ready)
			return e.conn, e.err
		}
		p.mu.Unlock()
		select {
		case <-e.ready:
		case <-ctx.Done():
			return nil, fmt.Errorf("connect to %s: %w", spec.Name, ctx.Err())
		}
		if e.err != nil {
			return nil, e.err
		}
		if c, ok := e.conn.(*sshConn); ok && !c.alive() {
			p.mu.Lock()
			if p.entries[key] == e {
				delete(p.entries, key)
			}
			p.mu.Unlock()
			continue
		}
		return e.conn, nil
	}
}

// Close closes every connection; Conns from the pool are unusable afterwards.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	entries := p.entries
	p.entries = map[string]*entry{}
	agentC := p.agentC
	p.mu.Unlock()
	var errs []error
	if agentC != nil {
		agentC.Close()
	}
	for _, e := range entries {
		<-e.ready
		if e.conn != nil {
			if err := e.conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// target is a HostSpec with ~/.ssh/config and defaults applied.
type target struct {
	name, host string
	port       int
	user       string
	keyFiles   []string
	password   string
	jump       string
	timeout    time.Duration
	knownHosts string // "" = the pool's file
	policy     HostKeyPolicy
}

func (t target) addr() string { return net.JoinHostPort(t.host, strconv.Itoa(t.port)) }

// resolve applies ~/.ssh/config the way ssh would for `ssh ADDRESS`: what the
// inventory sets wins, the config fills the rest, then OpenSSH's defaults.
func (p *Pool) resolve(spec HostSpec) (target, error) {
	t := target{
		name: spec.Name, host: spec.Address, port: spec.Port, user: spec.User,
		keyFiles: spec.KeyFiles, password: spec.Password, jump: spec.ProxyJump,
		timeout: spec.ConnectTimeout, knownHosts: spec.KnownHostsFile,
	}
	if t.host == "" {
		t.host = spec.Name
	}
	alias := t.host
	get := func(k string) string {
		if p.sshCfg == nil {
			return ""
		}
		v, _ := p.sshCfg.Get(alias, k)
		return v
	}
	if v := get("HostName"); v != "" {
		t.host = strings.ReplaceAll(v, "%h", alias)
	}
	if t.port == 0 {
		if v := get("Port"); v != "" {
			port, err := strconv.Atoi(v)
			if err != nil {
				return t, fmt.Errorf("host %s: ssh config Port %q for %s is not a number", spec.Name, v, alias)
			}
			t.port = port
		} else {
			t.port = 22
		}
	}
	if t.user == "" {
		t.user = get("User")
	}
	if t.user == "" {
		u, err := user.Current()
		if err != nil {
			return t, fmt.Errorf("host %s: no user given and the local one is unknown: %w", spec.Name, err)
		}
		t.user = u.Username
	}
	if t.jump == "" {
		if v := get("ProxyJump"); !strings.EqualFold(v, "none") {
			t.jump = v
		}
	}
	if p.sshCfg != nil {
		ids, _ := p.sshCfg.GetAll(alias, "IdentityFile")
		t.keyFiles = append(append([]string(nil), t.keyFiles...), ids...)
	}
	if len(t.keyFiles) == 0 {
		for _, f := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			if path := filepath.Join(homeDir(), ".ssh", f); fileExists(path) {
				t.keyFiles = append(t.keyFiles, path)
			}
		}
	}
	for i, f := range t.keyFiles {
		t.keyFiles[i] = expandHome(f)
	}
	if t.timeout <= 0 {
		if v := get("ConnectTimeout"); v != "" {
			if secs, err := strconv.Atoi(v); err == nil && secs > 0 {
				t.timeout = time.Duration(secs) * time.Second
			}
		}
	}
	if t.timeout <= 0 {
		t.timeout = p.opts.ConnectTimeout
	}
	switch {
	case spec.HostKeyPolicy != nil:
		t.policy = *spec.HostKeyPolicy
	case get("StrictHostKeyChecking") != "":
		policy, err := parseStrictHostKeyChecking(get("StrictHostKeyChecking"))
		if err != nil {
			return t, fmt.Errorf("host %s: ssh config for %s: %w", spec.Name, alias, err)
		}
		t.policy = policy
	default:
		t.policy = p.opts.HostKeyPolicy
	}
	return t, nil
}

// dial connects to the host, trying again after a failure that may pass (a
// refused or dropped connection, a timeout) up to the retries allowed.
func (p *Pool) dial(ctx context.Context, spec HostSpec) (Conn, error) {
	retries := p.opts.ConnectRetries
	if spec.ConnectRetries != nil {
		retries = *spec.ConnectRetries
	}
	delay := time.Second
	for attempt := 0; ; attempt++ {
		c, err := p.dialOnce(ctx, spec)
		if err == nil || attempt >= retries || !retryable(err) || ctx.Err() != nil {
			if err != nil && attempt > 0 {
				var ue *UnreachableError
				if errors.As(err, &ue) {
					ue.Err = fmt.Errorf("%w (after %d attempts; raise ansible_timeout or ansible_ssh_retries for a slow host)", ue.Err, attempt+1)
				}
			}
			return c, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(delay):
		}
		delay *= 2
	}
}

// retryable reports whether a failed connection attempt may succeed when
// tried again: not when the host answered and refused the login or showed
// another host key.
func retryable(err error) bool {
	var ue *UnreachableError
	if !errors.As(err, &ue) {
		return false
	}
	if errors.Is(err, ErrHostKeyChanged) || errors.Is(err, ErrHostKeyUnknown) {
		return false
	}
	msg := err.Error()
	return !strings.Contains(msg, "unable to authenticate") && !strings.Contains(msg, "no supported methods remain")
}

func (p *Pool) dialOnce(ctx context.Context, spec HostSpec) (Conn, error) {
	t, err := p.resolve(spec)
	if err != nil {
		return nil, err
	}
	unreachable := func(err error) error { return &UnreachableError{Host: t.name, Addr: t.addr(), Err: err} }
	auth, err := p.authMethods(t)
	if err != nil {
		return nil, unreachable(err)
	}
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()

	var raw net.Conn
	if t.jump == "" {
		var d net.Dialer
		raw, err = d.DialContext(ctx, "tcp", t.addr())
	} else {
		raw, err = p.dialThroughJump(ctx, t)
	}
	if err != nil {
		return nil, unreachable(err)
	}
	// The handshake has no context: closing the socket is what ends it.
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	config := &ssh.ClientConfig{
		User:            t.user,
		Auth:            auth,
		HostKeyCallback: p.hostKeysFor(t.knownHosts).callback(t.policy),
		Timeout:         t.timeout,
	}
	cc, chans, reqs, err := ssh.NewClientConn(raw, t.addr(), config)
	if !stop() {
		if cc != nil {
			cc.Close()
		}
		raw.Close()
		return nil, unreachable(fmt.Errorf("ssh handshake: %w", ctx.Err()))
	}
	if err != nil {
		raw.Close()
		return nil, unreachable(fmt.Errorf("ssh handshake as %s: %w", t.user, err))
	}
	return newSSHConn(t.name, t.addr(), ssh.NewClient(cc, chans, reqs), p.opts.MaxSessions, p.opts.KeepAlive, !p.opts.SessionPerCommand), nil
}

// dialThroughJump reaches t through the last hop of its ProxyJump list; that
// hop is itself a pooled host whose spec carries the earlier hops.
func (p *Pool) dialThroughJump(ctx context.Context, t target) (net.Conn, error) {
	depth, _ := ctx.Value(jumpDepthKey{}).(int)
	if depth >= maxJumpDepth {
		return nil, fmt.Errorf("ProxyJump chain longer than %d hops (a loop?)", maxJumpDepth)
	}
	hops := strings.Split(t.jump, ",")
	last := strings.TrimSpace(hops[len(hops)-1])
	js := HostSpec{Name: last, ProxyJump: strings.Join(hops[:len(hops)-1], ",")}
	if u, rest, ok := strings.Cut(last, "@"); ok {
		js.User, last = u, rest
	}
	host, port := last, 0
	if h, ps, err := net.SplitHostPort(last); err == nil {
		n, err := strconv.Atoi(ps)
		if err != nil {
			return nil, fmt.Errorf("ProxyJump %q: bad port", last)
		}
		host, port = h, n
	}
	js.Address, js.Port = host, port
	jc, err := p.Get(context.WithValue(ctx, jumpDepthKey{}, depth+1), js)
	if err != nil {
		return nil, fmt.Errorf("jump host %s: %w", js.Name, err)
	}
	return jc.Dial(ctx, "tcp", t.addr())
}

// authMethods offers the key files, then the agent's keys, then the password.
func (p *Pool) authMethods(t target) ([]ssh.AuthMethod, error) {
	ag := p.sshAgent()
	var signers []ssh.Signer
	for _, f := range t.keyFiles {
		s, err := p.signer(f)
		var missing *ssh.PassphraseMissingError
		switch {
		case errors.As(err, &missing) && ag != nil:
			continue // the agent may hold it
		case errors.As(err, &missing):
			return nil, fmt.Errorf("key %s is passphrase-protected: load it into ssh-agent (ssh-add %s)", f, f)
		case err != nil:
			return nil, err
		}
		signers = append(signers, s)
	}
	var methods []ssh.AuthMethod
	methods = append(methods, ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
		all := signers
		if ag != nil {
			// An agent that went away is not fatal: the files may still do.
			if more, err := ag.Signers(); err == nil {
				all = append(append([]ssh.Signer(nil), signers...), more...)
			}
		}
		return all, nil
	}))
	if t.password != "" {
		pw := t.password
		methods = append(methods, ssh.Password(pw),
			ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range answers {
					answers[i] = pw
				}
				return answers, nil
			}))
	}
	if len(signers) == 0 && ag == nil && t.password == "" {
		return nil, fmt.Errorf("no way to log in as %s: no key file (ansible_ssh_private_key_file, IdentityFile, ~/.ssh/id_*), no ssh-agent (SSH_AUTH_SOCK), no password", t.user)
	}
	return methods, nil
}

func (p *Pool) signer(file string) (ssh.Signer, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s, ok := p.signers[file]; ok {
		return s, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read private key: %w", err)
	}
	s, err := ssh.ParsePrivateKey(data)
	if err != nil {
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			return nil, err
		}
		return nil, fmt.Errorf("parse private key %s: %w", file, err)
	}
	p.signers[file] = s
	return s, nil
}

// sshAgent connects to the agent once; no socket or a dead one means no agent.
func (p *Pool) sshAgent() agent.ExtendedAgent {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.agentOK {
		p.agentOK = true
		if p.opts.AgentSocket != "" {
			if c, err := net.DialTimeout("unix", p.opts.AgentSocket, p.opts.ConnectTimeout); err == nil {
				p.agent, p.agentC = agent.NewClient(c), c
			}
		}
	}
	return p.agent
}

func homeDir() string {
	h, _ := os.UserHomeDir()
	return h
}

func expandHome(path string) string {
	if path == "~" || strings.HasPrefix(path, "~/") {
		return filepath.Join(homeDir(), path[1:])
	}
	return path
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// hostKeysFor is the checker of a known_hosts file ("" = the pool's); one
// per file, so that accept-new appends are serialised.
func (p *Pool) hostKeysFor(file string) *hostKeys {
	file = expandHome(file)
	if file == "" || file == p.opts.KnownHostsFile {
		return p.hostKeys
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	h := p.knownHosts[file]
	if h == nil {
		h = &hostKeys{file: file}
		p.knownHosts[file] = h
	}
	return h
}
