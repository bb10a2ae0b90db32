package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

const (
	// killTimeout bounds the extra session that signals a cancelled command.
	killTimeout = 5 * time.Second
	// lossGrace is how long an error waits to learn that the connection died.
	lossGrace = 500 * time.Millisecond
)

// sshConn is one host's *ssh.Client. Commands run in its persistent shells
// (shell.go), or each in a session of its own when shells is nil.
type sshConn struct {
	host, addr string
	client     *ssh.Client
	sessions   chan struct{} // semaphore: sshd refuses sessions beyond MaxSessions
	shells     *shellPool    // nil: a session per command
	closed     chan struct{} // closed when the SSH connection has ended
	closeOnce  sync.Once
}

func newSSHConn(host, addr string, client *ssh.Client, maxSessions int, keepAlive time.Duration, shells bool) *sshConn {
	c := &sshConn{
		host: host, addr: addr, client: client,
		sessions: make(chan struct{}, maxSessions),
		closed:   make(chan struct{}),
	}
	if shells {
		// Shells hold their session slots for good: leave two for uploads'
		// fallback sessions and for other users' shells to be started.
		c.shells = newShellPool(max(1, maxSessions-2))
	}
	go func() { client.Wait(); c.markClosed() }()
	if keepAlive > 0 {
		go c.keepAlive(keepAlive)
	}
	return c
}

// keepAlive sends OpenSSH keepalive requests and closes the client when one
// goes unanswered for three intervals, so a dead host fails fast instead of
// hanging every later command.
func (c *sshConn) keepAlive(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-c.closed:
			return
		case <-t.C:
		}
		replied := make(chan error, 1)
		go func() {
			_, _, err := c.client.SendRequest("keepalive@openssh.com", true, nil)
			replied <- err
		}()
		select {
		case err := <-replied:
			if err != nil {
				c.client.Close()
				return
			}
		case <-time.After(3 * every):
			c.client.Close()
			return
		case <-c.closed:
			return
		}
	}
}

func (c *sshConn) Host() string { return c.host }
func (c *sshConn) Close() error {
	err := c.client.Close()
	c.markClosed()
	return err
}

func (c *sshConn) markClosed() { c.closeOnce.Do(func() { close(c.closed) }) }

// alive reports whether the SSH connection is still up.
func (c *sshConn) alive() bool {
	select {
	case <-c.closed:
		return false
	default:
		return true
	}
}

// gone tells, after an error, whether the connection was lost. A request can
// fail a moment before the client notices the end of its connection, hence the
// grace period.
func (c *sshConn) gone() bool {
	select {
	case <-c.closed:
		return true
	case <-time.After(lossGrace):
		return false
	}
}

func (c *sshConn) lost(err error) error {
	return &UnreachableError{Host: c.host, Addr: c.addr, Err: fmt.Errorf("connection lost: %w", err)}
}

func (c *sshConn) Exec(ctx context.Context, cmd Command) (Result, error) {
	if c.shells != nil {
		res, err := c.execShell(ctx, "", "", cmd)
		if !errors.Is(err, errNoShell) {
			return res, err
		}
	}
	return c.execSession(ctx, cmd)
}

// execSession runs cmd in a session of its own.
func (c *sshConn) execSession(ctx context.Context, cmd Command) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("run command on %s: %w", c.host, err)
	}
	script, stdin := cmd.Cmd, cmd.Stdin
	if len(cmd.Env) > 0 {
		var prefix []byte
		var err error
		if script, prefix, err = withEnv(cmd.Cmd, cmd.Env); err != nil {
			return Result{}, fmt.Errorf("run command on %s: %w", c.host, err)
		}
		if stdin == nil {
			stdin = bytes.NewReader(prefix)
		} else {
			stdin = io.MultiReader(bytes.NewReader(prefix), stdin)
		}
	}
	select {
	case c.sessions <- struct{}{}:
		defer func() { <-c.sessions }()
	case <-ctx.Done():
		return Result{}, fmt.Errorf("run command on %s: %w", c.host, ctx.Err())
	case <-c.closed:
		return Result{}, c.lost(errors.New("closed"))
	}
	s, err := c.client.NewSession()
	if err != nil {
		if c.gone() {
			return Result{}, c.lost(err)
		}
		return Result{}, fmt.Errorf("open session on %s: %w", c.host, err)
	}
	defer s.Close()
	var stdout bytes.Buffer
	stderr := newPidWriter()
	s.Stdin, s.Stdout, s.Stderr = stdin, &stdout, stderr
	// sshd hands the command to the login shell, which may not be sh. The first
	// line of stderr is the shell's pid: sshd made it a session leader, so that
	// pid also names the process group a cancel must signal.
	if err := s.Start("exec /bin/sh -c " + Quote("echo $$ >&2\n"+script)); err != nil {
		if c.gone() {
			return Result{}, c.lost(err)
		}
		return Result{}, fmt.Errorf("start command on %s: %w", c.host, err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		c.terminate(s, stderr)
		return Result{}, fmt.Errorf("run command on %s: %w", c.host, ctx.Err())
	}
	res := Result{Stdout: stdout.Bytes(), Stderr: stderr.bytes()}
	var exitErr *ssh.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		res.RC = exitErr.ExitStatus()
	case c.gone():
		return res, c.lost(err)
	default:
		return res, fmt.Errorf("run command on %s: %w", c.host, err)
	}
	return res, nil
}

// terminate sends SIGTERM to a cancelled command's process group from a second
// session (sshd's own signal request reaches only the leader), then drops the
// session. It is best effort: the host may be gone, which is why ctx ended.
func (c *sshConn) terminate(s *ssh.Session, stderr *pidWriter) {
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), killTimeout)
	defer cancel()
	// The command has started; its pid line may still be on the way.
	var pid int
	select {
	case <-stderr.ready:
		pid = stderr.pid
	case <-ctx.Done():
	}
	if pid <= 0 {
		s.Signal(ssh.SIGTERM)
		return
	}
	// `kill -15 -PGID`: the one spelling dash and bash both take.
	c.runSide(ctx, "kill -15 -"+strconv.Itoa(pid)+" 2>/dev/null", nil)
}

// runSide runs cmd, best effort, on a session of its own beside a cancelled
// one (to signal it), giving up when ctx ends: the host may be gone.
func (c *sshConn) runSide(ctx context.Context, cmd string, stdin io.Reader) {
	k, err := c.client.NewSession()
	if err != nil {
		return
	}
	defer k.Close()
	k.Stdin = stdin
	done := make(chan struct{})
	go func() {
		k.Run(cmd)
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

func (c *sshConn) Upload(ctx context.Context, src io.Reader, dst string, opts UploadOptions) error {
	return upload(ctx, c, src, dst, opts)
}

func (c *sshConn) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if network != "tcp" && network != "unix" {
		return nil, fmt.Errorf("dial %s %s through %s: network must be tcp or unix", network, addr, c.host)
	}
	conn, err := c.client.DialContext(ctx, network, addr)
	if err != nil {
		if c.gone() {
			return nil, c.lost(err)
		}
		return nil, fmt.Errorf("dial %s %s through %s: %w", network, addr, c.host, err)
	}
	return conn, nil
}

// pidWriter collects stderr, taking the first line (the remote shell's pid)
// off the front.
type pidWriter struct {
	mu    sync.Mutex
	head  []byte
	pid   int           // set before ready is closed
	ready chan struct{} // closed once the pid line is in
	buf   bytes.Buffer
}

func newPidWriter() *pidWriter { return &pidWriter{ready: make(chan struct{})} }

func (w *pidWriter) got() bool {
	select {
	case <-w.ready:
		return true
	default:
		return false
	}
}

func (w *pidWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.got() {
		return w.buf.Write(p)
	}
	n := len(p)
	w.head = append(w.head, p...)
	i := bytes.IndexByte(w.head, '\n')
	if i < 0 {
		return n, nil
	}
	w.pid, _ = strconv.Atoi(string(w.head[:i]))
	close(w.ready)
	w.buf.Write(w.head[i+1:])
	w.head = nil
	return n, nil
}

// bytes is stderr without the pid line (all of it if that line never came,
// e.g. when the login shell could not start /bin/sh).
func (w *pidWriter) bytes() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.got() {
		return w.head
	}
	return w.buf.Bytes()
}
