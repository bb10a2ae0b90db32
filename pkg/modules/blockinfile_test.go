package modules

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBlockEdit(t *testing.T) {
	b, en := "# BEGIN X", "# END X"
	for _, c := range []struct {
		name, in string
		e        blockEdit
		out      string
	}{
		{"append", "a\n", blockEdit{begin: b, end: en, block: "x\ny", present: true}, "a\n# BEGIN X\nx\ny\n# END X\n"},
		{"append, no final newline", "a", blockEdit{begin: b, end: en, block: "x", present: true}, "a\n# BEGIN X\nx\n# END X\n"},
		{"replace in place", "a\n# BEGIN X\nold\n# END X\nz\n", blockEdit{begin: b, end: en, block: "new", present: true}, "a\n# BEGIN X\nnew\n# END X\nz\n"},
		{"unchanged", "# BEGIN X\nx\n# END X\n", blockEdit{begin: b, end: en, block: "x\n", present: true}, "# BEGIN X\nx\n# END X\n"},
		{"remove", "a\n# BEGIN X\nold\n# END X\nz\n", blockEdit{begin: b, end: en}, "a\nz\n"},
		{"remove absent", "a", blockEdit{begin: b, end: en}, "a"},
		{"insertafter", "a\nb\nc\n", blockEdit{begin: b, end: en, block: "x", present: true, insertAfter: "^b"}, "a\nb\n# BEGIN X\nx\n# END X\nc\n"},
		{"insertbefore", "a\nb\n", blockEdit{begin: b, end: en, block: "x", present: true, insertBefore: "^b"}, "a\n# BEGIN X\nx\n# END X\nb\n"},
		{"insertbefore BOF", "a\n", blockEdit{begin: b, end: en, block: "x", present: true, insertBefore: "BOF"}, "# BEGIN X\nx\n# END X\na\n"},
		{"empty file", "", blockEdit{begin: b, end: en, block: "x", present: true}, "# BEGIN X\nx\n# END X\n"},
	} {
		out, err := c.e.apply([]byte(c.in))
		if err != nil || string(out) != c.out {
			t.Errorf("%s: got %q %v, want %q", c.name, out, err, c.out)
		}
	}
}

func TestBlockinfileAndSlurp(t *testing.T) {
	t.Parallel()
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			c := tg.conn
			p := filepath.Join(tg.dir(t), "hosts")
			a := map[string]any{"path": p, "block": "10.0.0.1 a\n10.0.0.2 b", "marker": "# {mark} KOALA HOSTS", "create": true}
			mustChanged(t, run(t, c, "blockinfile", a, check), true)
			if _, err := os.Stat(p); err == nil {
				t.Fatal("check mode created the file")
			}
			r := run(t, c, "blockinfile", a, diff)
			mustChanged(t, r, true)
			want := "# BEGIN KOALA HOSTS\n10.0.0.1 a\n10.0.0.2 b\n# END KOALA HOSTS\n"
			if got := readFile(t, p); got != want || len(r.Diff) != 1 || r.Diff[0].After != want {
				t.Errorf("file %q, diff %+v", got, r.Diff)
			}
			mustChanged(t, run(t, c, "blockinfile", a), false)

			r = run(t, c, "slurp", map[string]any{"src": p})
			if b, _ := base64.StdEncoding.DecodeString(r.Data["content"].(string)); string(b) != want || r.Data["encoding"] != "base64" {
				t.Errorf("slurp: %v", r.Data)
			}
			r = run(t, c, "slurp", map[string]any{"src": p + ".missing"})
			if !r.Failed || !strings.Contains(r.Msg, p+".missing") || !strings.Contains(r.Msg, c.Host()) {
				t.Errorf("slurp missing: %+v", r)
			}
			mustChanged(t, run(t, c, "blockinfile", map[string]any{"path": p, "marker": "# {mark} KOALA HOSTS", "state": "absent"}), true)
			if got := readFile(t, p); got != "" {
				t.Errorf("absent left %q", got)
			}
		})
	}
}
