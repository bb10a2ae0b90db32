package modules

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

func TestLineEdit(t *testing.T) {
	re := regexp.MustCompile
	for _, c := range []struct {
		name     string
		in       string
		e        lineEdit
		out, msg string
	}{
		{"append", "a\nb\n", lineEdit{line: "c", present: true}, "a\nb\nc\n", "line added"},
		{"append after missing EOL", "a", lineEdit{line: "c", present: true}, "a\nc\n", "line added"},
		{"already there", "a\nc\nb\n", lineEdit{line: "c", present: true}, "a\nc\nb\n", ""},
		{"replace last match", "x=1\ny=2\nx=3\n", lineEdit{regexp: re(`^x=`), line: "x=9", present: true}, "x=1\ny=2\nx=9\n", "line replaced"},
		{"replace first match", "x=1\ny=2\nx=3\n", lineEdit{regexp: re(`^x=`), line: "x=9", present: true, firstMatch: true}, "x=9\ny=2\nx=3\n", "line replaced"},
		{"regexp matches, same line", "x=9\n", lineEdit{regexp: re(`^x=`), line: "x=9", present: true}, "x=9\n", ""},
		{"no match, insertafter", "[a]\nk=1\n[b]\n", lineEdit{regexp: re(`^z=`), line: "z=1", present: true, insertAfter: `^\[a\]`}, "[a]\nz=1\nk=1\n[b]\n", "line added"},
		{"insertafter idempotent", "[a]\nz=1\nk=1\n", lineEdit{regexp: re(`^z=`), line: "z=1", present: true, insertAfter: `^\[a\]`}, "[a]\nz=1\nk=1\n", ""},
		{"insertbefore", "a\nb\n", lineEdit{line: "x", present: true, insertBefore: `^b`}, "a\nx\nb\n", "line added"},
		{"insertbefore BOF", "a\n", lineEdit{line: "x", present: true, insertBefore: "BOF"}, "x\na\n", "line added"},
		{"insertafter no match appends", "a\n", lineEdit{line: "x", present: true, insertAfter: `^nope`}, "a\nx\n", "line added"},
		{"insertafter last line", "a\nb", lineEdit{line: "x", present: true, insertAfter: `^b`}, "a\nb\nx\n", "line added"},
		{"backrefs", "port = 80\n", lineEdit{regexp: re(`^port = (\d+)$`), line: `listen \1 $x`, present: true, backrefs: true}, "listen 80 $x\n", "line replaced"},
		{"backrefs no match", "a\n", lineEdit{regexp: re(`^port = (\d+)$`), line: `listen \1`, present: true, backrefs: true}, "a\n", ""},
		{"search_string", "foo bar\nbaz\n", lineEdit{search: "bar", hasSearch: true, line: "new", present: true}, "new\nbaz\n", "line replaced"},
		{"absent by regexp", "a\n#x\nb\n#y\n", lineEdit{regexp: re(`^#`)}, "a\nb\n", "2 line(s) removed"},
		{"absent by line", "a\nb\n", lineEdit{line: "b"}, "a\n", "1 line(s) removed"},
		{"absent nothing", "a\n", lineEdit{line: "b"}, "a\n", ""},
		{"empty file", "", lineEdit{line: "a", present: true}, "a\n", "line added"},
	} {
		out, msg, err := c.e.apply([]byte(c.in))
		if err != nil || string(out) != c.out || msg != c.msg {
			t.Errorf("%s: got %q %q %v, want %q %q", c.name, out, msg, err, c.out, c.msg)
		}
	}
}

func TestPythonTemplate(t *testing.T) {
	for in, want := range map[string]string{`\1-\g<2>-\g<name>`: "${1}-${2}-${name}", `$5 \\`: `$$5 \`} {
		if got := pythonTemplate(in); got != want {
			t.Errorf("pythonTemplate(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLineinfileAndStat(t *testing.T) {
	t.Parallel()
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			dir := tg.dir(t)
			c := tg.conn
			p := filepath.Join(dir, "etc", "hosts")
			a := map[string]any{"path": p, "line": "127.0.0.1 koala", "regexp": `koala$`}
			r := run(t, c, "lineinfile", a)
			if !r.Failed || !strings.Contains(r.Msg, p) || !strings.Contains(r.Msg, c.Host()) {
				t.Fatalf("missing file without create: %+v", r)
			}
			a["create"] = true
			mustChanged(t, run(t, c, "lineinfile", a, check), true)
			if _, err := os.Stat(p); err == nil {
				t.Fatal("check mode created the file")
			}
			mustChanged(t, run(t, c, "lineinfile", a), true)
			os.WriteFile(p, []byte("# hosts\n10.0.0.1 koala\n"), 0o644)
			if tg.name == "ssh" {
				os.Chown(p, ownerUID(t, dir), -1)
			}
			r = run(t, c, "lineinfile", a, diff)
			mustChanged(t, r, true)
			if r.Msg != "line replaced" || len(r.Diff) != 1 || r.Diff[0].Before != "# hosts\n10.0.0.1 koala\n" || r.Diff[0].After != "# hosts\n127.0.0.1 koala\n" {
				t.Errorf("replace: %q %+v", r.Msg, r.Diff)
			}
			mustChanged(t, run(t, c, "lineinfile", a), false)
			r = run(t, c, "lineinfile", map[string]any{"path": p, "regexp": "^#", "state": "absent"})
			mustChanged(t, r, true)
			if got := readFile(t, p); got != "127.0.0.1 koala\n" {
				t.Errorf("absent: %q", got)
			}

			r = run(t, c, "stat", map[string]any{"path": p, "checksum_algorithm": "sha256"})
			st := r.Data["stat"].(map[string]any)
			if st["exists"] != true || st["isreg"] != true || st["isdir"] != false || st["mode"] != "0644" ||
				st["size"] != int64(16) || st["checksum"] != fmt.Sprintf("%x", sha256.Sum256([]byte("127.0.0.1 koala\n"))) {
				t.Errorf("stat: %v", st)
			}
			if st["readable"] != true || st["pw_name"] == "" {
				t.Errorf("stat: %v", st)
			}
			r = run(t, c, "stat", map[string]any{"path": filepath.Join(dir, "etc")})
			st = r.Data["stat"].(map[string]any)
			if st["isdir"] != true || st["checksum"] != nil {
				t.Errorf("stat dir: %v", st)
			}
			os.Symlink(p, filepath.Join(dir, "l"))
			st = run(t, c, "stat", map[string]any{"path": filepath.Join(dir, "l")}).Data["stat"].(map[string]any)
			if st["islnk"] != true || st["lnk_target"] != p {
				t.Errorf("stat link: %v", st)
			}
			st = run(t, c, "stat", map[string]any{"path": filepath.Join(dir, "nope")}).Data["stat"].(map[string]any)
			if st["exists"] != false || len(st) != 1 {
				t.Errorf("stat absent: %v", st)
			}
		})
	}
}

func ownerUID(t *testing.T, p string) int {
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return int(st.Sys().(*syscall.Stat_t).Uid)
}
