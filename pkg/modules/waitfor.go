package modules

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/koala-stack/koala/pkg/transport"
)

type waitForModule struct{}
type waitForConnectionModule struct{}

func init() {
	Register(waitForModule{}, "wait_for")
	Register(waitForConnectionModule{}, "wait_for_connection")
}

func (waitForModule) Args() (accepted, required []string) {
	return []string{"host", "port", "path", "state", "search_regex", "timeout", "delay", "sleep", "connect_timeout", "msg"}, nil
}

func (waitForConnectionModule) Args() (accepted, required []string) {
	return []string{"timeout", "delay", "sleep", "connect_timeout"}, nil
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func seconds(n int) time.Duration { return time.Duration(n) * time.Second }

// Run waits from the host's point of view: a port is dialled through the
// host's connection (so "127.0.0.1" is the host's loopback), a path is polled
// by one script running on the host.
func (waitForModule) Run(ctx context.Context, t *Task) (Result, error) {
	a := newArgs(t.Args)
	host := a.str("127.0.0.1", "host")
	port := 0
	if a.has("port") {
		port = a.integer(0, "port")
		if port < 1 || port > 65535 {
			a.bad("port %d is not a TCP port", port)
		}
	}
	path := a.str("", "path")
	state := a.choice("started", "state", "started", "stopped", "present", "absent")
	search := a.str("", "search_regex")
	timeout := a.integer(300, "timeout")
	delay := a.integer(0, "delay")
	sleep := a.integer(1, "sleep")
	connectTimeout := a.integer(5, "connect_timeout")
	msg := a.str("", "msg")
	var re *regexp.Regexp
	if search != "" {
		var err error
		if re, err = compilePython(search); err != nil {
			a.bad("search_regex: %v", err)
		}
	}
	if port != 0 && path != "" {
		a.bad("give port or path, not both")
	}
	if sleep < 1 {
		sleep = 1
	}
	if err := a.err("wait_for"); err != nil {
		return Result{}, err
	}
	start := time.Now()
	if err := sleepCtx(ctx, seconds(delay)); err != nil {
		return Result{}, err
	}
	data := map[string]any{"state": state}
	done := func(ok bool, what string) (Result, error) {
		data["elapsed"] = int(time.Since(start).Seconds())
		if ok {
			return Result{Data: data}, nil
		}
		if msg == "" {
			msg = "Timeout when waiting for " + what
		}
		return Result{Failed: true, Data: data, Msg: fmt.Sprintf("host %s: %s", t.Host, msg)}, nil
	}
	switch {
	case path != "":
		data["path"] = path
		if search != "" {
			data["search_regex"] = search
		}
		ok, err := t.waitPath(ctx, path, search, state, timeout, sleep)
		if err != nil {
			return Result{}, err
		}
		return done(ok, "file "+path)
	case port != 0:
		data["port"] = port
		addr := net.JoinHostPort(host, strconv.Itoa(port))
		deadline := start.Add(seconds(delay + timeout))
		for {
			ok := probePort(ctx, t.Conn, addr, seconds(connectTimeout), re, deadline)
			if ok == (state == "started" || state == "present") {
				return done(true, addr)
			}
			if time.Now().Add(seconds(sleep)).After(deadline) {
				return done(false, addr)
			}
			if err := sleepCtx(ctx, seconds(sleep)); err != nil {
				return Result{}, err
			}
		}
	default:
		if err := sleepCtx(ctx, seconds(timeout)); err != nil {
			return Result{}, err
		}
		return done(true, "")
	}
}

// probePort dials addr from the host and, with re, reads what the server
// sends until re matches or the connection ends.
func probePort(ctx context.Context, c transport.Conn, addr string, connectTimeout time.Duration, re *regexp.Regexp, deadline time.Time) bool {
	dctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	conn, err := c.Dial(dctx, "tcp", addr)
	if err != nil {
		return false
	}
	defer conn.Close()
	if re == nil {
		return true
	}
	conn.SetReadDeadline(deadline)
	var seen strings.Builder
	r := bufio.NewReader(conn)
	buf := make([]byte, 4096)
	for seen.Len() < 1<<20 {
		n, err := r.Read(buf)
		seen.Write(buf[:n])
		if re.MatchString(seen.String()) {
			return true
		}
		if err != nil {
			return false
		}
	}
	return false
}

// waitPath polls path on the host with one long-running script.
func (t *Task) waitPath(ctx context.Context, path, search, state string, timeout, sleep int) (bool, error) {
	test := `[ -e "$p" ] && { [ -z "$re" ] || grep -Eq -- "$re" "$p"; }`
	if state == "absent" || state == "stopped" {
		test = `[ ! -e "$p" ]`
	}
	script := fmt.Sprintf(`p=%s re=%s end=$(( $(date +%%s) + %d ))
while :; do
  if %s; then echo ok; exit 0; fi
  [ $(date +%%s) -ge $end ] && exit 0
  sleep %d
done
`, quote(path), quote(search), timeout, test, sleep)
	// The script ends itself at the timeout; the context only guards
	// against a host that stops answering.
	ctx, cancel := context.WithTimeout(ctx, seconds(timeout+30))
	defer cancel()
	res, err := t.mustExec(ctx, "wait for "+path, script)
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(string(res.Stdout)) == "ok", nil
}

func (waitForConnectionModule) Run(ctx context.Context, t *Task) (Result, error) {
	a := newArgs(t.Args)
	timeout := a.integer(600, "timeout")
	delay := a.integer(0, "delay")
	sleep := a.integer(1, "sleep")
	connectTimeout := a.integer(5, "connect_timeout")
	if err := a.err("wait_for_connection"); err != nil {
		return Result{}, err
	}
	start := time.Now()
	if err := sleepCtx(ctx, seconds(delay)); err != nil {
		return Result{}, err
	}
	deadline := start.Add(seconds(delay + timeout))
	var lastErr error
	for {
		actx, cancel := context.WithTimeout(ctx, seconds(connectTimeout))
		var res transport.Result
		res, lastErr = t.Conn.Exec(actx, transport.Command{Cmd: "true"})
		cancel()
		if lastErr == nil && res.RC == 0 {
			return Result{Data: map[string]any{"elapsed": int(time.Since(start).Seconds())}}, nil
		}
		if lastErr == nil {
			lastErr = fmt.Errorf("`true` exited %d", res.RC)
		}
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		if time.Now().Add(seconds(sleep)).After(deadline) {
			return failed("host %s: timed out waiting for connection after %ds: %v", t.Host, timeout, lastErr), nil
		}
		if err := sleepCtx(ctx, seconds(sleep)); err != nil {
			return Result{}, err
		}
	}
}
