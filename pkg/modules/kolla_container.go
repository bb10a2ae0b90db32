package modules

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	units "github.com/docker/go-units"

	"github.com/koala-stack/koala/pkg/container"
)

// kollaContainer is kolla-ansible's kolla_container (formerly kolla_docker):
// one container on the host's Docker engine, driven through pkg/container
// over the host's own connection to /var/run/docker.sock.
type kollaContainer struct{}

// kollaContainerFacts is kolla_container_facts: the state of named containers.
type kollaContainerFacts struct{}

func init() {
	Register(kollaContainer{}, "kolla_container", "kolla_docker")
	Register(kollaContainerFacts{}, "kolla_container_facts")
}

// Defaults for the waits a task may bound with `timeout` (seconds).
const (
	defaultRunOnceTimeout = 30 * time.Minute // a bootstrap db_sync on a big database is slow
	defaultHealthyTimeout = 5 * time.Minute
)

var kollaContainerActions = []string{
	"compare_container", "recreate_or_restart_container", "start_container",
	"stop_container", "stop_and_remove_container", "remove_container",
	"restart_container", "pull_image", "remove_volume", "wait_healthy",
}

func (kollaContainer) Args() (accepted, required []string) {
	return []string{
		"action", "name", "image", "volumes", "environment", "privileged", "cap_add",
		"security_opt", "command", "labels", "healthcheck", "restart_policy",
		"restart_retries", "dimensions", "detach", "remove_on_exit", "ipc_mode",
		"pid_mode", "tty", "common_options", "timeout", "ignore_missing",
		"graceful_timeout", "client_timeout", "container_engine", "auth_email",
		"auth_password", "auth_registry", "auth_username", "api_version",
		"config_dir",
	}, []string{"action"}
}

// containerArgs is a kolla_container task's arguments, common_options folded in.
type containerArgs struct {
	action        string
	spec          container.Spec
	detach        bool
	timeout       time.Duration
	ignoreMissing bool
	// configDir is the container's config directory on the host (koala's
	// addition): recreate_or_restart_container restarts a container whose
	// spec is unchanged only when the files under it changed since the
	// container was last (re)started.
	configDir string
}

// parseContainerArgs reads the task's arguments. As in kolla-ansible,
// common_options (docker_common_options) give defaults that the task's own
// arguments override, and their environment is merged under the task's.
func parseContainerArgs(m map[string]any) (containerArgs, error) {
	merged := map[string]any{}
	env := map[string]any{}
	if co, ok := m["common_options"]; ok && co != nil {
		com, ok := co.(map[string]any)
		if !ok {
			return containerArgs{}, fmt.Errorf("kolla_container: bad arguments: common_options: want a dict, got %T", co)
		}
		for k, v := range com {
			if k == "environment" {
				if e, ok := v.(map[string]any); ok {
					for ek, ev := range e {
						env[ek] = ev
					}
				}
				continue
			}
			merged[k] = v
		}
	}
	for k, v := range m {
		if k == "common_options" || v == nil {
			continue
		}
		if k == "environment" {
			e, ok := v.(map[string]any)
			if !ok {
				return containerArgs{}, fmt.Errorf("kolla_container: bad arguments: environment: want a dict, got %T", v)
			}
			for ek, ev := range e {
				env[ek] = ev
			}
			continue
		}
		merged[k] = v
	}
	a := newArgs(merged)
	ca := containerArgs{
		action:        a.choice("", "action", kollaContainerActions...),
		detach:        a.boolean(true, "detach"),
		ignoreMissing: a.boolean(false, "ignore_missing"),
		configDir:     a.str("", "config_dir"),
	}
	if ca.configDir != "" && !strings.HasPrefix(ca.configDir, "/") {
		a.bad("config_dir: %q: want an absolute path on the host", ca.configDir)
	}
	if a.has("timeout") {
		ca.timeout = time.Duration(a.integer(0, "timeout")) * time.Second
	}
	// Registry credentials arrive through docker_common_options, empty unless
	// the operator set docker_registry_username; a login is not implemented.
	if u := a.str("", "auth_username"); u != "" {
		a.bad("auth_username: registry login is not supported by koala; use a registry that needs none, or log the engine in on the host")
	}
	if e := a.str("docker", "container_engine"); e != "docker" {
		a.bad("container_engine: %q is not supported; koala drives Docker", e)
	}
	s := &ca.spec
	s.Name = a.str("", "name")
	s.Image = a.str("", "image")
	s.Privileged = a.boolean(false, "privileged")
	s.CapAdd = a.list("cap_add")
	s.SecurityOpt = a.list("security_opt")
	s.IPCMode = a.str("", "ipc_mode")
	s.PIDMode = a.str("", "pid_mode")
	s.Tty = a.boolean(false, "tty")
	s.RestartPolicy = a.str("unless-stopped", "restart_policy")
	for _, v := range a.list("volumes") {
		// kolla-ansible's volume lists hold "" where a conditional volume is off.
		if v = strings.TrimSpace(v); v != "" {
			s.Volumes = append(s.Volumes, v)
		}
	}
	if len(env) > 0 {
		s.Environment = map[string]string{}
		for k, v := range env {
			if v == nil {
				continue
			}
			s.Environment[k] = fmt.Sprint(v)
		}
	}
	if v, _, ok := a.get("labels"); ok {
		l, ok := v.(map[string]any)
		if !ok {
			a.bad("labels: want a dict, got %T", v)
		}
		if len(l) > 0 {
			s.Labels = map[string]string{}
			for k, v := range l {
				s.Labels[k] = fmt.Sprint(v)
			}
		}
	}
	if v, _, ok := a.get("command"); ok {
		switch c := v.(type) {
		case string:
			words, err := shellSplit(c)
			if err != nil {
				a.bad("command: %v", err)
			}
			s.Command = words
		default:
			s.Command = a.list("command")
		}
	}
	if v, _, ok := a.get("healthcheck"); ok {
		hc, err := parseHealthcheck(v)
		if err != nil {
			a.bad("healthcheck: %v", err)
		}
		s.Healthcheck = hc
	}
	if v, _, ok := a.get("dimensions"); ok {
		if err := parseDimensions(v, s); err != nil {
			a.bad("dimensions: %v", err)
		}
	}

	needName := ca.action != "pull_image"
	needImage := map[string]bool{"compare_container": true, "recreate_or_restart_container": true, "start_container": true, "pull_image": true}[ca.action]
	if needName && s.Name == "" {
		a.bad("name is required for action %s", ca.action)
	}
	if needImage && s.Image == "" {
		a.bad("image is required for action %s", ca.action)
	}
	if ca.action == "remove_volume" && s.Name == "" {
		a.bad("name (the volume) is required for action remove_volume")
	}
	if err := a.err("kolla_container"); err != nil {
		return ca, err
	}
	return ca, nil
}

// parseHealthcheck reads kolla-ansible's healthcheck dict: numbers may be
// strings ("30"), test a list or a shell string; test NONE disables the
// image's own healthcheck.
func parseHealthcheck(v any) (*container.Healthcheck, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("want a dict, got %T", v)
	}
	if len(m) == 0 {
		return nil, nil
	}
	hc := &container.Healthcheck{}
	switch t := m["test"].(type) {
	case nil:
		return nil, fmt.Errorf("test is missing")
	case string:
		if t == "NONE" {
			hc.Test = []string{"NONE"}
		} else {
			hc.Test = []string{"CMD-SHELL", t}
		}
	case []any:
		for _, w := range t {
			hc.Test = append(hc.Test, fmt.Sprint(w))
		}
	default:
		return nil, fmt.Errorf("test: want a list or a string, got %T", t)
	}
	for key, dst := range map[string]*int{"interval": &hc.Interval, "timeout": &hc.Timeout, "retries": &hc.Retries, "start_period": &hc.StartPeriod} {
		raw, ok := m[key]
		if !ok || raw == nil || raw == "" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(fmt.Sprint(raw)))
		if err != nil {
			return nil, fmt.Errorf("%s: %v is not a whole number of seconds", key, raw)
		}
		*dst = n
	}
	return hc, nil
}

// parseDimensions reads the dimensions koala's container spec carries:
// mem_limit (bytes or "512m"/"4g") and ulimits. Other kolla-ansible
// dimensions are refused by name rather than silently dropped.
func parseDimensions(v any, s *container.Spec) error {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("want a dict, got %T", v)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		val := m[k]
		switch k {
		case "mem_limit":
			n, err := units.RAMInBytes(fmt.Sprint(val))
			if err != nil {
				return fmt.Errorf("mem_limit: %w", err)
			}
			s.MemoryLimit = n
		case "ulimits":
			ul, ok := val.(map[string]any)
			if !ok {
				return fmt.Errorf("ulimits: want a dict of {soft, hard}, got %T", val)
			}
			for name, lim := range ul {
				l, ok := lim.(map[string]any)
				if !ok {
					return fmt.Errorf("ulimits.%s: want {soft, hard}, got %T", name, lim)
				}
				soft, err1 := strconv.ParseInt(fmt.Sprint(l["soft"]), 10, 64)
				hard, err2 := strconv.ParseInt(fmt.Sprint(l["hard"]), 10, 64)
				if err1 != nil || err2 != nil {
					return fmt.Errorf("ulimits.%s: soft and hard must be whole numbers, got %v and %v", name, l["soft"], l["hard"])
				}
				if soft != hard {
					return fmt.Errorf("ulimits.%s: soft %d differs from hard %d; koala sets both to one value", name, soft, hard)
				}
				if s.Ulimits == nil {
					s.Ulimits = map[string]int64{}
				}
				s.Ulimits[name] = soft
			}
		default:
			return fmt.Errorf("%s is not supported by koala (supported: mem_limit, ulimits)", k)
		}
	}
	return nil
}

// shellSplit splits a command string as Python's shlex.split does (what
// kolla-ansible applies to a string command): POSIX quoting, backslash
// escapes, no comments.
func shellSplit(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\\':
			inWord = true
			if i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			}
		case c == '\'':
			inWord = true
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("%q: no closing quotation", s)
			}
			cur.WriteString(s[i+1 : i+1+end])
			i += end + 1
		case c == '"':
			inWord = true
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				// Inside double quotes a backslash escapes only " and \.
				if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("%q: no closing quotation", s)
			}
		default:
			inWord = true
			cur.WriteByte(c)
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// dockerClient returns a client for the host's engine over the task's connection.
func (t *Task) dockerClient() (*container.Client, error) {
	return container.New(t.Host, func(ctx context.Context) (net.Conn, error) {
		return t.Conn.Dial(ctx, "unix", container.DefaultSocket)
	})
}

func (kollaContainer) Run(ctx context.Context, t *Task) (Result, error) {
	ca, err := parseContainerArgs(t.Args)
	if err != nil {
		return Result{}, err
	}
	c, err := t.dockerClient()
	if err != nil {
		return Result{}, err
	}
	defer c.Close()
	r, err := ca.run(ctx, t, c)
	if err != nil {
		return r, fmt.Errorf("kolla_container %s %s: %w", ca.action, ca.spec.Name, err)
	}
	if r.Data == nil {
		r.Data = map[string]any{}
	}
	// The state after the action, for `register:` (a run-once container is gone).
	if ca.spec.Name != "" && ca.action != "remove_volume" && ca.action != "pull_image" {
		if st, ok, err := c.Inspect(ctx, ca.spec.Name); err == nil && ok {
			r.Data["container"] = stateMap(st)
		}
	}
	return r, nil
}

func (ca containerArgs) run(ctx context.Context, t *Task, c *container.Client) (Result, error) {
	s := ca.spec
	switch ca.action {
	case "compare_container":
		d, why, err := c.Compare(ctx, s)
		if err != nil {
			return Result{}, err
		}
		return Result{Changed: d != container.Same, Msg: why, Data: map[string]any{"decision": string(d)}}, nil

	case "start_container", "recreate_or_restart_container":
		if !ca.detach {
			return ca.runOnce(ctx, t, c)
		}
		restart := ca.action == "recreate_or_restart_container"
		var cfg configHash
		if ca.configDir != "" {
			var err error
			if cfg, err = ca.readConfigHash(ctx, t); err != nil {
				// In check mode the config tasks did not make the directory.
				if !t.checkMode() || !strings.Contains(err.Error(), "no such directory") {
					return Result{}, err
				}
				cfg = configHash{now: "(not written yet)"}
			}
			// Only a config change since the last (re)start restarts an
			// unchanged container; a new or recreated one reads the config
			// anyway. A file an earlier task would have changed under
			// config_dir (check mode wrote none) counts as a change.
			restart = restart && (cfg.changed() || pendingUnder(t.CheckPending, ca.configDir))
		}
		r, what, err := ca.decide(ctx, t, c, restart)
		if err != nil {
			return Result{}, err
		}
		if what != "" {
			did := ""
			msg, err := t.change(what, func() error {
				var err error
				did, err = c.Ensure(ctx, s, restart)
				return err
			})
			if err != nil {
				return Result{}, err
			}
			r.Msg, r.Data["result"] = msg, did
			if did != "" {
				r.Msg = did
			}
			if t.Diff {
				r.Diff[0].After = msg + "\n"
			}
		}
		if ca.configDir != "" && cfg.changed() {
			if _, err := t.change("record the config hash of "+s.Name, func() error { return ca.recordConfigHash(ctx, t, cfg.now) }); err != nil {
				return Result{}, err
			}
		}
		return r, nil

	case "stop_container":
		st, ok, err := c.Inspect(ctx, s.Name)
		if err != nil {
			return Result{}, err
		}
		if !ok {
			if ca.ignoreMissing {
				return Result{Msg: "no container " + s.Name}, nil
			}
			return failed("host %s: no container %s to stop (set ignore_missing: true if that is fine)", t.Host, s.Name), nil
		}
		if !st.Running {
			return Result{}, nil
		}
		stopped := true
		msg, err := t.change("stop "+s.Name, func() error {
			var err error
			stopped, err = c.Stop(ctx, s.Name)
			return err
		})
		return Result{Changed: stopped, Msg: msg}, err

	case "stop_and_remove_container", "remove_container":
		_, ok, err := c.Inspect(ctx, s.Name)
		if err != nil || !ok {
			return Result{}, err
		}
		msg, err := t.change("remove "+s.Name, func() error { return c.Remove(ctx, s.Name) })
		return Result{Changed: true, Msg: msg}, err

	case "restart_container":
		if _, ok, err := c.Inspect(ctx, s.Name); err != nil {
			return Result{}, err
		} else if !ok {
			return failed("host %s: no container %s to restart", t.Host, s.Name), nil
		}
		msg, err := t.change("restart "+s.Name, func() error { return c.Restart(ctx, s.Name) })
		return Result{Changed: true, Msg: msg}, err

	case "pull_image":
		// Changed only when the tag now names another image (in check mode
		// it may).
		pulled := true
		msg, err := t.change("pull "+s.Image, func() error {
			var err error
			pulled, err = c.Pull(ctx, s.Image, true)
			return err
		})
		r := Result{Changed: pulled}
		if pulled {
			r.Msg = msg
		}
		return r, err

	case "remove_volume":
		vols, err := c.Volumes(ctx)
		if err != nil || !slices.Contains(vols, s.Name) {
			return Result{}, err
		}
		removed := true
		msg, err := t.change("remove volume "+s.Name, func() error {
			var err error
			removed, err = c.RemoveVolume(ctx, s.Name)
			return err
		})
		return Result{Changed: removed, Msg: msg}, err

	case "wait_healthy":
		timeout := ca.timeout
		if timeout <= 0 {
			timeout = defaultHealthyTimeout
		}
		// Waiting is the end of the change that started the container: in
		// check mode none was made, so there is nothing to wait for.
		var unhealthy error
		_, err := t.change("wait until "+s.Name+" is healthy", func() error {
			_, unhealthy = c.WaitHealthy(ctx, s.Name, timeout)
			return nil
		})
		if unhealthy != nil {
			return failed("%v", unhealthy), nil
		}
		return Result{}, err
	}
	return Result{}, fmt.Errorf("action %q not handled (bug)", ca.action)
}

// decide is what recreate_or_restart_container and start_container will do
// to the container, read before doing it: what (in the imperative) is "" when
// the container runs as wanted. With --diff the decision is a diff entry
// "container NAME", so every container of a loop shows.
func (ca containerArgs) decide(ctx context.Context, t *Task, c *container.Client, restart bool) (r Result, what string, err error) {
	s := ca.spec
	d, why, err := c.Compare(ctx, s)
	if err != nil {
		return Result{}, "", err
	}
	var before string
	switch {
	case d == container.Absent:
		before, what = "absent", "create "+s.Name+" from "+s.Image
	case d == container.Recreate:
		before, what = "running another spec", "recreate "+s.Name+": "+why
	case d == container.Stopped:
		before, what = "stopped", "start "+s.Name
	case restart:
		before, what = "running", "restart "+s.Name+": its config in "+ca.configDir+" changed"
	default:
		return Result{Msg: s.Name + " runs as wanted", Data: map[string]any{"decision": string(d)}}, "", nil
	}
	decision := string(d)
	if d == container.Same {
		decision = "restart"
	}
	r = Result{Changed: true, Data: map[string]any{"decision": decision}}
	if t.Diff {
		r.Diff = []Diff{{Path: "container " + s.Name, Before: before + "\n"}}
	}
	return r, what, nil
}

// pendingUnder reports whether a path of pending is dir or under it.
func pendingUnder(pending []string, dir string) bool {
	dir = strings.TrimSuffix(dir, "/")
	for _, p := range pending {
		if p == dir || strings.HasPrefix(p, dir+"/") {
			return true
		}
	}
	return false
}

// configHashDir holds, per container, the hash of its config directory when
// it was last (re)started by kolla_container.
const configHashDir = "/var/lib/koala/config-hash"

// configHash is a config directory's content hash now and as recorded.
type configHash struct{ now, recorded string }

func (h configHash) changed() bool { return h.now != h.recorded }

// readConfigHash hashes every file (path and content) under config_dir and
// reads the recorded hash, in one command on the host.
func (ca containerArgs) readConfigHash(ctx context.Context, t *Task) (configHash, error) {
	dir, rec := quote(ca.configDir), quote(configHashDir+"/"+ca.spec.Name)
	cmd := "test -d " + dir + " || { echo 'no such directory' >&2; exit 3; }; " +
		"cd " + dir + " && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum | sha256sum | cut -d' ' -f1 && " +
		"{ cat " + rec + " 2>/dev/null || true; }"
	res, err := t.mustExec(ctx, "hashing config_dir "+ca.configDir, cmd)
	if err != nil {
		return configHash{}, err
	}
	f := strings.Fields(string(res.Stdout))
	if len(f) == 0 {
		return configHash{}, fmt.Errorf("host %s: hashing config_dir %s: no output", t.Host, ca.configDir)
	}
	h := configHash{now: f[0]}
	if len(f) > 1 {
		h.recorded = f[1]
	}
	return h, nil
}

// recordConfigHash records the hash the container now runs with.
func (ca containerArgs) recordConfigHash(ctx context.Context, t *Task, hash string) error {
	rec := configHashDir + "/" + ca.spec.Name
	_, err := t.mustExec(ctx, "recording the config hash of "+ca.spec.Name,
		"mkdir -p "+quote(configHashDir)+" && printf '%s\\n' "+quote(hash)+" > "+quote(rec+".tmp")+" && mv "+quote(rec+".tmp")+" "+quote(rec))
	return err
}

// runOnce runs a bootstrap container (detach: false) to completion. Its
// output is the task's stdout; a non-zero exit fails the task.
func (ca containerArgs) runOnce(ctx context.Context, t *Task, c *container.Client) (Result, error) {
	timeout := ca.timeout
	if timeout <= 0 {
		timeout = defaultRunOnceTimeout
	}
	ran := false
	var out string
	var err error
	msg, _ := t.change("run "+ca.spec.Name+" to completion", func() error {
		ran = true
		out, err = c.RunOnce(ctx, ca.spec, timeout)
		return nil
	})
	if !ran {
		return Result{Changed: true, Msg: msg}, nil
	}
	data := map[string]any{"stdout": out, "stdout_lines": lines([]byte(out))}
	if err != nil {
		if out != "" { // it ran and exited non-zero: the task failed, with its output
			return Result{Failed: true, Changed: true, Msg: err.Error(), Data: data}, nil
		}
		return Result{}, err
	}
	return Result{Changed: true, Data: data}, nil
}

func stateMap(st container.State) map[string]any {
	return map[string]any{
		"id": st.ID, "running": st.Running, "status": st.Status, "health": st.Health,
		"image": st.Image, "started_at": st.StartedAt, "exit_code": st.ExitCode,
	}
}

func (kollaContainerFacts) Args() (accepted, required []string) {
	return []string{"name", "container_engine", "action", "api_version", "client_timeout"}, []string{"name"}
}

// Run reports each named container as a dict (id, running, status, health,
// image, started_at, exit_code) under its name and under `containers`; an
// absent container is left out, so roles test `name in result.containers`.
func (kollaContainerFacts) Run(ctx context.Context, t *Task) (Result, error) {
	a := newArgs(t.Args)
	names := a.list("name")
	if len(names) == 0 {
		a.bad("name: list the containers to report on")
	}
	if err := a.err("kolla_container_facts"); err != nil {
		return Result{}, err
	}
	c, err := t.dockerClient()
	if err != nil {
		return Result{}, err
	}
	defer c.Close()
	all := map[string]any{}
	data := map[string]any{"containers": all}
	for _, n := range names {
		st, ok, err := c.Inspect(ctx, n)
		if err != nil {
			return Result{}, fmt.Errorf("kolla_container_facts: %w", err)
		}
		if ok {
			all[n] = stateMap(st)
			data[n] = all[n]
		}
	}
	return Result{Data: data}, nil
}
