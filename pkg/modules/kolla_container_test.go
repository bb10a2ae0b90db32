package modules

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/koala-stack/koala/internal/dockertest"
	"github.com/koala-stack/koala/pkg/transport"
)

func TestShellSplitLikePythonShlex(t *testing.T) {
	for in, want := range map[string][]string{
		`kolla_start`: {"kolla_start"},
		`bash -c "mkdir -p /x && echo 'hi there'"`:          {"bash", "-c", "mkdir -p /x && echo 'hi there'"},
		`bash -c 'echo "$HOME" #not a comment'`:             {"bash", "-c", `echo "$HOME" #not a comment`},
		`a #b c\ d "e\"f" 'g\h'`:                            {"a", "#b", "c d", `e"f`, `g\h`},
		`  spaced   out  `:                                  {"spaced", "out"},
		`x""y ''`:                                           {"xy", ""},
		`sh -c "exec /usr/sbin/mysqld --wsrep-new-cluster"`: {"sh", "-c", "exec /usr/sbin/mysqld --wsrep-new-cluster"},
	} {
		got, err := shellSplit(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("shellSplit(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := shellSplit(`bash -c "unterminated`); err == nil {
		t.Error("unterminated quote accepted")
	}
}

func TestParseContainerArgs(t *testing.T) {
	ca, err := parseContainerArgs(map[string]any{
		"action": "recreate_or_restart_container",
		"common_options": map[string]any{
			"environment":    map[string]any{"KOLLA_CONFIG_STRATEGY": "COPY_ALWAYS", "A": "common"},
			"restart_policy": "unless-stopped", "restart_retries": 10, "auth_username": "",
		},
		"name": "keystone", "image": "reg/kolla/keystone:zed",
		"environment": map[string]any{"A": "task", "N": 1},
		"volumes":     []any{"/etc/kolla/keystone/:/var/lib/kolla/config_files/:ro", "", "kolla_logs:/var/log/kolla/"},
		"command":     `bash -c "kolla_start"`,
		"healthcheck": map[string]any{"interval": "30", "retries": "3", "start_period": "5", "test": []any{"CMD-SHELL", "healthcheck_curl http://x:5000"}, "timeout": "30"},
		"dimensions":  map[string]any{"mem_limit": "1g", "ulimits": map[string]any{"nofile": map[string]any{"soft": 1048576, "hard": "1048576"}}},
		"privileged":  "no",
	})
	if err != nil {
		t.Fatal(err)
	}
	s := ca.spec
	if s.Environment["A"] != "task" || s.Environment["KOLLA_CONFIG_STRATEGY"] != "COPY_ALWAYS" || s.Environment["N"] != "1" {
		t.Errorf("environment %v", s.Environment)
	}
	if len(s.Volumes) != 2 || !reflect.DeepEqual(s.Command, []string{"bash", "-c", "kolla_start"}) {
		t.Errorf("volumes %q command %q", s.Volumes, s.Command)
	}
	if h := s.Healthcheck; h == nil || h.Interval != 30 || h.Retries != 3 || h.StartPeriod != 5 || h.Test[1] != "healthcheck_curl http://x:5000" {
		t.Errorf("healthcheck %+v", s.Healthcheck)
	}
	if s.MemoryLimit != 1<<30 || s.Ulimits["nofile"] != 1048576 || s.RestartPolicy != "unless-stopped" {
		t.Errorf("dimensions: mem %d ulimits %v policy %q", s.MemoryLimit, s.Ulimits, s.RestartPolicy)
	}

	for args, wantErr := range map[string]map[string]any{
		"image is required":           {"action": "start_container", "name": "x"},
		"cpu_period is not supported": {"action": "start_container", "name": "x", "image": "i", "dimensions": map[string]any{"cpu_period": 1}},
		"soft 1 differs from hard 2":  {"action": "start_container", "name": "x", "image": "i", "dimensions": map[string]any{"ulimits": map[string]any{"nofile": map[string]any{"soft": 1, "hard": 2}}}},
		"not one of":                  {"action": "explode", "name": "x"},
		"interval":                    {"action": "start_container", "name": "x", "image": "i", "healthcheck": map[string]any{"test": "true", "interval": "30s"}},
	} {
		if _, err := parseContainerArgs(wantErr); err == nil || !strings.Contains(err.Error(), args) {
			t.Errorf("%v: want an error with %q, got %v", wantErr, args, err)
		}
	}
}

const probeImage = dockertest.ProbeImage

// dockerTarget is the local transport, with the probe image on the local engine.
func dockerTarget(t *testing.T) transport.Conn {
	t.Helper()
	dockertest.Probe(t)
	return transport.Local("local")
}

func TestKollaContainer(t *testing.T) {
	c := dockerTarget(t)
	// Unique per process: `make test` may run in parallel in other trees.
	name := fmt.Sprintf("koala_test_kolla_container_%d", os.Getpid())
	vol := name + "_logs"
	t.Cleanup(func() {
		exec.Command("docker", "rm", "-f", name, name+"_bootstrap").Run()
		exec.Command("docker", "volume", "rm", "-f", vol).Run()
	})
	a := map[string]any{
		"action": "start_container", "name": name, "image": probeImage,
		"command":        "/probe",
		"environment":    map[string]any{"PROBE_WORD": "hello"},
		"volumes":        []any{vol + ":/var/log/kolla", ""},
		"healthcheck":    map[string]any{"test": []any{"CMD", "/probe", "healthy"}, "interval": "1", "retries": "3", "timeout": "5", "start_period": "0"},
		"common_options": map[string]any{"environment": map[string]any{"KOLLA_CONFIG_STRATEGY": "COPY_ALWAYS"}, "restart_policy": "unless-stopped"},
	}
	with := func(kv ...any) map[string]any {
		m := map[string]any{}
		for k, v := range a {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}

	r := run(t, c, "kolla_container", a, check)
	mustChanged(t, r, true)
	if exec.Command("docker", "inspect", name).Run() == nil {
		t.Fatal("check mode created the container")
	}
	r = run(t, c, "kolla_container", a)
	mustChanged(t, r, true)
	st, _ := r.Data["container"].(map[string]any)
	if r.Msg != "created" || st["running"] != true {
		t.Fatalf("created: msg %q state %v", r.Msg, r.Data["container"])
	}
	started := st["started_at"]
	mustChanged(t, run(t, c, "kolla_container", a), false)
	mustChanged(t, run(t, c, "kolla_container", with("action", "compare_container")), false)

	// Check mode reports a restart and does none.
	r = run(t, c, "kolla_container", map[string]any{"action": "restart_container", "name": name}, check)
	if st, _ := r.Data["container"].(map[string]any); !r.Changed || !strings.HasPrefix(r.Msg, "would restart") || st["started_at"] != started {
		t.Fatalf("check-mode restart: %+v", r)
	}
	// A notified handler restarts a container whose spec is unchanged.
	r = run(t, c, "kolla_container", with("action", "recreate_or_restart_container"))
	mustChanged(t, r, true)
	if st, _ := r.Data["container"].(map[string]any); r.Msg != "restarted" || st["started_at"] == started {
		t.Fatalf("restart: msg %q state %v", r.Msg, r.Data["container"])
	}
	mustChanged(t, run(t, c, "kolla_container", with("action", "wait_healthy", "timeout", 60)), false)

	// A changed environment is a changed spec: compare says so, recreate does it.
	changed := with("environment", map[string]any{"PROBE_WORD": "bye"})
	changed["action"] = "compare_container"
	mustChanged(t, run(t, c, "kolla_container", changed), true)
	changed["action"] = "recreate_or_restart_container"
	if r := run(t, c, "kolla_container", changed); r.Msg != "recreated" {
		t.Fatalf("recreate: %+v", r)
	}
	out, _ := exec.Command("docker", "inspect", "-f", "{{json .Config.Env}}", name).Output()
	if !strings.Contains(string(out), "PROBE_WORD=bye") || !strings.Contains(string(out), "KOLLA_CONFIG_STRATEGY=COPY_ALWAYS") {
		t.Errorf("env after recreate: %s", out)
	}

	r = run(t, c, "kolla_container_facts", map[string]any{"name": []any{name, "koala_test_absent"}})
	cs, _ := r.Data["containers"].(map[string]any)
	if f, _ := cs[name].(map[string]any); len(cs) != 1 || f["running"] != true || f["image"] != probeImage {
		t.Errorf("facts: %v", r.Data)
	}

	// detach: false runs a bootstrap container to completion and returns its output.
	boot := map[string]any{
		"action": "start_container", "name": name + "_bootstrap", "image": probeImage, "detach": false,
		"command": "/probe exit 0", "environment": map[string]any{"PROBE_WORD": "bootstrapped"}, "restart_policy": "oneshot",
	}
	if r := run(t, c, "kolla_container", boot, check); !r.Changed || r.Data["stdout"] != nil {
		t.Fatalf("check mode ran the bootstrap container: %+v", r)
	}
	r = run(t, c, "kolla_container", boot)
	mustChanged(t, r, true)
	if !strings.Contains(r.Data["stdout"].(string), "probe says bootstrapped") {
		t.Errorf("bootstrap stdout %q", r.Data["stdout"])
	}
	boot["command"] = []any{"/probe", "exit", "3"}
	r = run(t, c, "kolla_container", boot)
	if !r.Failed || !strings.Contains(r.Msg, "exited 3") || !strings.Contains(r.Data["stdout"].(string), "probe says") {
		t.Errorf("failing bootstrap: %+v", r)
	}

	running := func() bool {
		out, _ := exec.Command("docker", "inspect", "-f", "{{.State.Running}}", name).Output()
		return strings.TrimSpace(string(out)) == "true"
	}
	mustChanged(t, run(t, c, "kolla_container", map[string]any{"action": "stop_container", "name": name}, check), true)
	if !running() {
		t.Fatal("check mode stopped the container")
	}
	mustChanged(t, run(t, c, "kolla_container", map[string]any{"action": "stop_container", "name": name}), true)
	mustChanged(t, run(t, c, "kolla_container", map[string]any{"action": "stop_container", "name": name}), false)
	if r := run(t, c, "kolla_container", map[string]any{"action": "stop_container", "name": "koala_test_absent"}); !r.Failed {
		t.Errorf("stopping an absent container: %+v", r)
	}
	mustChanged(t, run(t, c, "kolla_container", map[string]any{"action": "stop_container", "name": "koala_test_absent", "ignore_missing": true}), false)
	mustChanged(t, run(t, c, "kolla_container", map[string]any{"action": "remove_container", "name": name}, check), true)
	if exec.Command("docker", "inspect", name).Run() != nil {
		t.Fatal("check mode removed the container")
	}
	mustChanged(t, run(t, c, "kolla_container", map[string]any{"action": "remove_container", "name": name}), true)
	mustChanged(t, run(t, c, "kolla_container", map[string]any{"action": "remove_container", "name": name}), false)
	mustChanged(t, run(t, c, "kolla_container", map[string]any{"action": "remove_volume", "name": vol}, check), true)
	if exec.Command("docker", "volume", "inspect", vol).Run() != nil {
		t.Fatal("check mode removed the volume")
	}
	mustChanged(t, run(t, c, "kolla_container", map[string]any{"action": "remove_volume", "name": vol}), true)
	mustChanged(t, run(t, c, "kolla_container", map[string]any{"action": "remove_volume", "name": vol}), false)
}

func TestKollaContainerWaitHealthyFails(t *testing.T) {
	c := dockerTarget(t)
	name := fmt.Sprintf("koala_test_unhealthy_%d", os.Getpid())
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", name).Run() })
	a := map[string]any{
		"action": "start_container", "name": name, "image": probeImage, "command": "/probe",
		"healthcheck": map[string]any{"test": "NONE"},
	}
	mustChanged(t, run(t, c, "kolla_container", a), true)
	// The container stops; waiting for it to be healthy must fail, naming it.
	exec.Command("docker", "stop", name).Run()
	r := run(t, c, "kolla_container", map[string]any{"action": "wait_healthy", "name": name, "timeout": 5})
	if !r.Failed || !strings.Contains(r.Msg, name) {
		t.Fatalf("want a failure naming %s, got %+v", name, r)
	}
}

// config_dir: recreate_or_restart_container restarts an unchanged container
// only when the files under its config directory changed since its last
// (re)start, so a role needs no handler and a no-change run restarts nothing.
func TestKollaContainerConfigDir(t *testing.T) {
	c := dockerTarget(t)
	name := fmt.Sprintf("koala_test_config_dir_%d", os.Getpid())
	cfg := t.TempDir()
	t.Cleanup(func() {
		exec.Command("docker", "rm", "-f", name).Run()
		os.Remove(filepath.Join("/var/lib/koala/config-hash", name))
	})
	if err := os.WriteFile(filepath.Join(cfg, "a.conf"), []byte("one\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := map[string]any{
		"action": "recreate_or_restart_container", "name": name, "image": probeImage,
		"command": "/probe", "config_dir": cfg,
	}
	r := run(t, c, "kolla_container", a)
	if r.Msg != "created" {
		t.Fatalf("first run: %+v", r)
	}
	started := r.Data["container"].(map[string]any)["started_at"]
	mustChanged(t, run(t, c, "kolla_container", a), false)
	mustChanged(t, run(t, c, "kolla_container", a, check), false)

	if err := os.WriteFile(filepath.Join(cfg, "a.conf"), []byte("two\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustChanged(t, run(t, c, "kolla_container", a, check), true)
	r = run(t, c, "kolla_container", a)
	if st := r.Data["container"].(map[string]any); r.Msg != "restarted" || st["started_at"] == started {
		t.Fatalf("after a config change: msg %q state %v", r.Msg, r.Data["container"])
	}
	mustChanged(t, run(t, c, "kolla_container", a), false)

	// A new file counts too.
	if err := os.WriteFile(filepath.Join(cfg, "b.conf"), []byte("x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustChanged(t, run(t, c, "kolla_container", a), true)
	mustChanged(t, run(t, c, "kolla_container", a), false)

	bad := map[string]any{"action": "recreate_or_restart_container", "name": name, "image": probeImage, "config_dir": "relative/dir"}
	if _, err := parseContainerArgs(bad); err == nil || !strings.Contains(err.Error(), "config_dir") {
		t.Errorf("relative config_dir: %v", err)
	}
	missing := map[string]any{"action": "recreate_or_restart_container", "name": name, "image": probeImage, "config_dir": filepath.Join(cfg, "nope")}
	if _, err := runErr(t, c, "kolla_container", missing); err == nil || !strings.Contains(err.Error(), "no such directory") {
		t.Errorf("missing config_dir: %v", err)
	}
}

// Check mode (deploy --check --diff): kolla_container compares and says what
// it would do to each container, as a message and a "container NAME" diff,
// and changes nothing: no container created, recreated, started or
// restarted, no config hash recorded.
func TestKollaContainerCheckMode(t *testing.T) {
	c := dockerTarget(t)
	name := fmt.Sprintf("koala_test_check_mode_%d", os.Getpid())
	cfg := t.TempDir()
	t.Cleanup(func() {
		exec.Command("docker", "rm", "-f", name).Run()
		os.Remove(filepath.Join("/var/lib/koala/config-hash", name))
	})
	if err := os.WriteFile(filepath.Join(cfg, "a.conf"), []byte("one\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := map[string]any{
		"action": "recreate_or_restart_container", "name": name, "image": probeImage,
		"command": "/probe", "config_dir": cfg, "environment": map[string]any{"PROBE_WORD": "one"},
	}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for x, y := range a {
			m[x] = y
		}
		m[k] = v
		return m
	}
	inspect := func() string {
		out, err := exec.Command("docker", "inspect", "-f", "{{.State.Running}} {{.State.StartedAt}} {{json .Config.Env}}", name).Output()
		if err != nil {
			return ""
		}
		return string(out)
	}
	wouldDo := func(r Result, msg string) {
		t.Helper()
		if !r.Changed || !strings.HasPrefix(r.Msg, msg) {
			t.Fatalf("want changed %q, got %+v", msg, r)
		}
		if len(r.Diff) != 1 || r.Diff[0].Path != "container "+name || !strings.HasPrefix(r.Diff[0].After, msg) {
			t.Fatalf("want a diff for container %s saying %q, got %+v", name, msg, r.Diff)
		}
	}

	wouldDo(run(t, c, "kolla_container", a, check, diff), "would create "+name)
	if inspect() != "" {
		t.Fatal("check mode created the container")
	}
	if r := run(t, c, "kolla_container", a); r.Msg != "created" {
		t.Fatalf("create: %+v", r)
	}
	before := inspect()

	r := run(t, c, "kolla_container", a, check, diff)
	if r.Changed || len(r.Diff) != 0 {
		t.Fatalf("unchanged container in check mode: %+v", r)
	}
	wouldDo(run(t, c, "kolla_container", with("environment", map[string]any{"PROBE_WORD": "two"}), check, diff),
		"would recreate "+name+": spec or image changed")
	// A config file an earlier task would have written (check mode did not).
	pending := func(tk *Task) { tk.CheckPending = []string{"/etc/other/x", filepath.Join(cfg, "a.conf")} }
	wouldDo(run(t, c, "kolla_container", a, check, diff, pending), "would restart "+name+": its config in "+cfg+" changed")
	elsewhere := func(tk *Task) { tk.CheckPending = []string{cfg + "-other/a.conf"} }
	mustChanged(t, run(t, c, "kolla_container", a, check, elsewhere), false)
	// A config file changed on the host since the last start.
	if err := os.WriteFile(filepath.Join(cfg, "a.conf"), []byte("two\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wouldDo(run(t, c, "kolla_container", a, check, diff), "would restart "+name)
	if got := inspect(); got != before {
		t.Fatalf("check mode touched the container:\nbefore %s\nafter  %s", before, got)
	}
	// ... and still would: check mode recorded no config hash.
	wouldDo(run(t, c, "kolla_container", a, check, diff), "would restart "+name)

	// A config directory check mode did not write (a new service on a host).
	wouldDo(run(t, c, "kolla_container", with("config_dir", filepath.Join(cfg, "not-yet")), check, diff), "would restart "+name)

	exec.Command("docker", "stop", name).Run()
	wouldDo(run(t, c, "kolla_container", a, check, diff), "would start "+name)
	if strings.HasPrefix(inspect(), "true") {
		t.Fatal("check mode started the container")
	}
}
