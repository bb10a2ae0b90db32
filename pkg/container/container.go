// Package container drives a host's Docker engine through the Docker Engine API
// (the official Go client), reached over the host's own connection: the
// engine's unix socket is dialled from the host's side of the SSH connection,
// so nothing listens on the network and no Docker CLI is needed on the host.
//
// Its one decision is kolla-ansible's: a container is recreated when its wanted
// spec differs from the running one (the image it would run included), restarted
// when only its configuration changed, and left alone otherwise. The wanted spec
// is recorded on the container as a hash label, so the comparison is exact and
// needs one inspect call.
package container

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"
	"github.com/docker/docker/pkg/stdcopy"
)

// DefaultSocket is where the Docker engine listens on a host.
const DefaultSocket = "/var/run/docker.sock"

// SpecLabel holds the hash of the spec a container was created from.
const SpecLabel = "org.openstack.koala.spec"

// Dialer opens a connection to the engine's socket on the host.
type Dialer func(ctx context.Context) (net.Conn, error)

// Client is one host's Docker engine.
type Client struct {
	host string
	api  *client.Client
}

// New returns a client for the engine that dial reaches; host names the host in
// errors. The API version is negotiated on first use (Debian bookworm's
// docker.io speaks 1.41).
func New(host string, dial Dialer) (*Client, error) {
	api, err := client.NewClientWithOpts(
		client.WithHost("unix://"+DefaultSocket),
		client.WithDialContext(func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) }),
		client.WithAPIVersionNegotiation(),
	)
	if err != nil {
		return nil, fmt.Errorf("%s: docker client: %w", host, err)
	}
	return &Client{host: host, api: api}, nil
}

// Close releases the client's idle connections.
func (c *Client) Close() error { return c.api.Close() }

// Healthcheck is kolla-ansible's healthcheck dict; durations are seconds.
type Healthcheck struct {
	Test        []string `json:"test"`
	Interval    int      `json:"interval"`
	Timeout     int      `json:"timeout"`
	Retries     int      `json:"retries"`
	StartPeriod int      `json:"start_period"`
}

// Spec is the wanted state of one container, in kolla-ansible's terms.
type Spec struct {
	Name          string            `json:"name"`
	Image         string            `json:"image"`
	Command       []string          `json:"command,omitempty"`
	Environment   map[string]string `json:"environment,omitempty"`
	Volumes       []string          `json:"volumes,omitempty"` // "src:dst[:ro]"; src without "/" is a named volume
	Privileged    bool              `json:"privileged,omitempty"`
	CapAdd        []string          `json:"cap_add,omitempty"`
	SecurityOpt   []string          `json:"security_opt,omitempty"`
	Labels        map[string]string `json:"labels,omitempty"`
	Healthcheck   *Healthcheck      `json:"healthcheck,omitempty"`
	RestartPolicy string            `json:"restart_policy,omitempty"` // default unless-stopped
	IPCMode       string            `json:"ipc_mode,omitempty"`
	PIDMode       string            `json:"pid_mode,omitempty"`
	Ulimits       map[string]int64  `json:"ulimits,omitempty"` // name → soft=hard limit
	MemoryLimit   int64             `json:"mem_limit,omitempty"`
	Tty           bool              `json:"tty,omitempty"`
}

// Decision is what Compare found.
type Decision string

const (
	Absent   Decision = "absent"   // no such container: create it
	Recreate Decision = "recreate" // spec or image differs: remove and create
	Stopped  Decision = "stopped"  // same spec, not running: start it
	Same     Decision = "same"     // running as wanted
)

// State is what a host's engine says of a container.
type State struct {
	ID        string `json:"id"`
	Running   bool   `json:"running"`
	Status    string `json:"status"`
	Health    string `json:"health,omitempty"`
	Image     string `json:"image"`
	StartedAt string `json:"started_at"`
	ExitCode  int    `json:"exit_code"`
}

// Inspect returns the container's state, or ok=false when there is none.
func (c *Client) Inspect(ctx context.Context, name string) (State, bool, error) {
	info, err := c.api.ContainerInspect(ctx, name)
	if errdefs.IsNotFound(err) {
		return State{}, false, nil
	}
	if err != nil {
		return State{}, false, fmt.Errorf("%s: inspect container %s: %w", c.host, name, err)
	}
	st := State{ID: info.ID, Image: info.Config.Image}
	if info.State != nil {
		st.Running = info.State.Running
		st.Status = string(info.State.Status)
		st.StartedAt = info.State.StartedAt
		st.ExitCode = info.State.ExitCode
		if info.State.Health != nil {
			st.Health = string(info.State.Health.Status)
		}
	}
	return st, true, nil
}

// Compare decides what Ensure would do for spec. It does not pull: a missing
// image counts as a different one (the container would be recreated after a pull).
func (c *Client) Compare(ctx context.Context, spec Spec) (Decision, string, error) {
	info, err := c.api.ContainerInspect(ctx, spec.Name)
	if errdefs.IsNotFound(err) {
		return Absent, "no container " + spec.Name, nil
	}
	if err != nil {
		return "", "", fmt.Errorf("%s: inspect container %s: %w", c.host, spec.Name, err)
	}
	want, err := c.specHash(ctx, spec)
	if err != nil {
		return "", "", err
	}
	if got := info.Config.Labels[SpecLabel]; got != want {
		return Recreate, "spec or image changed", nil
	}
	if info.State == nil || !info.State.Running {
		return Stopped, "not running", nil
	}
	return Same, "", nil
}

// specHash hashes the spec together with the ID of the image it names, so a
// rebuilt image under the same tag counts as a change.
func (c *Client) specHash(ctx context.Context, spec Spec) (string, error) {
	imageID := ""
	img, err := c.api.ImageInspect(ctx, spec.Image)
	switch {
	case errdefs.IsNotFound(err):
	case err != nil:
		return "", fmt.Errorf("%s: inspect image %s: %w", c.host, spec.Image, err)
	default:
		imageID = img.ID
	}
	// json.Marshal writes map keys sorted: the hash is stable.
	data, err := json.Marshal(struct {
		Spec
		ImageID string
	}{spec, imageID})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

// PullStallTimeout is how long a pull may go without a progress message.
var PullStallTimeout = 5 * time.Minute

var errStalled = errors.New("no progress")

// stallGuard returns a context that is cancelled (cause errStalled) when kick
// has not been called for d, and a stop that releases it.
func stallGuard(ctx context.Context, d time.Duration) (context.Context, func(), func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	t := time.AfterFunc(d, func() { cancel(errStalled) })
	return ctx, func() { t.Reset(d) }, func() { t.Stop(); cancel(nil) }
}

// Pull fetches image unless it is present (or always, with force). It
// reports true when the tag now names an image it did not name before: the
// engine's pull stream does not say so reliably, so the image ID under the
// tag is compared before and after.
func (c *Client) Pull(ctx context.Context, ref string, force bool) (bool, error) {
	before, err := c.imageID(ctx, ref)
	if err != nil {
		return false, err
	}
	if before != "" && !force {
		return false, nil
	}
	// A big image may take long; one that makes no progress is abandoned.
	ctx, kick, stop := stallGuard(ctx, PullStallTimeout)
	defer stop()
	stalled := func(err error) error {
		if errors.Is(context.Cause(ctx), errStalled) {
			return fmt.Errorf("%s: pull %s: no progress for %s (the registry or the network stalled); the next deploy tries again", c.host, ref, PullStallTimeout)
		}
		return err
	}
	rc, err := c.api.ImagePull(ctx, ref, image.PullOptions{})
	if err != nil {
		return false, stalled(fmt.Errorf("%s: pull %s: %w (is the registry in docker_registry reachable and trusted? run `koala bootstrap-servers`)", c.host, ref, err))
	}
	defer rc.Close()
	// The engine reports pull failures inside the stream, not as a status code.
	dec := json.NewDecoder(rc)
	for {
		var msg struct {
			Error  string `json:"error"`
			Status string `json:"status"`
		}
		if err := dec.Decode(&msg); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return false, stalled(fmt.Errorf("%s: pull %s: reading progress: %w", c.host, ref, err))
		}
		kick()
		if msg.Error != "" {
			return false, fmt.Errorf("%s: pull %s: %s", c.host, ref, msg.Error)
		}
	}
	after, err := c.imageID(ctx, ref)
	if err != nil {
		return false, err
	}
	return after != before, nil
}

// imageID is the ID of the image ref names, or "" when there is none.
func (c *Client) imageID(ctx context.Context, ref string) (string, error) {
	img, err := c.api.ImageInspect(ctx, ref)
	if errdefs.IsNotFound(err) {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("%s: inspect image %s: %w", c.host, ref, err)
	}
	return img.ID, nil
}

// Ensure makes the container run as spec says. With restart, a container that
// already runs as wanted is restarted (its configuration changed). It returns
// what it did: "created", "recreated", "started", "restarted" or "" (nothing).
func (c *Client) Ensure(ctx context.Context, spec Spec, restart bool) (string, error) {
	if _, err := c.Pull(ctx, spec.Image, false); err != nil {
		return "", err
	}
	d, _, err := c.Compare(ctx, spec)
	if err != nil {
		return "", err
	}
	switch d {
	case Same:
		if !restart {
			return "", nil
		}
		if err := c.api.ContainerRestart(ctx, spec.Name, container.StopOptions{}); err != nil {
			return "", fmt.Errorf("%s: restart %s: %w", c.host, spec.Name, err)
		}
		return "restarted", nil
	case Stopped:
		if err := c.api.ContainerStart(ctx, spec.Name, container.StartOptions{}); err != nil {
			return "", fmt.Errorf("%s: start %s: %w", c.host, spec.Name, err)
		}
		return "started", nil
	case Recreate:
		if err := c.Remove(ctx, spec.Name); err != nil {
			return "", err
		}
		if err := c.create(ctx, spec); err != nil {
			return "", err
		}
		return "recreated", nil
	default:
		if err := c.create(ctx, spec); err != nil {
			return "", err
		}
		return "created", nil
	}
}

func (c *Client) create(ctx context.Context, spec Spec) error {
	hash, err := c.specHash(ctx, spec)
	if err != nil {
		return err
	}
	cfg, hc := spec.dockerConfig()
	cfg.Labels[SpecLabel] = hash
	if _, err := c.api.ContainerCreate(ctx, cfg, hc, nil, nil, spec.Name); err != nil {
		return fmt.Errorf("%s: create container %s: %w", c.host, spec.Name, err)
	}
	if err := c.api.ContainerStart(ctx, spec.Name, container.StartOptions{}); err != nil {
		return fmt.Errorf("%s: start container %s: %w", c.host, spec.Name, err)
	}
	return nil
}

func (s Spec) dockerConfig() (*container.Config, *container.HostConfig) {
	cfg := &container.Config{
		Image:  s.Image,
		Cmd:    s.Command,
		Labels: map[string]string{},
		Tty:    s.Tty,
	}
	for k, v := range s.Labels {
		cfg.Labels[k] = v
	}
	keys := make([]string, 0, len(s.Environment))
	for k := range s.Environment {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cfg.Env = append(cfg.Env, k+"="+s.Environment[k])
	}
	if h := s.Healthcheck; h != nil && len(h.Test) > 0 {
		cfg.Healthcheck = &container.HealthConfig{
			Test:        h.Test,
			Interval:    time.Duration(h.Interval) * time.Second,
			Timeout:     time.Duration(h.Timeout) * time.Second,
			Retries:     h.Retries,
			StartPeriod: time.Duration(h.StartPeriod) * time.Second,
		}
	}
	policy := s.RestartPolicy
	if policy == "" {
		policy = "unless-stopped"
	}
	hc := &container.HostConfig{
		NetworkMode:   "host",
		Privileged:    s.Privileged,
		CapAdd:        s.CapAdd,
		SecurityOpt:   s.SecurityOpt,
		IpcMode:       container.IpcMode(s.IPCMode),
		PidMode:       container.PidMode(s.PIDMode),
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyMode(policy)},
	}
	if policy == "no" || policy == "oneshot" {
		hc.RestartPolicy = container.RestartPolicy{Name: container.RestartPolicyDisabled}
	}
	for _, v := range s.Volumes {
		if strings.TrimSpace(v) != "" {
			hc.Binds = append(hc.Binds, v)
		}
	}
	hc.Resources.Memory = s.MemoryLimit
	names := make([]string, 0, len(s.Ulimits))
	for n := range s.Ulimits {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		hc.Resources.Ulimits = append(hc.Resources.Ulimits, &container.Ulimit{Name: n, Soft: s.Ulimits[n], Hard: s.Ulimits[n]})
	}
	return cfg, hc
}

// RunOnce runs spec to completion (a bootstrap container, such as
// `keystone-manage db_sync`), removes it and returns its output. A non-zero
// exit status is an error carrying the output's tail.
func (c *Client) RunOnce(ctx context.Context, spec Spec, timeout time.Duration) (string, error) {
	if _, err := c.Pull(ctx, spec.Image, false); err != nil {
		return "", err
	}
	if err := c.Remove(ctx, spec.Name); err != nil { // a leftover of an interrupted run
		return "", err
	}
	spec.RestartPolicy = "no"
	cfg, hc := spec.dockerConfig()
	if _, err := c.api.ContainerCreate(ctx, cfg, hc, nil, nil, spec.Name); err != nil {
		return "", fmt.Errorf("%s: create container %s: %w", c.host, spec.Name, err)
	}
	defer func() {
		rmCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = c.Remove(rmCtx, spec.Name)
	}()
	if err := c.api.ContainerStart(ctx, spec.Name, container.StartOptions{}); err != nil {
		return "", fmt.Errorf("%s: start container %s: %w", c.host, spec.Name, err)
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	waitC, errC := c.api.ContainerWait(wctx, spec.Name, container.WaitConditionNotRunning)
	var code int64
	select {
	case w := <-waitC:
		code = w.StatusCode
	case err := <-errC:
		return "", fmt.Errorf("%s: wait for %s (timeout %s): %w", c.host, spec.Name, timeout, err)
	}
	out, err := c.logs(ctx, spec.Name)
	if err != nil {
		return "", err
	}
	if code != 0 {
		return out, fmt.Errorf("%s: %s exited %d: %s", c.host, spec.Name, code, tail(out, 2000))
	}
	return out, nil
}

func (c *Client) logs(ctx context.Context, name string) (string, error) {
	rc, err := c.api.ContainerLogs(ctx, name, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return "", fmt.Errorf("%s: logs of %s: %w", c.host, name, err)
	}
	defer rc.Close()
	var out strings.Builder
	if _, err := stdcopy.StdCopy(&out, &out, rc); err != nil {
		return "", fmt.Errorf("%s: logs of %s: %w", c.host, name, err)
	}
	return out.String(), nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// Stop stops the container if it runs; it reports whether it did.
func (c *Client) Stop(ctx context.Context, name string) (bool, error) {
	st, ok, err := c.Inspect(ctx, name)
	if err != nil || !ok || !st.Running {
		return false, err
	}
	if err := c.api.ContainerStop(ctx, name, container.StopOptions{}); err != nil {
		return false, fmt.Errorf("%s: stop %s: %w", c.host, name, err)
	}
	return true, nil
}

// Restart restarts the container.
func (c *Client) Restart(ctx context.Context, name string) error {
	if err := c.api.ContainerRestart(ctx, name, container.StopOptions{}); err != nil {
		return fmt.Errorf("%s: restart %s: %w", c.host, name, err)
	}
	return nil
}

// Remove removes the container (running or not) if there is one.
func (c *Client) Remove(ctx context.Context, name string) error {
	err := c.api.ContainerRemove(ctx, name, container.RemoveOptions{Force: true})
	if err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("%s: remove container %s: %w", c.host, name, err)
	}
	return nil
}

// RemoveVolume removes a named volume if there is one; it reports whether it did.
func (c *Client) RemoveVolume(ctx context.Context, name string) (bool, error) {
	if _, err := c.api.VolumeInspect(ctx, name); errdefs.IsNotFound(err) {
		return false, nil
	}
	if err := c.api.VolumeRemove(ctx, name, true); err != nil {
		return false, fmt.Errorf("%s: remove volume %s: %w", c.host, name, err)
	}
	return true, nil
}

// Volumes lists the names of the host's volumes.
func (c *Client) Volumes(ctx context.Context) ([]string, error) {
	resp, err := c.api.VolumeList(ctx, volume.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("%s: list volumes: %w", c.host, err)
	}
	var names []string
	for _, v := range resp.Volumes {
		names = append(names, v.Name)
	}
	sort.Strings(names)
	return names, nil
}

// WaitHealthy waits until the container's healthcheck says healthy (or, for a
// container without one, until it runs), up to timeout.
func (c *Client) WaitHealthy(ctx context.Context, name string, timeout time.Duration) (State, error) {
	deadline := time.Now().Add(timeout)
	for {
		st, ok, err := c.Inspect(ctx, name)
		if err != nil {
			return st, err
		}
		if ok && st.Running && (st.Health == "" || st.Health == "healthy") {
			return st, nil
		}
		if ok && !st.Running && st.Status == "exited" {
			out, _ := c.logs(ctx, name)
			return st, fmt.Errorf("%s: container %s exited %d: %s", c.host, name, st.ExitCode, tail(out, 2000))
		}
		if time.Now().After(deadline) {
			return st, fmt.Errorf("%s: container %s not healthy after %s (state %q, health %q); see `docker logs %s` on the host", c.host, name, timeout, st.Status, st.Health, name)
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// Exec runs cmd in the running container and returns its combined output and
// exit code.
func (c *Client) Exec(ctx context.Context, name string, cmd []string) (string, int, error) {
	id, err := c.api.ContainerExecCreate(ctx, name, container.ExecOptions{Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return "", 0, fmt.Errorf("%s: exec in %s: %w", c.host, name, err)
	}
	att, err := c.api.ContainerExecAttach(ctx, id.ID, container.ExecAttachOptions{})
	if err != nil {
		return "", 0, fmt.Errorf("%s: exec in %s: %w", c.host, name, err)
	}
	defer att.Close()
	var out strings.Builder
	if _, err := stdcopy.StdCopy(&out, &out, att.Reader); err != nil {
		return "", 0, fmt.Errorf("%s: exec in %s: %w", c.host, name, err)
	}
	ins, err := c.api.ContainerExecInspect(ctx, id.ID)
	if err != nil {
		return out.String(), 0, fmt.Errorf("%s: exec in %s: %w", c.host, name, err)
	}
	return out.String(), ins.ExitCode, nil
}
