package modules

import (
	"crypto/sha1"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestCopyAndTemplate(t *testing.T) {
	t.Parallel()
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			dir := tg.dir(t)
			c := tg.conn
			dest := filepath.Join(dir, "a.conf")
			a := map[string]any{"content": "one\n", "dest": dest, "mode": "0640"}

			r := run(t, c, "copy", a, check, diff)
			mustChanged(t, r, true)
			if _, err := os.Stat(dest); err == nil {
				t.Fatal("check mode wrote the file")
			}
			if len(r.Diff) != 1 || r.Diff[0].After != "one\n" || r.Diff[0].Before != "" {
				t.Errorf("diff of a new file: %+v", r.Diff)
			}
			mustChanged(t, run(t, c, "copy", a), true)
			if got := readFile(t, dest); got != "one\n" {
				t.Fatalf("content %q", got)
			}
			if st, _ := os.Stat(dest); st.Mode().Perm() != 0o640 {
				t.Errorf("mode %v", st.Mode())
			}
			r = run(t, c, "copy", a)
			mustChanged(t, r, false)
			// copy's checksum is sha1, as in Ansible.
			if r.Data["checksum"] != sha1hex("one\n") {
				t.Errorf("checksum %v", r.Data["checksum"])
			}

			// Changed content: diff shows both sides, backup keeps the old one.
			a["content"], a["backup"] = "two\n", true
			r = run(t, c, "copy", a, diff)
			mustChanged(t, r, true)
			if r.Diff[0].Before != "one\n" || r.Diff[0].After != "two\n" {
				t.Errorf("diff %+v", r.Diff)
			}
			if b, _ := r.Data["backup_file"].(string); b == "" || readFile(t, b) != "one\n" {
				t.Errorf("backup_file %v", r.Data["backup_file"])
			}
			// Only the mode differs: one chmod, content untouched.
			a["mode"] = "0600"
			mustChanged(t, run(t, c, "copy", a), true)
			if st, _ := os.Stat(dest); st.Mode().Perm() != 0o600 {
				t.Errorf("mode %v", st.Mode())
			}

			if tg.name != "ssh" {
				// As root: a group alone changes the group and keeps the owner.
				a["group"] = "daemon"
				mustChanged(t, run(t, c, "copy", a), true)
				mustChanged(t, run(t, c, "copy", a), false)
				if st, _ := os.Stat(dest); st.Sys().(*syscall.Stat_t).Uid != 0 || st.Sys().(*syscall.Stat_t).Gid == 0 {
					t.Errorf("group only: %+v", st.Sys())
				}
				delete(a, "group")
				// Root rewriting someone else's file keeps its owner.
				os.Chown(dest, 1, -1)
				a["content"] = "three\n"
				mustChanged(t, run(t, c, "copy", a), true)
				if st, _ := os.Stat(dest); st.Sys().(*syscall.Stat_t).Uid != 1 {
					t.Errorf("owner not kept: %+v", st.Sys())
				}
			}

			// src into a directory dest appends the basename.
			src := filepath.Join(t.TempDir(), "hello.txt")
			os.WriteFile(src, []byte("hello {{ who }}\n"), 0o644)
			mustChanged(t, run(t, c, "copy", map[string]any{"src": src, "dest": dir + "/"}), true)
			if got := readFile(t, filepath.Join(dir, "hello.txt")); got != "hello {{ who }}\n" {
				t.Errorf("copy src: %q", got)
			}
			tdest := filepath.Join(dir, "rendered")
			mustChanged(t, run(t, c, "template", map[string]any{"src": src, "dest": tdest}), true)
			mustChanged(t, run(t, c, "template", map[string]any{"src": src, "dest": tdest}), false)
			if got := readFile(t, tdest); got != "hello world\n" {
				t.Errorf("template: %q", got)
			}

			// validate runs on the new content before it replaces dest.
			vdest := filepath.Join(dir, "validated")
			r = run(t, c, "copy", map[string]any{"content": "bad\n", "dest": vdest, "validate": "grep -q good %s"})
			if _, err := os.Stat(vdest); err == nil || !r.Failed || !strings.Contains(r.Msg, "validation") {
				t.Errorf("failed validation: %+v %v", r, err)
			}
			if left, _ := filepath.Glob(filepath.Join(dir, ".koala-validate-*")); len(left) > 0 {
				t.Errorf("validation left %v", left)
			}
			mustChanged(t, run(t, c, "copy", map[string]any{"content": "good\n", "dest": vdest, "validate": "grep -q good %s"}), true)
			if got := readFile(t, vdest); got != "good\n" {
				t.Errorf("validated copy: %q", got)
			}

			// remote_src copies a file that is on the host.
			rdest := filepath.Join(dir, "remote-copy")
			mustChanged(t, run(t, c, "copy", map[string]any{"src": tdest, "remote_src": true, "dest": rdest}), true)
			mustChanged(t, run(t, c, "copy", map[string]any{"src": tdest, "remote_src": true, "dest": rdest}), false)
			if got := readFile(t, rdest); got != "hello world\n" {
				t.Errorf("remote_src: %q", got)
			}

			r = run(t, c, "copy", map[string]any{"content": "x", "dest": filepath.Join(dir, "missing", "f")})
			if !r.Failed || !strings.Contains(r.Msg, c.Host()) || !strings.Contains(r.Msg, filepath.Join(dir, "missing")) {
				t.Errorf("missing parent: %+v", r)
			}
		})
	}
}

func TestFile(t *testing.T) {
	t.Parallel()
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			dir := tg.dir(t)
			c := tg.conn
			d := filepath.Join(dir, "sub", "dir")
			a := map[string]any{"path": d, "state": "directory", "mode": "0750"}
			r := run(t, c, "file", a, check, diff)
			mustChanged(t, r, true)
			if _, err := os.Stat(d); err == nil {
				t.Fatal("check mode created the directory")
			}
			if len(r.Diff) != 1 || !strings.Contains(r.Diff[0].Before, "state: absent") || !strings.Contains(r.Diff[0].After, "state: directory") {
				t.Errorf("diff %+v", r.Diff)
			}
			mustChanged(t, run(t, c, "file", a), true)
			if st, err := os.Stat(d); err != nil || !st.IsDir() || st.Mode().Perm() != 0o750 {
				t.Fatalf("directory: %v %v", st, err)
			}
			r = run(t, c, "file", a)
			mustChanged(t, r, false)
			if r.Data["mode"] != "0750" || r.Data["state"] != "directory" {
				t.Errorf("data %v", r.Data)
			}

			f := filepath.Join(d, "f")
			r = run(t, c, "file", map[string]any{"path": f, "state": "file"})
			if !r.Failed || !strings.Contains(r.Msg, f) || !strings.Contains(r.Msg, c.Host()) {
				t.Errorf("state=file on a missing file: %+v", r)
			}
			mustChanged(t, run(t, c, "file", map[string]any{"path": f, "state": "touch", "mode": "0600"}), true)
			mustChanged(t, run(t, c, "file", map[string]any{"path": f, "mode": "0600"}), false)
			mustChanged(t, run(t, c, "file", map[string]any{"path": f, "mode": "0644"}), true)

			// recurse applies the mode to the tree.
			a["mode"], a["recurse"] = "0755", true
			mustChanged(t, run(t, c, "file", a), true)
			if st, _ := os.Stat(f); st.Mode().Perm() != 0o755 {
				t.Errorf("recurse: %v", st.Mode())
			}
			mustChanged(t, run(t, c, "file", a), false)

			l := filepath.Join(dir, "link")
			la := map[string]any{"path": l, "state": "link", "src": d}
			mustChanged(t, run(t, c, "file", la), true)
			if got, _ := os.Readlink(l); got != d {
				t.Errorf("link -> %q", got)
			}
			mustChanged(t, run(t, c, "file", la), false)

			r = run(t, c, "file", map[string]any{"path": filepath.Join(dir, "sub"), "state": "absent"}, check)
			mustChanged(t, r, true)
			mustChanged(t, run(t, c, "file", map[string]any{"path": filepath.Join(dir, "sub"), "state": "absent"}), true)
			if _, err := os.Stat(d); err == nil {
				t.Error("state=absent left the tree")
			}
			mustChanged(t, run(t, c, "file", map[string]any{"path": filepath.Join(dir, "sub"), "state": "absent"}), false)

			r = run(t, c, "file", map[string]any{"path": dir, "state": "directory", "owner": "no-such-user-koala"})
			if !r.Failed || !strings.Contains(r.Msg, "no-such-user-koala") {
				t.Errorf("unknown owner: %+v", r)
			}
		})
	}
}

func sha1hex(s string) string {
	sum := sha1.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}
