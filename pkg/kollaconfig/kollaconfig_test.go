package kollaconfig

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fixture is a container root in a temporary directory: config files mounted at
// /var/lib/kolla/config_files, a passwd and group file mapping "kolla" to the
// current user (so chown works unprivileged) and "nova" to another id.
type fixture struct {
	t    *testing.T
	root string
	env  map[string]string
	log  bytes.Buffer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, root: t.TempDir()}
	uid, gid := os.Getuid(), os.Getgid()
	f.write("/etc/passwd", fmt.Sprintf("kolla:x:%d:%d::/:/bin/false\nnova:x:%d:%d::/:/bin/false\n", uid, gid, uid+4242, gid+4242), 0o644)
	f.write("/etc/group", fmt.Sprintf("kolla:x:%d:\nnova:x:%d:\n", gid, gid+4242), 0o644)
	f.env = map[string]string{"KOLLA_ROOT": f.root, "KOLLA_CONFIG_STRATEGY": "COPY_ALWAYS"}
	return f
}

func (f *fixture) p(path string) string { return filepath.Join(f.root, path) }

func (f *fixture) write(path, content string, mode os.FileMode) {
	f.t.Helper()
	full := f.p(path)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), mode); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Chmod(full, mode); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) read(path string) string {
	f.t.Helper()
	b, err := os.ReadFile(f.p(path))
	if err != nil {
		f.t.Fatal(err)
	}
	return string(b)
}

func (f *fixture) config(cfg map[string]any) {
	f.t.Helper()
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		f.t.Fatal(err)
	}
	f.write(DefaultConfigFile, string(b), 0o600)
}

// run runs kolla_set_configs and returns its exit status.
func (f *fixture) run(args ...string) int {
	f.log.Reset()
	return SetConfigs(args, func(k string) string { return f.env[k] }, &f.log)
}

func (f *fixture) mustRun(want int, args ...string) {
	f.t.Helper()
	if got := f.run(args...); got != want {
		f.t.Fatalf("kolla_set_configs %v: exit %d, want %d; log:\n%s", args, got, want, f.log.String())
	}
}

func (f *fixture) mode(path string) uint32 {
	f.t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(f.p(path), &st); err != nil {
		f.t.Fatal(err)
	}
	return st.Mode & 0o7777
}

func (f *fixture) exists(path string) bool {
	_, err := os.Lstat(f.p(path))
	return err == nil
}

const cfgDir = "/var/lib/kolla/config_files"

func TestCopyAlways(t *testing.T) {
	f := newFixture(t)
	f.write(cfgDir+"/keystone.conf", "[DEFAULT]\n", 0o644)
	f.write(cfgDir+"/policy.yaml", "a: b\n", 0o644)
	f.write(cfgDir+"/conf.d/one.conf", "1", 0o644)
	f.write(cfgDir+"/conf.d/two.conf", "2", 0o644)
	f.config(map[string]any{
		"command": "/usr/bin/keystone-all --debug",
		"config_files": []map[string]any{
			{"source": cfgDir + "/keystone.conf", "dest": "/etc/keystone/keystone.conf", "owner": "kolla", "perm": "0600"},
			{"source": cfgDir + "/policy.yaml", "dest": "/etc/keystone/", "owner": "kolla:kolla", "perm": "640"},
			{"source": cfgDir + "/conf.d/*.conf", "dest": "/etc/keystone/conf.d/", "owner": "kolla:", "perm": "0o600"},
			{"source": cfgDir + "/absent.conf", "dest": "/etc/keystone/absent.conf", "owner": "kolla", "perm": "0600", "optional": true},
		},
	})
	f.mustRun(0)

	if got := f.read("/etc/keystone/keystone.conf"); got != "[DEFAULT]\n" {
		t.Errorf("keystone.conf = %q", got)
	}
	for path, want := range map[string]uint32{
		"/etc/keystone/keystone.conf":   0o600,
		"/etc/keystone/policy.yaml":     0o640,
		"/etc/keystone/conf.d/one.conf": 0o600,
		"/etc/keystone/conf.d/two.conf": 0o600,
		"/run_command":                  0o644,
	} {
		if got := f.mode(path); got != want {
			t.Errorf("%s mode %04o, want %04o", path, got, want)
		}
	}
	if f.exists("/etc/keystone/absent.conf") {
		t.Error("optional missing source created a destination")
	}
	if got := f.read("/run_command"); got != "/usr/bin/keystone-all --debug" {
		t.Errorf("/run_command = %q", got)
	}
	// A second start copies again: a changed source wins over the running file.
	f.write(cfgDir+"/keystone.conf", "[DEFAULT]\ndebug = true\n", 0o644)
	f.mustRun(0)
	if got := f.read("/etc/keystone/keystone.conf"); !strings.Contains(got, "debug = true") {
		t.Errorf("COPY_ALWAYS did not recopy: %q", got)
	}
}

func TestDirectoryMergeAndReplace(t *testing.T) {
	for _, merge := range []bool{false, true} {
		t.Run(fmt.Sprint("merge=", merge), func(t *testing.T) {
			f := newFixture(t)
			f.write(cfgDir+"/ssh/config", "Host *\n", 0o644)
			f.write(cfgDir+"/ssh/keys/id", "KEY", 0o644)
			f.write("/var/lib/nova/.ssh/known_hosts", "old", 0o644)
			f.config(map[string]any{
				"command": "true",
				"config_files": []map[string]any{
					{"source": cfgDir + "/ssh", "dest": "/var/lib/nova/.ssh", "owner": "kolla", "perm": "0600", "merge": merge},
				},
			})
			f.mustRun(0)
			if got := f.read("/var/lib/nova/.ssh/keys/id"); got != "KEY" {
				t.Errorf("nested file = %q", got)
			}
			if got := f.exists("/var/lib/nova/.ssh/known_hosts"); got != merge {
				t.Errorf("file only in dest kept = %v, want %v", got, merge)
			}
			// A directory given 0600 gets the search bit for the user.
			if got := f.mode("/var/lib/nova/.ssh/keys"); got != 0o700 {
				t.Errorf("directory mode %04o, want 0700", got)
			}
			f.mustRun(0, "--check")
		})
	}
}

func TestPreserveProperties(t *testing.T) {
	f := newFixture(t)
	f.write(cfgDir+"/tls/cert.pem", "CERT", 0o604)
	stamp := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := os.Chtimes(f.p(cfgDir+"/tls/cert.pem"), stamp, stamp); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("cert.pem", f.p(cfgDir+"/tls/link.pem")); err != nil {
		t.Fatal(err)
	}
	f.config(map[string]any{
		"command": "true",
		"config_files": []map[string]any{
			// owner without perm is ignored with preserve_properties, as upstream.
			{"source": cfgDir + "/tls", "dest": "/etc/tls", "preserve_properties": true, "merge": true, "owner": "kolla"},
		},
	})
	f.mustRun(0)
	if got := f.mode("/etc/tls/cert.pem"); got != 0o604 {
		t.Errorf("mode %04o, want the source's 0604", got)
	}
	info, err := os.Stat(f.p("/etc/tls/cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if !info.ModTime().Equal(stamp) {
		t.Errorf("mtime %v, want %v", info.ModTime(), stamp)
	}
	if target, err := os.Readlink(f.p("/etc/tls/link.pem")); err != nil || target != "cert.pem" {
		t.Errorf("symlink not kept with merge+preserve_properties: %q, %v", target, err)
	}
	f.mustRun(0, "--check")
}

func TestPermissionsRecurseExclude(t *testing.T) {
	f := newFixture(t)
	f.write("/var/log/kolla/keystone/a.log", "", 0o600)
	f.write("/var/log/kolla/keystone/sub/b.log", "", 0o600)
	f.write("/var/log/kolla/keystone/keep/c.log", "", 0o600)
	f.write("/var/lib/flat/d", "", 0o600)
	f.write("/var/lib/flat/sub/e", "", 0o600)
	f.config(map[string]any{
		"command": "true",
		"permissions": []map[string]any{
			{"path": "/var/log/kolla/keystone", "owner": "kolla:kolla", "perm": "0644", "recurse": true, "exclude": []string{"/keep"}},
			{"path": "/var/lib/fl*", "owner": "kolla", "perm": "0640"},
		},
	})
	f.mustRun(0)
	for path, want := range map[string]uint32{
		"/var/log/kolla/keystone":            0o755, // read bits gain search bits on directories
		"/var/log/kolla/keystone/a.log":      0o644,
		"/var/log/kolla/keystone/sub":        0o755,
		"/var/log/kolla/keystone/sub/b.log":  0o644,
		"/var/log/kolla/keystone/keep/c.log": 0o600, // excluded
		"/var/lib/flat":                      0o750, // glob, not recursive
		"/var/lib/flat/d":                    0o600,
	} {
		if got := f.mode(path); got != want {
			t.Errorf("%s mode %04o, want %04o", path, got, want)
		}
	}
}

func TestCopyOnce(t *testing.T) {
	f := newFixture(t)
	f.env["KOLLA_CONFIG_STRATEGY"] = "COPY_ONCE"
	f.write(cfgDir+"/a.conf", "first", 0o644)
	f.config(map[string]any{
		"command":      "run",
		"config_files": []map[string]any{{"source": cfgDir + "/a.conf", "dest": "/etc/a.conf", "owner": "kolla", "perm": "0600"}},
	})
	f.mustRun(0)
	if !f.exists("/configured") {
		t.Fatal("COPY_ONCE did not create /configured")
	}
	f.write(cfgDir+"/a.conf", "second", 0o644)
	f.mustRun(0) // ImmutableConfig exits 0, as upstream
	if !strings.Contains(f.log.String(), "ImmutableConfig") {
		t.Errorf("log does not say why nothing was copied:\n%s", f.log.String())
	}
	if got := f.read("/etc/a.conf"); got != "first" {
		t.Errorf("COPY_ONCE recopied: %q", got)
	}
}

func TestCheck(t *testing.T) {
	f := newFixture(t)
	f.write(cfgDir+"/a.conf", "A", 0o644)
	f.write(cfgDir+"/d/b.conf", "B", 0o644)
	cfg := map[string]any{
		"command": "run",
		"config_files": []map[string]any{
			{"source": cfgDir + "/a.conf", "dest": "/etc/svc/a.conf", "owner": "kolla", "perm": "0600"},
			{"source": cfgDir + "/d", "dest": "/etc/svc/d", "owner": "kolla", "perm": "0600"},
		},
	}
	f.config(cfg)
	f.mustRun(1, "--check") // nothing copied yet
	f.mustRun(0)
	f.mustRun(0, "--check")

	cases := []struct {
		name, want string
		mutate     func()
	}{
		{"content", "are not equal", func() { f.write("/etc/svc/a.conf", "changed", 0o600) }},
		{"nested content", "are not equal", func() { f.write("/etc/svc/d/b.conf", "changed", 0o600) }},
		{"perm", "expected perm: 0600, actual: 0644", func() { os.Chmod(f.p("/etc/svc/a.conf"), 0o644) }},
		{"missing", "missing", func() { os.Remove(f.p("/etc/svc/a.conf")) }},
		{"command", "Running command differs", func() { os.WriteFile(f.p("/run_command"), []byte("other"), 0o644) }},
		{"owner", "expected user: nova, actual: kolla", func() {
			c := cfg["config_files"].([]map[string]any)
			c[0]["owner"] = "nova"
			f.config(cfg)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg["config_files"].([]map[string]any)
			c[0]["owner"] = "kolla"
			f.config(cfg)
			f.mustRun(0)
			tc.mutate()
			f.mustRun(1, "--check")
			if !strings.Contains(f.log.String(), tc.want) {
				t.Errorf("--check log lacks %q:\n%s", tc.want, f.log.String())
			}
		})
	}
}

func TestErrors(t *testing.T) {
	valid := func(f *fixture) map[string]any {
		f.write(cfgDir+"/a.conf", "A", 0o644)
		return map[string]any{
			"command":      "run",
			"config_files": []map[string]any{{"source": cfgDir + "/a.conf", "dest": "/etc/a.conf", "owner": "kolla", "perm": "0600"}},
		}
	}
	cases := []struct {
		name  string
		setup func(f *fixture)
		code  int
		want  string
	}{
		{"missing config.json", func(f *fixture) {}, 1, "Could not read file"},
		{"invalid json", func(f *fixture) { f.write(DefaultConfigFile, "{\n\"command\": \"x\",\n}", 0o600) }, 1, "config.json:3: invalid JSON"},
		{"no command", func(f *fixture) { c := valid(f); delete(c, "command"); f.config(c) }, 1, `missing required "command"`},
		{"no owner", func(f *fixture) {
			c := valid(f)
			delete(c["config_files"].([]map[string]any)[0], "owner")
			f.config(c)
		}, 1, "preserve_properties or owner and perm"},
		{"unknown key", func(f *fixture) {
			c := valid(f)
			c["config_files"].([]map[string]any)[0]["mode"] = "0600"
			f.config(c)
		}, 1, `unknown field "mode"`},
		{"missing source", func(f *fixture) {
			c := valid(f)
			c["config_files"].([]map[string]any)[0]["source"] = cfgDir + "/nope.conf"
			f.config(c)
		}, 1, "MissingRequiredSource"},
		{"unknown user", func(f *fixture) {
			c := valid(f)
			c["config_files"].([]map[string]any)[0]["owner"] = "glance"
			f.config(c)
		}, 1, `UserNotFound: user "glance"`},
		{"unknown group", func(f *fixture) {
			c := valid(f)
			c["permissions"] = []map[string]any{{"path": "/etc", "owner": "kolla:wheel"}}
			f.config(c)
		}, 1, `group "wheel"`},
		{"bad perm", func(f *fixture) {
			c := valid(f)
			c["config_files"].([]map[string]any)[0]["perm"] = "rw-r--r--"
			f.config(c)
		}, 1, "not an octal mode"},
		{"bad strategy", func(f *fixture) { f.config(valid(f)); f.env["KOLLA_CONFIG_STRATEGY"] = "" }, 1, "KOLLA_CONFIG_STRATEGY is not set properly"},
		{"unexpected", func(f *fixture) {
			c := valid(f)
			c["config_files"].([]map[string]any)[0]["dest"] = "/srv/sub/a.conf"
			f.config(c)
			f.write("/srv", "a file where a directory should be", 0o644)
		}, 2, "not a directory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			tc.setup(f)
			f.mustRun(tc.code)
			if !strings.Contains(f.log.String(), tc.want) {
				t.Errorf("log lacks %q:\n%s", tc.want, f.log.String())
			}
			if f.exists("/etc/a.conf") {
				t.Error("a failed run copied files")
			}
		})
	}
}

func TestParsePerm(t *testing.T) {
	for in, want := range map[string]uint32{"0600": 0o600, "600": 0o600, "0o640": 0o640, "2755": 0o2755} {
		if got, err := parsePerm(in); err != nil || got != want {
			t.Errorf("parsePerm(%q) = %04o, %v; want %04o", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0800", "rwx", "17777"} {
		if _, err := parsePerm(in); err == nil {
			t.Errorf("parsePerm(%q) accepted", in)
		}
	}
}

func TestImageDefaultsRestored(t *testing.T) {
	f := newFixture(t)
	f.write("/etc/svc/default.conf", "IMAGE", 0o644)
	f.write(cfgDir+"/default.conf", "CONFIG", 0o644)
	f.write(cfgDir+"/new.conf", "NEW", 0o644)
	entries := []map[string]any{
		{"source": cfgDir + "/default.conf", "dest": "/etc/svc/default.conf", "owner": "kolla", "perm": "0600"},
		{"source": cfgDir + "/new.conf", "dest": "/etc/svc/", "owner": "kolla", "perm": "0600"},
	}
	f.config(map[string]any{"command": "run", "config_files": entries})
	for range 2 { // the second start must not overwrite the backup with the override
		f.mustRun(0)
		if got := f.read("/etc/svc/default.conf"); got != "CONFIG" {
			t.Fatalf("override not applied: %q", got)
		}
		if got := f.read(DefaultsDir + "/etc/svc/default.conf"); got != "IMAGE" {
			t.Fatalf("image default not kept: %q", got)
		}
	}
	f.mustRun(0, "--check")

	f.config(map[string]any{"command": "run"})
	f.mustRun(1, "--check")
	if !strings.Contains(f.log.String(), "StateMismatch") || !strings.Contains(f.log.String(), "/etc/svc/default.conf") {
		t.Errorf("--check does not report the dropped override:\n%s", f.log.String())
	}
	f.mustRun(0)
	if got := f.read("/etc/svc/default.conf"); got != "IMAGE" {
		t.Errorf("image default not restored: %q", got)
	}
	if got := f.mode("/etc/svc/default.conf"); got != 0o644 {
		t.Errorf("restored mode %04o, want the image's 0644", got)
	}
	if f.exists("/etc/svc/new.conf") {
		t.Error("a file the image did not have survived its removal from config.json")
	}
	f.mustRun(0, "--check")
}
