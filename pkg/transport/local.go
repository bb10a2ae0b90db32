package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// localWaitDelay bounds how long Exec waits, once ctx is done, for the command to
// exit after SIGTERM, and for output pipes held open by background grandchildren.
const localWaitDelay = 5 * time.Second

// Local is the transport for ansible_connection=local: commands run on this
// machine as this process's user, with the same semantics as over SSH.
func Local(host string) Conn { return &localConn{host: host} }

type localConn struct{ host string }

func (l *localConn) Host() string { return l.host }
func (l *localConn) Close() error { return nil }

func (l *localConn) Exec(ctx context.Context, cmd Command) (Result, error) {
	c := exec.CommandContext(ctx, "/bin/sh", "-c", cmd.Cmd)
	if len(cmd.Env) > 0 {
		// The child's environment is private to it (and root): no need for the
		// stdin detour the SSH transport takes. withEnv validates the names.
		if _, _, err := withEnv("", cmd.Env); err != nil {
			return Result{}, fmt.Errorf("run command on %s (local): %w", l.host, err)
		}
		c.Env = os.Environ()
		for k, v := range cmd.Env {
			c.Env = append(c.Env, k+"="+v)
		}
	}
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	// os/exec would wait for its stdin goroutine even after a cancel, and a
	// Read that blocks cannot be interrupted: copy stdin through our own pipe.
	var stdinW *os.File
	if f, ok := cmd.Stdin.(*os.File); ok {
		c.Stdin = f
	} else if cmd.Stdin != nil {
		r, w, err := os.Pipe()
		if err != nil {
			return Result{}, fmt.Errorf("run command on %s (local): %w", l.host, err)
		}
		defer r.Close()
		c.Stdin, stdinW = r, w
	}
	// Its own process group, so cancelling reaches the command's children too;
	// whatever ignores SIGTERM is killed after localWaitDelay.
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGTERM) }
	c.WaitDelay = localWaitDelay
	if err := c.Start(); err != nil {
		if stdinW != nil {
			stdinW.Close()
		}
		return Result{}, fmt.Errorf("run command on %s (local): %w", l.host, err)
	}
	if stdinW != nil {
		go func() {
			io.Copy(stdinW, cmd.Stdin)
			stdinW.Close()
		}()
	}
	err := c.Wait()
	if ctx.Err() != nil {
		return Result{}, fmt.Errorf("run command on %s (local): %w", l.host, ctx.Err())
	}
	res := Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		ws := exitErr.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			res.RC = 128 + int(ws.Signal())
		} else {
			res.RC = ws.ExitStatus()
		}
	default:
		return res, fmt.Errorf("run command on %s (local): %w", l.host, err)
	}
	return res, nil
}

func (l *localConn) Upload(ctx context.Context, src io.Reader, dst string, opts UploadOptions) error {
	return upload(ctx, l, src, dst, opts)
}

func (l *localConn) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if network != "tcp" && network != "unix" {
		return nil, fmt.Errorf("dial %s %s on %s (local): network must be tcp or unix", network, addr, l.host)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s %s on %s (local): %w", network, addr, l.host, err)
	}
	return conn, nil
}
