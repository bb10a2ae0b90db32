package transport

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// A persistent shell is one long-lived SSH session running /bin/sh (or
// `sudo -H -n -u USER -- /bin/sh`) that is fed command lines on its stdin and
// answers with frames on its stdout and stderr. It saves what a session per
// command costs on the host: sshd forking, setting up the session and starting
// the login shell, and under Become a sudo run. On a loaded host every process
// start is a wait for a CPU, so a command costs exactly one fork here.
//
// Protocol. Go writes shellInit once; the shell answers "M ready PID PGID". Each
// command is then one request line
//
//	__ks; [__kf <&3 |] (export K='v'; exec setsid /bin/sh -c 'CMD') [</dev/null] 3<&- & __kw $!
//
// which the shell's parser reads whole before running any of it, so the exports
// never leave the shell's memory for a process's arguments, and the command's
// input cannot be taken for more program. The command runs in a session and
// process group of its own (setsid), as it would in an SSH session, and writes
// straight to the shell's stdout and stderr. Both streams carry
//
//	M s\n  <the command's output>  M r RC\n   (stderr: M s\n ... M r\n)
//
// M is a random marker made for each shell, never placed in any process's
// arguments (the shell reads it from its stdin), so no command can know it, and
// output is passed whatever bytes it holds. What precedes "M s" is output of an
// earlier command's background processes and is dropped.
//
// Command stdin is sent after the "s" frame. Input whose length is known (a
// bytes.Reader or strings.Reader) is sent as is, read by one `head -c N` into a
// file the command reads (__ki); other input is streamed as chunks "N\n" + N bytes ended by
// "0\n", which __kf reads from fd 3 (an asynchronous list's stdin is
// /dev/null, and the command must not see the shell's stream). __kf copies each
// chunk to a file before passing it on, so a command that exits without
// reading its input cannot leave bytes in the stream.
const shellInit = `__km=%s
command -v setsid >/dev/null || { echo "setsid not found on the host" >&2; exit 1; }
__kd=$(mktemp -d "${TMPDIR:-/tmp}/.koala-sh.XXXXXXXX") || exit 1
trap 'rm -rf "$__kd"' EXIT
trap 'exit 129' HUP
trap 'exit 141' PIPE
trap 'exit 143' TERM
exec 3<&0
__kf() {
	while IFS= read -r __n && [ "$__n" -gt 0 ]; do
		head -c "$__n" >"$__kd/i" && cat "$__kd/i" 2>/dev/null
	done
}
__ki() {
	head -c "$1" <&3 >"$__kd/i"
}
__ks() {
	printf '%%s s\n' "$__km"
	printf '%%s s\n' "$__km" >&2
}
__kw() {
	wait "$1" 2>/dev/null # no "Killed" from dash when a signal ended the job
	__r=$?
	printf '%%s r %%s\n' "$__km" "$__r"
	printf '%%s r\n' "$__km" >&2
}
read -r __st </proc/$$/stat
__st=${__st##*') '}
set -- $__st
printf '%%s ready %%s %%s\n' "$__km" "$$" "$3"
`

const (
	// shellStartTimeout bounds the wait for a new shell's "ready" (sudo included).
	shellStartTimeout = 30 * time.Second
	// stdinChunk is the most command input sent in one frame.
	stdinChunk = 64 << 10
)

// killShell is run (as the shell's user) in a session of its own to cancel a
// command: SIGTERM to the process group of each of the shell's children (the
// command, which setsid made a group leader), then to the shell's own group, so
// that a command not yet started never starts. The shell is dropped after.
const killShell = `for __s in /proc/[0-9]*/stat; do
	read -r __l <"$__s" 2>/dev/null || continue
	set -- ${__l##*') '}
	[ "$2" = %[1]d ] && kill -15 -"$3" 2>/dev/null
done
kill -15 -%[2]d 2>/dev/null
exit 0`

// errNoShell means a persistent shell could not be started for a reason other
// than a lost connection (sudo refused, no setsid on the host): the command is
// then run in a session of its own, which reports such failures as before.
var errNoShell = errors.New("no persistent shell")

// errShellExited is what reading a frame returns once the shell has ended.
var errShellExited = errors.New("the shell exited")

// shell is one persistent shell; it runs one command at a time.
type shell struct {
	user     string // "" = the login user
	password string // sudo's password for user; "" = sudo -n
	sess     *ssh.Session
	in       io.WriteCloser
	out, err *stream
	marker   string
	pid      int           // the shell's pid on the host
	pgid     int           // its process group
	dead     chan struct{} // closed when the session has ended
}

func (s *shell) alive() bool {
	select {
	case <-s.dead:
		return false
	default:
		return true
	}
}

func (s *shell) close() { s.sess.Close() }

// stream collects one of a shell's output streams for next to cut into frames.
type stream struct {
	mu   sync.Mutex
	buf  []byte
	more chan struct{} // 1-buffered: data came or the stream ended
	done bool
}

func newStream() *stream { return &stream{more: make(chan struct{}, 1)} }

func (s *stream) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.buf = append(s.buf, p...)
	s.mu.Unlock()
	s.wake()
	return len(p), nil
}

func (s *stream) wake() {
	select {
	case s.more <- struct{}{}:
	default:
	}
}

// end marks the stream finished: nothing more will be written.
func (s *stream) end() {
	s.mu.Lock()
	s.done = true
	s.mu.Unlock()
	s.wake()
}

// next waits for sep and returns (and consumes) what precedes it, sep included.
func (s *stream) next(sep string) ([]byte, error) {
	from := 0
	for {
		s.mu.Lock()
		if i := bytes.Index(s.buf[from:], []byte(sep)); i >= 0 {
			i += from
			out := bytes.Clone(s.buf[:i])
			s.buf = s.buf[i+len(sep):]
			s.mu.Unlock()
			return out, nil
		}
		from = max(0, len(s.buf)-len(sep)+1)
		done := s.done
		s.mu.Unlock()
		if done {
			return nil, errShellExited
		}
		<-s.more
	}
}

// tail is the end of what is left in the stream, for error messages.
func (s *stream) tail() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := strings.TrimSpace(string(s.buf[max(0, len(s.buf)-2048):]))
	if t == "" {
		return ""
	}
	return ": " + t
}

// shellPool holds a host's idle persistent shells by user.
type shellPool struct {
	max   int // live shells per connection; each holds a session slot
	mu    sync.Mutex
	idle  map[string][]*shell
	live  int
	freed chan struct{} // closed (and replaced) when a shell is returned or dropped
	// failed holds the users whose shell could not start without a password
	// (errNoShell): their commands go straight to sessions for the rest of
	// the connection.
	failed map[string]bool
	// refused holds, by user, sudo's refusal of the become password: every
	// later command fails with it at once, so that a wrong password is tried
	// once per host, not once per command (sudo logs each attempt, and PAM
	// may lock the account after a few).
	refused map[string]error
	// authing is set while a shell of the user is being started with a
	// password: others wait for its outcome rather than try the password too.
	authing map[string]bool
}

func newShellPool(max int) *shellPool {
	return &shellPool{max: max, idle: map[string][]*shell{}, freed: make(chan struct{}), failed: map[string]bool{},
		refused: map[string]error{}, authing: map[string]bool{}}
}

// signal wakes the waiters of takeShell; the caller holds mu.
func (p *shellPool) signal() {
	close(p.freed)
	p.freed = make(chan struct{})
}

// takeShell returns an idle shell of user's, or starts one when fewer than max
// are live (closing another user's idle shell if that is what it takes), or
// waits for one to be returned.
func (c *sshConn) takeShell(ctx context.Context, user, password string) (*shell, error) {
	p := c.shells
	for {
		if !c.alive() {
			return nil, c.lost(errors.New("closed"))
		}
		p.mu.Lock()
		if p.failed[user] && password == "" {
			p.mu.Unlock()
			return nil, errNoShell
		}
		if err := p.refused[user]; err != nil && password != "" {
			p.mu.Unlock()
			return nil, err
		}
		for len(p.idle[user]) > 0 {
			list := p.idle[user]
			s := list[len(list)-1]
			p.idle[user] = list[:len(list)-1]
			if s.alive() {
				p.mu.Unlock()
				return s, nil
			}
			p.live--
			s.close()
			<-c.sessions
		}
		if p.live >= p.max {
			for u, list := range p.idle {
				if len(list) > 0 {
					list[0].close()
					<-c.sessions
					p.idle[u] = list[1:]
					p.live--
					break
				}
			}
		}
		if p.live < p.max && !p.authing[user] {
			p.live++
			p.authing[user] = password != ""
			p.mu.Unlock()
			s, err := c.startShell(ctx, user, password)
			p.mu.Lock()
			p.authing[user] = false
			if err != nil {
				p.live--
				if errors.Is(err, errNoShell) && password == "" {
					p.failed[user] = true
				}
				if errors.Is(err, ErrBecomePassword) {
					p.refused[user] = err
				}
			}
			p.signal()
			p.mu.Unlock()
			return s, err
		}
		freed := p.freed
		p.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return nil, fmt.Errorf("run command on %s: %w", c.host, ctx.Err())
		case <-c.closed:
		}
	}
}

// putShell returns a shell in a known state to the idle list.
func (c *sshConn) putShell(s *shell) {
	p := c.shells
	p.mu.Lock()
	p.idle[s.user] = append(p.idle[s.user], s)
	p.signal()
	p.mu.Unlock()
}

// dropShell closes a shell whose state is unknown.
func (c *sshConn) dropShell(s *shell) {
	s.close()
	<-c.sessions
	p := c.shells
	p.mu.Lock()
	p.live--
	p.signal()
	p.mu.Unlock()
}

// startShell opens a session, starts the shell in it and waits for its "ready".
// The shell holds one of the connection's session slots until it is dropped.
func (c *sshConn) startShell(ctx context.Context, user, password string) (*shell, error) {
	select {
	case c.sessions <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("run command on %s: %w", c.host, ctx.Err())
	case <-c.closed:
		return nil, c.lost(errors.New("closed"))
	}
	s, err := c.openShell(ctx, user, password)
	if err != nil {
		<-c.sessions
	}
	return s, err
}

func (c *sshConn) openShell(ctx context.Context, user, password string) (*shell, error) {
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	sess, err := c.client.NewSession()
	if err != nil {
		if c.gone() {
			return nil, c.lost(err)
		}
		return nil, fmt.Errorf("open session on %s: %w", c.host, err)
	}
	sh := &shell{user: user, password: password, sess: sess, out: newStream(), err: newStream(),
		marker: "__koala_" + hex.EncodeToString(nonce), dead: make(chan struct{})}
	in, err := sess.StdinPipe()
	if err != nil {
		sess.Close()
		return nil, fmt.Errorf("open session on %s: %w", c.host, err)
	}
	sh.in, sess.Stdout, sess.Stderr = in, sh.out, sh.err
	cmd := "exec /bin/sh"
	var prompt, started string
	switch {
	case user != "" && password != "":
		// sudo -S reads the password from stdin, so it is sent only once
		// sudo has shown its prompt (a random one, on stderr); a sudo that
		// asks nothing (NOPASSWD, cached credentials) starts the shell,
		// which says so, and no password is sent at all.
		prompt, started = "[koala-sudo-"+hex.EncodeToString(nonce[:6])+"] ", "__koala_started_"+hex.EncodeToString(nonce[6:12])
		cmd = "exec sudo -H -S -p " + Quote(prompt) + " -u " + Quote(user) + " -- /bin/sh -c " + Quote("echo "+started+"; exec /bin/sh")
	case user != "":
		cmd = "exec sudo -H -n -u " + Quote(user) + " -- /bin/sh"
	}
	if err := sess.Start(cmd); err != nil {
		sess.Close()
		if c.gone() {
			return nil, c.lost(err)
		}
		return nil, fmt.Errorf("start shell on %s: %w", c.host, err)
	}
	go func() {
		sess.Wait()
		sh.out.end()
		sh.err.end()
		close(sh.dead)
	}()
	if prompt != "" {
		if err := sh.sudoAuth(ctx, c.host, prompt, started); err != nil {
			sess.Close()
			if errors.Is(err, ErrBecomePassword) || ctx.Err() != nil {
				return nil, err
			}
			if c.gone() {
				return nil, c.lost(err)
			}
			return nil, fmt.Errorf("%w on %s as %s: %v", errNoShell, c.host, user, err)
		}
	}
	ready := make(chan error, 1)
	go func() {
		if _, err := io.WriteString(in, fmt.Sprintf(shellInit, sh.marker)); err != nil {
			ready <- err
			return
		}
		stray, err := sh.out.next(sh.marker + " ready ")
		if err == nil && len(stray) > 0 {
			err = fmt.Errorf("unexpected output %q", truncate(string(stray), 80))
		}
		var line []byte
		if err == nil {
			line, err = sh.out.next("\n")
		}
		if err == nil {
			if _, serr := fmt.Sscanf(string(line), "%d %d", &sh.pid, &sh.pgid); serr != nil {
				err = fmt.Errorf("bad ready frame %q", line)
			}
		}
		ready <- err
	}()
	timer := time.NewTimer(shellStartTimeout)
	defer timer.Stop()
	select {
	case err = <-ready:
	case <-ctx.Done():
		sess.Close()
		return nil, fmt.Errorf("run command on %s: %w", c.host, ctx.Err())
	case <-timer.C:
		err = fmt.Errorf("no answer within %s", shellStartTimeout)
	}
	if err != nil {
		sess.Close()
		if c.gone() {
			return nil, c.lost(err)
		}
		return nil, fmt.Errorf("%w on %s as %s: %v%s", errNoShell, c.host, userName(user), err, sh.err.tail())
	}
	return sh, nil
}

// ErrBecomePassword: sudo refused the become password.
var ErrBecomePassword = errors.New("sudo refused the become password")

// sudoAuth waits for sudo, started with `-S -p prompt`, to either ask for the
// password (it is sent once) or start the shell (which prints started).
// A second prompt means the password was wrong: the session is given up at
// once, so sudo counts one failed attempt.
func (s *shell) sudoAuth(ctx context.Context, host, prompt, started string) error {
	timer := time.NewTimer(shellStartTimeout)
	defer timer.Stop()
	answered := false
	for {
		s.err.mu.Lock()
		prompts, errText, errDone := bytes.Count(s.err.buf, []byte(prompt)), string(s.err.buf), s.err.done
		s.err.mu.Unlock()
		s.out.mu.Lock()
		up, outDone := bytes.Contains(s.out.buf, []byte(started+"\n")), s.out.done
		s.out.mu.Unlock()
		switch {
		case up:
			if _, err := s.out.next(started + "\n"); err != nil {
				return err
			}
			// Only sudo's prompt and "Sorry" lines are there; drop them.
			s.err.mu.Lock()
			s.err.buf = nil
			s.err.mu.Unlock()
			return nil
		case prompts > 1 || (answered && (errDone || outDone)):
			return fmt.Errorf("%w on %s for %s (ansible_become_password, --ask-become-pass): not retried, to spare the account a lockout", ErrBecomePassword, host, s.user)
		case errDone || outDone:
			return fmt.Errorf("sudo ended before starting the shell: %s", strings.TrimSpace(strings.ReplaceAll(errText, prompt, "")))
		case prompts == 1 && !answered:
			if _, err := io.WriteString(s.in, s.password+"\n"); err != nil {
				return fmt.Errorf("send the become password: %w", err)
			}
			answered = true
			continue
		}
		select {
		case <-s.err.more:
		case <-s.out.more:
		case <-ctx.Done():
			return fmt.Errorf("run command on %s: %w", host, ctx.Err())
		case <-timer.C:
			return fmt.Errorf("sudo gave no prompt and started no shell within %s", shellStartTimeout)
		}
	}
}

func userName(user string) string {
	if user == "" {
		return "the login user"
	}
	return user
}

// execShell runs cmd in a persistent shell of user's ("" = the login user).
func (c *sshConn) execShell(ctx context.Context, user, password string, cmd Command) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("run command on %s: %w", c.host, err)
	}
	if strings.IndexByte(cmd.Cmd, 0) >= 0 {
		return Result{}, fmt.Errorf("run command on %s: the command line contains a NUL byte", c.host)
	}
	stdin, fixed := cmd.Stdin, []byte(nil)
	switch r := stdin.(type) {
	case *bytes.Reader, *strings.Reader:
		fixed, _ = io.ReadAll(r) // cannot fail
		stdin = nil
		if len(fixed) == 0 {
			fixed = nil
		}
	}
	req, err := shellRequest(Command{Cmd: cmd.Cmd, Env: cmd.Env, Stdin: stdin}, fixed)
	if err != nil {
		return Result{}, fmt.Errorf("run command on %s: %w", c.host, err)
	}
	s, err := c.takeShell(ctx, user, password)
	if err != nil {
		return Result{}, err
	}
	done := make(chan shellReply, 1)
	go func() { done <- s.run(req, stdin, fixed) }()
	select {
	case r := <-done:
		if r.err == nil {
			c.putShell(s)
			if r.stdinErr != nil {
				return r.res, fmt.Errorf("run command on %s: %w", c.host, r.stdinErr)
			}
			return r.res, nil
		}
		c.dropShell(s)
		if c.gone() {
			return Result{}, c.lost(r.err)
		}
		return Result{}, fmt.Errorf("run command on %s as %s: persistent shell failed: %w%s", c.host, userName(user), r.err, s.err.tail())
	case <-ctx.Done():
		c.kill(s)
		c.dropShell(s)
		return Result{}, fmt.Errorf("run command on %s: %w", c.host, ctx.Err())
	}
}

// shellRequest is cmd's request line (see shellInit).
func shellRequest(cmd Command, fixed []byte) (string, error) {
	var b strings.Builder
	b.WriteString("__ks; ")
	if fixed != nil {
		// A short read means the stream is broken: the shell must not go on.
		fmt.Fprintf(&b, "__ki %d || exit; ", len(fixed))
	} else if cmd.Stdin != nil {
		b.WriteString("__kf <&3 | ")
	}
	b.WriteString("(")
	for _, k := range slices.Sorted(maps.Keys(cmd.Env)) {
		v := cmd.Env[k]
		if !envName.MatchString(k) {
			return "", fmt.Errorf("environment variable name %q is not a valid shell name", k)
		}
		if strings.IndexByte(v, 0) >= 0 {
			return "", fmt.Errorf("environment variable %s contains a NUL byte", k)
		}
		b.WriteString("export " + k + "=" + Quote(v) + "; ")
	}
	b.WriteString("exec setsid /bin/sh -c " + Quote(cmd.Cmd) + ")")
	switch {
	case fixed != nil:
		b.WriteString(` <"$__kd/i"`)
	case cmd.Stdin == nil:
		b.WriteString(" </dev/null")
	}
	b.WriteString(" 3<&- & __kw $!\n")
	return b.String(), nil
}

type shellReply struct {
	res      Result
	err      error // the shell's stream is broken or in doubt
	stdinErr error // reading Command.Stdin failed; the command still ran
}

// run sends one request and reads its frames; the command's input is stdin,
// streamed, or fixed, sent whole.
func (s *shell) run(req string, stdin io.Reader, fixed []byte) (r shellReply) {
	if _, err := io.WriteString(s.in, req); err != nil {
		r.err = fmt.Errorf("send command: %w", err)
		return r
	}
	start, result := s.marker+" s\n", s.marker+" r "
	if _, r.err = s.out.next(start); r.err != nil {
		return r
	}
	sent := make(chan error, 1)
	switch {
	case fixed != nil:
		go func() {
			_, err := s.in.Write(fixed)
			if err != nil {
				err = fmt.Errorf("%w: %w", errSendStdin, err)
			}
			sent <- err
		}()
	case stdin != nil:
		go func() { sent <- s.feed(stdin) }()
	default:
		sent <- nil
	}
	if r.res.Stdout, r.err = s.out.next(result); r.err != nil {
		return r
	}
	rc, err := s.out.next("\n")
	if err != nil {
		r.err = err
		return r
	}
	if r.res.RC, err = strconv.Atoi(string(rc)); err != nil {
		r.err = fmt.Errorf("bad result frame %q", rc)
		return r
	}
	if _, r.err = s.err.next(start); r.err != nil {
		return r
	}
	if r.res.Stderr, r.err = s.err.next(s.marker + " r\n"); r.err != nil {
		return r
	}
	// The "r" frame comes after the command and the feeder have ended.
	if ferr := <-sent; ferr != nil {
		if errors.Is(ferr, errSendStdin) {
			r.err = ferr
			return r
		}
		r.stdinErr = ferr
	}
	return r
}

var errSendStdin = errors.New("send stdin")

// feed sends stdin in chunks and the end chunk. An error reading stdin still
// ends the input cleanly, so the shell stays usable.
func (s *shell) feed(stdin io.Reader) error {
	buf := make([]byte, stdinChunk)
	var readErr error
	for {
		n, err := stdin.Read(buf)
		if n > 0 {
			if _, werr := s.in.Write(append([]byte(strconv.Itoa(n)+"\n"), buf[:n]...)); werr != nil {
				return fmt.Errorf("%w: %w", errSendStdin, werr)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			readErr = fmt.Errorf("read the command's stdin: %w", err)
			break
		}
	}
	if _, err := io.WriteString(s.in, "0\n"); err != nil {
		return fmt.Errorf("%w: %w", errSendStdin, err)
	}
	return readErr
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// kill cancels the command running in s (see killShell), from a session of
// its own and as s's user. It is best effort: the host may be gone, which is
// why ctx ended.
func (c *sshConn) kill(s *shell) {
	timeout := killTimeout
	if s.password != "" {
		// sudo authenticates through PAM first (about 1 s at load 75 here);
		// with killTimeout, TestBecomePassword's cancelled command was left
		// running in 1 of about 10 runs at load 115.
		timeout = shellStartTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := "/bin/sh -c " + Quote(fmt.Sprintf(killShell, s.pid, s.pgid))
	var stdin io.Reader
	switch {
	case s.user != "" && s.password != "":
		// Read by sudo if it asks, else left unread by the kill script.
		cmd = "sudo -S -p '' -u " + Quote(s.user) + " -- " + cmd
		stdin = strings.NewReader(s.password + "\n")
	case s.user != "":
		cmd = "sudo -n -u " + Quote(s.user) + " -- " + cmd
	}
	c.runSide(ctx, cmd, stdin)
}
