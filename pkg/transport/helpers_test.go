package transport

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/koala-stack/koala/internal/sshtest"
)

// testTimeout bounds every wait in these tests; none asserts on time.
const testTimeout = 60 * time.Second

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

func spec(h sshtest.Host) HostSpec {
	return HostSpec{Name: h.Name, Address: h.Addr, Port: h.Port, User: h.User, KeyFiles: []string{h.KeyFile}}
}

// newPool is a pool with its own known_hosts (accept-new) and no ~/.ssh/config.
func newPool(t *testing.T, opts PoolOptions) *Pool {
	dir := t.TempDir()
	if opts.KnownHostsFile == "" {
		opts.KnownHostsFile = filepath.Join(dir, "known_hosts")
	}
	if opts.SSHConfigFile == "" {
		opts.SSHConfigFile = filepath.Join(dir, "ssh_config")
		os.WriteFile(opts.SSHConfigFile, nil, 0o600)
	}
	if opts.AgentSocket == "" {
		opts.AgentSocket = filepath.Join(dir, "no-agent")
	}
	p := NewPool(opts)
	t.Cleanup(func() { p.Close() })
	return p
}

// connect starts a one-host fleet and returns its connection.
func connect(t *testing.T) (*sshtest.Fleet, Conn) {
	f := sshtest.Start(t, 1)
	c, err := newPool(t, PoolOptions{}).Get(testCtx(t), spec(f.Hosts[0]))
	if err != nil {
		t.Fatal(err)
	}
	return f, c
}

func mustExec(t *testing.T, c Conn, cmd string) string {
	t.Helper()
	res, err := c.Exec(testCtx(t), Command{Cmd: cmd})
	if err != nil {
		t.Fatalf("%s: %q: %v", c.Host(), cmd, err)
	}
	if res.RC != 0 {
		t.Fatalf("%s: %q: rc %d: %s", c.Host(), cmd, res.RC, res.Stderr)
	}
	return strings.TrimSpace(string(res.Stdout))
}

// procsWith lists the pids whose command line contains s.
func procsWith(s string) []string {
	var pids []string
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		b, err := os.ReadFile(d + "/cmdline")
		if err == nil && strings.Contains(strings.ReplaceAll(string(b), "\x00", " "), s) {
			pids = append(pids, filepath.Base(d))
		}
	}
	return pids
}

// waitFor polls cond until it holds or testTimeout passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var sleeps atomic.Int64

// uniqueSleep is a long sleep command no other test (or run) has on its
// command line, so /proc can tell whether it is running.
func uniqueSleep() string {
	return fmt.Sprintf("sleep %d%04d", os.Getpid(), sleeps.Add(1))
}
