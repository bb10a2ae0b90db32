package modules

import (
	"context"
	"io"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/koala-stack/koala/pkg/transport"
)

// countingConn counts the round trips a module makes.
type countingConn struct {
	transport.Conn
	execs, uploads atomic.Int32
}

func (c *countingConn) Exec(ctx context.Context, cmd transport.Command) (transport.Result, error) {
	c.execs.Add(1)
	return c.Conn.Exec(ctx, cmd)
}

func (c *countingConn) Upload(ctx context.Context, r io.Reader, dst string, o transport.UploadOptions) error {
	c.uploads.Add(1)
	return c.Conn.Upload(ctx, r, dst, o)
}

// TestRoundTrips pins the number of host round trips per call: the engine's
// speed on hundreds of hosts rests on it.
func TestRoundTrips(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := &countingConn{Conn: transport.Local("local")}
	f := filepath.Join(dir, "f")
	for _, step := range []struct {
		module         string
		args           map[string]any
		execs, uploads int32
	}{
		{"copy", map[string]any{"content": "a\n", "dest": f, "mode": "0644"}, 1, 1},
		{"copy", map[string]any{"content": "a\n", "dest": f, "mode": "0644"}, 1, 0},
		{"copy", map[string]any{"content": "a\n", "dest": f, "mode": "0600"}, 2, 0},
		{"file", map[string]any{"path": filepath.Join(dir, "d"), "state": "directory", "mode": "0755"}, 1, 0},
		{"file", map[string]any{"path": filepath.Join(dir, "d"), "state": "directory", "mode": "0755"}, 1, 0},
		{"stat", map[string]any{"path": f}, 1, 0},
		{"lineinfile", map[string]any{"path": f, "line": "b"}, 1, 1},
		{"lineinfile", map[string]any{"path": f, "line": "b"}, 1, 0},
		{"command", map[string]any{"argv": []any{"true"}, "creates": f}, 1, 0},
		{"setup", map[string]any{}, 1, 0},
		{"sysctl", map[string]any{"name": "net.ipv4.ip_forward", "value": "1", "sysctl_file": f, "reload": false}, 1, 1},
	} {
		c.execs.Store(0)
		c.uploads.Store(0)
		run(t, c, step.module, step.args)
		if e, u := c.execs.Load(), c.uploads.Load(); e != step.execs || u != step.uploads {
			t.Errorf("%s %v: %d execs and %d uploads, want %d and %d", step.module, step.args, e, u, step.execs, step.uploads)
		}
	}
}
