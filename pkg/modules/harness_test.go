package modules

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/koala-stack/koala/internal/sshtest"
	"github.com/koala-stack/koala/pkg/transport"
)

// target is one way of reaching the test machine.
type target struct {
	name string
	conn transport.Conn
	// dir makes a scratch directory the target's user may write to.
	dir func(t *testing.T) string
}

// targets returns the ways module tests reach this machine: the local
// transport, a real sshd logging in an unprivileged user, and the same sshd
// with become (sudo to root).
func targets(t *testing.T) []target {
	t.Helper()
	c := sshConn(t)
	return []target{
		localTarget(t),
		{name: "ssh", conn: c, dir: func(t *testing.T) string { return userDir(t, sshtest.User) }},
		{name: "ssh-become", conn: transport.Become(c, ""), dir: func(t *testing.T) string { return t.TempDir() }},
	}
}

// sshConn starts one sshd test host and connects to it.
func sshConn(t *testing.T) transport.Conn {
	t.Helper()
	f := sshtest.Start(t, 1)
	h := f.Hosts[0]
	pool := transport.NewPool(transport.PoolOptions{KnownHostsFile: f.KnownHosts, HostKeyPolicy: transport.Strict})
	t.Cleanup(func() { pool.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pool.Get(ctx, transport.HostSpec{Name: h.Name, Address: h.Addr, Port: h.Port, User: h.User, KeyFiles: []string{h.KeyFile}})
	if err != nil {
		t.Fatalf("connect to %s: %v", h.Name, err)
	}
	return c
}

func localTarget(t *testing.T) target {
	return target{name: "local", conn: transport.Local("local"), dir: func(t *testing.T) string { return t.TempDir() }}
}

// userDir is a temp dir owned by user, for targets that log in unprivileged.
func userDir(t *testing.T, user string) string {
	t.Helper()
	d := t.TempDir()
	if out, err := exec.Command("chown", user, d).CombinedOutput(); err != nil {
		t.Fatalf("chown %s %s: %v: %s", user, d, err, out)
	}
	// t.TempDir's parent is 0700 root: make the path traversable.
	os.Chmod(filepath.Dir(d), 0o755)
	return d
}

type runOpt func(*Task)

func check(t *Task) { t.Check = true }
func diff(t *Task)  { t.Diff = true }

// run runs module with args on conn and fails the test on an error.
func run(t *testing.T, conn transport.Conn, module string, a map[string]any, opts ...runOpt) Result {
	t.Helper()
	r, err := runErr(t, conn, module, a, opts...)
	if err != nil {
		t.Fatalf("%s %v: %v", module, a, err)
	}
	return r
}

func runErr(t *testing.T, conn transport.Conn, module string, a map[string]any, opts ...runOpt) (Result, error) {
	t.Helper()
	m, ok := Lookup(module)
	if !ok {
		t.Fatalf("no module %s", module)
	}
	// The playbook loader rejects unknown argument names; so does the harness.
	accepted, _ := m.Args()
	for k := range a {
		if !slices.Contains(accepted, k) {
			t.Fatalf("%s: unknown argument %q", module, k)
		}
	}
	task := &Task{
		Host: conn.Host(), Args: a, Conn: conn, Vars: map[string]any{},
		// Sources are read as the engine reads embedded roles: through ReadFile.
		ReadFile: func(kind, name string) ([]byte, string, fs.FileMode, error) {
			b, err := os.ReadFile(name)
			return b, kind + "/" + filepath.Base(name), 0, err
		},
		Render: func(name, src string) (string, error) {
			return strings.ReplaceAll(src, "{{ who }}", "world"), nil
		},
	}
	for _, o := range opts {
		o(task)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return m.Run(ctx, task)
}

// mustOK fails unless r did not fail and its changed flag is want.
func mustChanged(t *testing.T, r Result, want bool) {
	t.Helper()
	if r.Failed {
		t.Fatalf("failed: %s (%v)", r.Msg, r.Data)
	}
	if r.Changed != want {
		t.Fatalf("changed = %v, want %v (msg %q, data %v)", r.Changed, want, r.Msg, r.Data)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
