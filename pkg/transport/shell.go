package transport

import (
	"bufio"
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
// answers in frames on its stdout. It saves what a session per command costs
// on the host: sshd forking, setting up the session and starting the login
// shell, and under Become a sudo run.
//
// Protocol. Go writes shellInit once; the shell answers "M ready". Each command
// is then one request line
//
//	[__kf <&3 |] (export K='v'; exec setsid /bin/sh -c 'CMD') [</dev/null] >"$__kd/o" 2>"$__kd/e" 3<&- & __kw $!
//
// which the shell's parser reads whole before running it, so the exports never
// leave the shell's memory for a process's arguments. The command gets a process
// group of its own (setsid), which a cancel signals. The shell answers
//
//	M p PID                 the command started; PID is also its process group
//	M r RC OUTLEN ERRLEN    it ended; OUTLEN bytes of stdout, ERRLEN of stderr follow
//	M e                     end of frame
//
// M is a random marker per shell. Output is counted, not scanned for the marker,
// so any bytes pass; the trailer catches files that changed while being read (a
// background process still writing), and a shell whose stream is in doubt is
// discarded. Command stdin follows the "p" frame as chunks "N\n" + N bytes, ended
// by "0\n", read from fd 3 (an asynchronous list's stdin is /dev/null, and
// the command must not see the shell's stream); __kf copies each chunk to a file before passing it on, so a command
// that exits without reading its input cannot leave bytes in the shell's stream.
const shellInit = `__km=%s
command -v setsid >/dev/null || { echo "setsid not found on the host" >&2; exit 1; }
__kd=$(mktemp -d "${TMPDIR:-/tmp}/.koala-sh.XXXXXXXX") || exit 1
trap 'rm -rf "$__kd"' EXIT
exec 3<&0
trap 'exit 129' HUP
trap 'exit 141' PIPE
trap 'exit 143' TERM
__kf() {
	while IFS= read -r __n && [ "$__n" -gt 0 ]; do
		head -c "$__n" >"$__kd/i" && cat "$__kd/i" 2>/dev/null
	done
}
__kw() {
	printf '%%s p %%s\n' "$__km" "$1"
	wait "$1"
	__r=$?
	set -- $(stat -c %%s "$__kd/o" "$__kd/e" 2>/dev/null)
	if [ $# -eq 2 ]; then
		printf '%%s r %%s %%s %%s\n' "$__km" "$__r" "$1" "$2"
		cat "$__kd/o" "$__kd/e"
	else
		printf '%%s r %%s -1 -1\n' "$__km" "$__r"
	fi
	printf '%%s e\n' "$__km"
	rm -f "$__kd/o" "$__kd/e"
}
printf '%%s ready\n' "$__km"
`

const (
	// shellStartTimeout bounds the wait for a new shell's "ready" (sudo included).
	shellStartTimeout = 30 * time.Second
	// stdinChunk is the most command input sent in one frame.
	stdinChunk = 64 << 10
	// shellStderrKeep is how much of a shell's own stderr an error quotes.
	shellStderrKeep = 2 << 10
)

// errNoShell means a persistent shell could not be started for a reason other
// than a lost connection (sudo refused, no setsid on the host): the command is
// then run in a session of its own, which reports such failures as before.
var errNoShell = errors.New("no persistent shell")

// shell is one persistent shell; it runs one command at a time.
type shell struct {
	user   string // "" = the login user
	sess   *ssh.Session
	in     io.WriteCloser
	out    *bufio.Reader
	stderr *tailWriter
	marker string
	dead   chan struct{} // closed when the session has ended
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

// shellPool holds a host's idle persistent shells by user.
type shellPool struct {
	max   int // live shells per connection; each holds a session slot
	mu    sync.Mutex
	idle  map[string][]*shell
	live  int
	freed chan struct{} // closed (and replaced) when a shell is returned or dropped
}

func newShellPool(max int) *shellPool {
	return &shellPool{max: max, idle: map[string][]*shell{}, freed: make(chan struct{})}
}

// signal wakes the waiters of take; the caller holds mu.
func (p *shellPool) signal() {
	close(p.freed)
	p.freed = make(chan struct{})
}

// take returns an idle shell of user's, or starts one when fewer than max are
// live (closing another user's idle shell if that is what it takes), or waits.
func (c *sshConn) takeShell(ctx context.Context, user string) (*shell, error) {
	p := c.shells
	for {
		if !c.alive() {
			return nil, c.lost(errors.New("closed"))
		}
		p.mu.Lock()
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
		if p.live < p.max {
			p.live++
			p.mu.Unlock()
			s, err := c.startShell(ctx, user)
			if err != nil {
				p.mu.Lock()
				p.live--
				p.signal()
				p.mu.Unlock()
			}
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
func (c *sshConn) startShell(ctx context.Context, user string) (*shell, error) {
	select {
	case c.sessions <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("run command on %s: %w", c.host, ctx.Err())
	case <-c.closed:
		return nil, c.lost(errors.New("closed"))
	}
	s, err := c.openShell(ctx, user)
	if err != nil {
		<-c.sessions
	}
	return s, err
}

func (c *sshConn) openShell(ctx context.Context, user string) (*shell, error) {
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
	sh := &shell{user: user, sess: sess, stderr: &tailWriter{max: shellStderrKeep},
		marker: "__koala_" + hex.EncodeToString(nonce), dead: make(chan struct{})}
	in, err1 := sess.StdinPipe()
	out, err2 := sess.StdoutPipe()
	if err := errors.Join(err1, err2); err != nil {
		sess.Close()
		return nil, fmt.Errorf("open session on %s: %w", c.host, err)
	}
	sh.in, sh.out, sess.Stderr = in, bufio.NewReaderSize(out, 64<<10), sh.stderr
	cmd := "exec /bin/sh"
	if user != "" {
		cmd = "exec sudo -H -n -u " + Quote(user) + " -- /bin/sh"
	}
	if err := sess.Start(cmd); err != nil {
		sess.Close()
		if c.gone() {
			return nil, c.lost(err)
		}
		return nil, fmt.Errorf("start shell on %s: %w", c.host, err)
	}
	go func() { sess.Wait(); close(sh.dead) }()
	ready := make(chan error, 1)
	go func() {
		if _, err := io.WriteString(in, fmt.Sprintf(shellInit, sh.marker)); err != nil {
			ready <- err
			return
		}
		line, err := sh.out.ReadString('\n')
		if err == nil && line != sh.marker+" ready\n" {
			err = fmt.Errorf("unexpected output %q", line)
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
		return nil, fmt.Errorf("%w on %s as %s: %v%s", errNoShell, c.host, userName(user), err, sh.stderr.quote())
	}
	return sh, nil
}

func userName(user string) string {
	if user == "" {
		return "the login user"
	}
	return user
}

// execShell runs cmd in a persistent shell of user's ("" = the login user).
func (c *sshConn) execShell(ctx context.Context, user string, cmd Command) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("run command on %s: %w", c.host, err)
	}
	if strings.IndexByte(cmd.Cmd, 0) >= 0 {
		return Result{}, fmt.Errorf("run command on %s: the command line contains a NUL byte", c.host)
	}
	req, err := shellRequest(cmd)
	if err != nil {
		return Result{}, fmt.Errorf("run command on %s: %w", c.host, err)
	}
	s, err := c.takeShell(ctx, user)
	if err != nil {
		return Result{}, err
	}
	pid := make(chan int, 1)
	done := make(chan shellReply, 1)
	go func() { done <- s.run(req, cmd.Stdin, pid) }()
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
		return Result{}, fmt.Errorf("run command on %s as %s: persistent shell failed: %w%s", c.host, userName(user), r.err, s.stderr.quote())
	case <-ctx.Done():
		c.kill(user, pid)
		c.dropShell(s)
		return Result{}, fmt.Errorf("run command on %s: %w", c.host, ctx.Err())
	}
}

// shellRequest is cmd's request line (see shellInit).
func shellRequest(cmd Command) (string, error) {
	var b strings.Builder
	if cmd.Stdin != nil {
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
	if cmd.Stdin == nil {
		b.WriteString(" </dev/null")
	}
	b.WriteString(` >"$__kd/o" 2>"$__kd/e" 3<&- & __kw $!` + "\n")
	return b.String(), nil
}

type shellReply struct {
	res      Result
	err      error // the shell's stream is broken or in doubt
	stdinErr error // reading Command.Stdin failed; the command still ran
}

// run sends one request and reads its frames; the command's pid goes to pid as
// soon as it is known.
func (s *shell) run(req string, stdin io.Reader, pid chan<- int) (r shellReply) {
	if _, err := io.WriteString(s.in, req); err != nil {
		r.err = fmt.Errorf("send command: %w", err)
		return r
	}
	f, err := s.frame("p", 1)
	if err != nil {
		r.err = err
		return r
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		r.err = fmt.Errorf("bad pid frame %q", f)
		return r
	}
	pid <- n
	sent := make(chan error, 1)
	if stdin != nil {
		go func() { sent <- s.feed(stdin) }()
	} else {
		sent <- nil
	}
	f, err = s.frame("r", 3)
	if err != nil {
		r.err = err
		return r
	}
	var nums [3]int
	for i := range nums {
		if nums[i], err = strconv.Atoi(f[i]); err != nil {
			r.err = fmt.Errorf("bad result frame %q", f)
			return r
		}
	}
	// The "r" frame comes after the command and the feeder have ended.
	if ferr := <-sent; ferr != nil {
		if errors.Is(ferr, errSendStdin) {
			r.err = ferr
			return r
		}
		r.stdinErr = ferr
	}
	r.res.RC = nums[0]
	if nums[1] < 0 {
		if _, err := s.frame("e", 0); err != nil {
			r.err = err
			return r
		}
		r.err = errors.New("the command's output files vanished from the shell's temporary directory")
		return r
	}
	r.res.Stdout = make([]byte, nums[1])
	r.res.Stderr = make([]byte, nums[2])
	if _, err := io.ReadFull(s.out, r.res.Stdout); err != nil {
		r.err = fmt.Errorf("read stdout: %w", err)
		return r
	}
	if _, err := io.ReadFull(s.out, r.res.Stderr); err != nil {
		r.err = fmt.Errorf("read stderr: %w", err)
		return r
	}
	if _, err := s.frame("e", 0); err != nil {
		r.err = fmt.Errorf("%w (the output changed while it was read: a background process still writing?)", err)
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

// frame reads one frame line of kind and returns its n fields after the kind.
func (s *shell) frame(kind string, n int) ([]string, error) {
	line, err := s.out.ReadString('\n')
	if err != nil {
		if err == io.EOF {
			return nil, errors.New("the shell exited")
		}
		return nil, err
	}
	f := strings.Fields(line)
	if len(f) != n+2 || f[0] != s.marker || f[1] != kind {
		return nil, fmt.Errorf("unexpected output %q where a %q frame was due", truncate(line, 80), kind)
	}
	return f[2:], nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// kill sends SIGTERM to a cancelled command's process group from a session of
// its own, as user (through sudo) when the shell runs as another user. It is
// best effort: the host may be gone, which is why ctx ended.
func (c *sshConn) kill(user string, pidc <-chan int) {
	ctx, cancel := context.WithTimeout(context.Background(), killTimeout)
	defer cancel()
	var pid int
	select {
	case pid = <-pidc:
	case <-ctx.Done():
		return // never started, or the shell is stuck: dropping it ends it
	}
	cmd := "kill -15 -" + strconv.Itoa(pid) + " 2>/dev/null"
	if user != "" {
		cmd = "sudo -n -u " + Quote(user) + " -- /bin/sh -c " + Quote(cmd)
	}
	k, err := c.client.NewSession()
	if err != nil {
		return
	}
	defer k.Close()
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

// tailWriter keeps the last max bytes written to it.
type tailWriter struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if len(w.buf) > w.max {
		w.buf = w.buf[len(w.buf)-w.max:]
	}
	return len(p), nil
}

// quote is ": <stderr>" or "" when there was none.
func (w *tailWriter) quote() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s := strings.TrimSpace(string(w.buf)); s != "" {
		return ": " + s
	}
	return ""
}
