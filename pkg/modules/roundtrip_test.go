package modules

import (
	"context"
	"io"
	"os"
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

// The items of a copy, template or file loop are inspected in one round trip
// at the first item; each item still applies in order, and an item whose path
// an earlier item changed is inspected again.
func TestLoopRoundTrips(t *testing.T) {
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			dir := tg.dir(t)
			c := &countingConn{Conn: tg.conn}
			// loop runs module over items as the engine runs a loop on one
			// host: every item's Task shares one Loop.
			loop := func(module string, items []map[string]any) []Result {
				t.Helper()
				c.execs.Store(0)
				c.uploads.Store(0)
				l := &Loop{Args: func() []map[string]any { return items }}
				var rs []Result
				for _, a := range items {
					rs = append(rs, run(t, c, module, a, func(task *Task) { task.Loop = l }))
				}
				return rs
			}
			want := func(what string, rs []Result, changed []bool, execs, uploads int32) {
				t.Helper()
				for i, r := range rs {
					if r.Failed || r.Changed != changed[i] {
						t.Errorf("%s: item %d: changed %v failed %v (%s), want changed %v", what, i, r.Changed, r.Failed, r.Msg, changed[i])
					}
				}
				if e, u := c.execs.Load(), c.uploads.Load(); e != execs || u != uploads {
					t.Errorf("%s: %d execs and %d uploads, want %d and %d", what, e, u, execs, uploads)
				}
			}
			var dirs, files []map[string]any
			for _, n := range []string{"a", "b", "c"} {
				dirs = append(dirs, map[string]any{"path": filepath.Join(dir, n), "state": "directory", "mode": "0750"})
				files = append(files, map[string]any{"content": n + "\n", "dest": filepath.Join(dir, n, "conf"), "mode": "0640"})
			}
			yes, no := []bool{true, true, true}, []bool{false, false, false}
			want("dirs, first", loop("file", dirs), yes, 1+3, 0)
			want("dirs, again", loop("file", dirs), no, 1, 0)
			want("files, first", loop("copy", files), yes, 1, 3)
			want("files, again", loop("copy", files), no, 1, 0)
			if got := readFile(t, filepath.Join(dir, "b", "conf")); got != "b\n" {
				t.Errorf("b/conf: %q", got)
			}
			// The same dest twice: the second item sees the first one's write.
			same := []map[string]any{
				{"content": "one\n", "dest": filepath.Join(dir, "a", "conf")},
				{"content": "a\n", "dest": filepath.Join(dir, "a", "conf")},
			}
			want("same dest", loop("copy", same), []bool{true, true}, 1+1, 2)
			if got := readFile(t, filepath.Join(dir, "a", "conf")); got != "a\n" {
				t.Errorf("a/conf after the same-dest loop: %q", got)
			}
			// A removed directory: the item under it, which its inspection
			// ahead found as wanted, is inspected again and made again.
			sub := filepath.Join(dir, "c", "sub")
			loop("file", []map[string]any{{"path": sub, "state": "directory"}})
			again := []map[string]any{
				{"path": filepath.Join(dir, "c"), "state": "absent"},
				{"path": sub, "state": "directory"},
			}
			want("under a removed dir", loop("file", again), []bool{true, true}, 1+1+1, 0)
			if st, err := os.Stat(sub); err != nil || !st.IsDir() {
				t.Errorf("%s after the loop: %v", sub, err)
			}
		})
	}
}
