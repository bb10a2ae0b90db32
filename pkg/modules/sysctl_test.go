package modules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEditSysctl(t *testing.T) {
	for _, c := range []struct {
		in, key, value string
		present        bool
		out            string
	}{
		{"# c\na.b = 1\n", "a.b", "2", true, "# c\na.b=2\n"},
		{"a.b = 1\n", "a.b", "1", true, "a.b = 1\n"},
		{"a.b=1\nx=2\na/b=3\n", "a.b", "1", true, "a.b=1\nx=2\n"},
		{"x=2", "a.b", "1", true, "x=2\na.b=1\n"},
		{"", "a.b", "1 2", true, "a.b=1 2\n"},
		{"a.b=1\n;a.b=2\nx=1\n", "a.b", "", false, ";a.b=2\nx=1\n"},
	} {
		if got := string(editSysctl([]byte(c.in), c.key, c.value, c.present)); got != c.out {
			t.Errorf("editSysctl(%q, %s, %q, %v) = %q, want %q", c.in, c.key, c.value, c.present, got, c.out)
		}
	}
}

// TestSysctl never changes the kernel: values go to a scratch sysctl_file, and
// sysctl_set only meets a value the key already has.
func TestSysctl(t *testing.T) {
	t.Parallel()
	cur, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	if err != nil {
		t.Skip("no /proc/sys/net/ipv4/ip_forward")
	}
	now := strings.TrimSpace(string(cur))
	other := map[string]string{"0": "1", "1": "0"}[now]
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			c := tg.conn
			file := filepath.Join(tg.dir(t), "99-koala.conf")
			a := map[string]any{"name": "net.ipv4.ip_forward", "value": now, "sysctl_file": file, "sysctl_set": true, "reload": false}
			mustChanged(t, run(t, c, "sysctl", a, check), true)
			if _, err := os.Stat(file); err == nil {
				t.Fatal("check mode wrote the file")
			}
			mustChanged(t, run(t, c, "ansible.posix.sysctl", a), true)
			if got := readFile(t, file); got != "net.ipv4.ip_forward="+now+"\n" {
				t.Errorf("file %q", got)
			}
			mustChanged(t, run(t, c, "sysctl", a), false)

			b := map[string]any{"name": "net.ipv4.ip_forward", "value": other, "sysctl_file": file, "reload": false}
			r := run(t, c, "sysctl", b, diff)
			mustChanged(t, r, true)
			if len(r.Diff) != 1 || !strings.Contains(r.Diff[0].After, "="+other) {
				t.Errorf("diff %+v", r.Diff)
			}
			if got, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); strings.TrimSpace(string(got)) != now {
				t.Fatal("sysctl_set=false changed the kernel")
			}
			mustChanged(t, run(t, c, "sysctl", map[string]any{"name": "net.ipv4.ip_forward", "state": "absent", "sysctl_file": file, "reload": false}), true)
			if got := readFile(t, file); got != "" {
				t.Errorf("absent left %q", got)
			}
			r = run(t, c, "sysctl", map[string]any{"name": "koala.no_such_key", "value": "1", "sysctl_file": file, "reload": false})
			if !r.Failed || !strings.Contains(r.Msg, "koala.no_such_key") || !strings.Contains(r.Msg, c.Host()) {
				t.Errorf("unknown key: %+v", r)
			}
		})
	}
}
