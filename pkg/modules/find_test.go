package modules

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
)

func TestFind(t *testing.T) {
	t.Parallel()
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			c := tg.conn
			d := tg.dir(t)
			os.MkdirAll(filepath.Join(d, "sub"), 0o755)
			for name, body := range map[string]string{"a.conf": "x=1\n", "b.conf": "y=2\n", ".h.conf": "x\n", "c.txt": "x\n", "sub/d.conf": "x=3\n"} {
				os.WriteFile(filepath.Join(d, name), []byte(body), 0o644)
			}
			paths := func(r Result) []string {
				var out []string
				for _, f := range r.Data["files"].([]any) {
					out = append(out, filepath.Base(f.(map[string]any)["path"].(string)))
				}
				sort.Strings(out)
				return out
			}
			r := run(t, c, "find", map[string]any{"paths": d, "patterns": "*.conf"})
			if got := paths(r); len(got) != 2 || got[0] != "a.conf" || got[1] != "b.conf" {
				t.Errorf("patterns: %v", got)
			}
			r = run(t, c, "find", map[string]any{"paths": []any{d, d + "/nope"}, "patterns": "*.conf", "recurse": true, "contains": "^x=", "hidden": true})
			if got := paths(r); len(got) != 2 || got[0] != "a.conf" || got[1] != "d.conf" {
				t.Errorf("recurse/contains: %v", got)
			}
			if sk := r.Data["skipped_paths"].(map[string]any); len(sk) != 1 || sk[d+"/nope"] == nil {
				t.Errorf("skipped_paths %v", sk)
			}
			r = run(t, c, "find", map[string]any{"paths": d, "file_type": "directory"})
			if got := paths(r); len(got) != 1 || got[0] != "sub" {
				t.Errorf("directories: %v", got)
			}
			if f := r.Data["files"].([]any)[0].(map[string]any); f["isdir"] != true || f["mode"] != "0755" {
				t.Errorf("entry %v", f)
			}
		})
	}
}
