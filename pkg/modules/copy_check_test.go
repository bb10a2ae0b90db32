package modules

import (
	"os"
	"path/filepath"
	"testing"
)

// In check mode, a file whose directory an earlier task would have made
// (CheckPending) would be created; without that, the missing directory is
// the failure it is in a real run. Nothing is written either way.
func TestCopyCheckModeIntoAPendingDirectory(t *testing.T) {
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			dir := filepath.Join(tg.dir(t), "newdir")
			dest := filepath.Join(dir, "a.conf")
			a := map[string]any{"dest": dest, "content": "x\n", "mode": "0660"}
			r := run(t, tg.conn, "copy", a, check)
			if !r.Failed {
				t.Fatalf("no pending directory: %+v", r)
			}
			pending := func(tk *Task) { tk.CheckPending = []string{dir} }
			r = run(t, tg.conn, "copy", a, check, diff, pending)
			if r.Failed || !r.Changed || len(r.Diff) != 1 {
				t.Fatalf("pending directory: %+v", r)
			}
			if _, err := os.Stat(dir); err == nil {
				t.Fatal("check mode made the directory")
			}
		})
	}
}
