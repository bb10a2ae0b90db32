package transport

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func localTestConn(t *testing.T) Conn {
	c, err := newPool(t, PoolOptions{}).Get(testCtx(t), SpecFromVars("localhost", map[string]any{"ansible_connection": "local"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Host() != "localhost" {
		t.Errorf("Host() = %q", c.Host())
	}
	return c
}

func TestLocalExec(t *testing.T) {
	c := localTestConn(t)
	res, err := c.Exec(testCtx(t), Command{Cmd: "echo out; echo err >&2; cat; exit 4", Stdin: strings.NewReader("in\n")})
	if err != nil || res.RC != 4 || string(res.Stdout) != "out\nin\n" || string(res.Stderr) != "err\n" {
		t.Errorf("got rc %d stdout %q stderr %q err %v", res.RC, res.Stdout, res.Stderr, err)
	}
	res, err = c.Exec(testCtx(t), Command{Cmd: "kill -9 $$"})
	if err != nil || res.RC != 137 {
		t.Errorf("killed by SIGKILL: rc %d err %v, want 137", res.RC, err)
	}
	secret := "local-s3cr3t it's"
	res, err = c.Exec(testCtx(t), Command{Cmd: `printf %s "$K"`, Env: map[string]string{"K": secret}})
	if err != nil || string(res.Stdout) != secret {
		t.Errorf("env: %q %v", res.Stdout, err)
	}
	if _, err := c.Exec(testCtx(t), Command{Cmd: "true", Env: map[string]string{"1X": ""}}); err == nil {
		t.Error("invalid variable name accepted")
	}
}

func TestLocalCancelKillsChildren(t *testing.T) {
	c := localTestConn(t)
	sleep := uniqueSleep()
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan error, 1)
	go func() {
		_, err := c.Exec(ctx, Command{Cmd: sleep + "; echo never", Env: map[string]string{"K": "local-s3cr3t"}})
		done <- err
	}()
	waitFor(t, sleep, func() bool { return len(procsWith(sleep)) > 0 })
	if pids := procsWith("local-s3cr3t"); len(pids) > 0 {
		t.Errorf("secret in the arguments of %v", pids)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Exec returned %v", err)
	}
	waitFor(t, sleep+" to be killed", func() bool { return len(procsWith(sleep)) == 0 })
}

func TestLocalUpload(t *testing.T) {
	c := localTestConn(t)
	testUpload(t, c, t.TempDir(), "root", "root")
	// Become works over the local transport too.
	// t.TempDir's parent is private to root: nobody needs a directory of its own.
	dir, err := os.MkdirTemp("", "koala-local-upload-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o777)
	nobody := Become(c, "nobody")
	testUpload(t, nobody, dir, "nobody", "nogroup")
}

func TestLocalDial(t *testing.T) {
	c := localTestConn(t)
	ctx := testCtx(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go serveUpper(l)
	checkEcho(t, ctx, c, "tcp", l.Addr().String())
	sock := filepath.Join(t.TempDir(), "s.sock")
	ul, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ul.Close()
	go serveUpper(ul)
	checkEcho(t, ctx, c, "unix", sock)
	if _, err := c.Dial(ctx, "udp", "127.0.0.1:1"); err == nil {
		t.Error("udp accepted")
	}
}

// A become password (-K reaches the deploy host too) does not stop local
// commands whose sudo asks none: it is not used there.
func TestLocalBecomePasswordUnused(t *testing.T) {
	c := localTestConn(t)
	if got := mustExec(t, BecomeWithPassword(c, "nobody", "unused-password"), "id -un"); got != "nobody" {
		t.Errorf("become nobody locally with a password given: %q", got)
	}
}
