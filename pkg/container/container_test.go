package container

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/koala-stack/koala/internal/dockertest"
)

const probeImage = dockertest.ProbeImage

// engine returns a Client for the local engine with the probe image present.
func engine(t *testing.T) *Client {
	t.Helper()
	dockertest.Probe(t)
	c, err := New("local", func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", DefaultSocket)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func probeSpec(name string) Spec {
	return Spec{
		Name:        name,
		Image:       probeImage,
		Command:     []string{"/probe"},
		Environment: map[string]string{"PROBE_WORD": "hello"},
		Volumes:     []string{"koala_test_probe_logs:/var/log/kolla", ""},
		Labels:      map[string]string{"org.openstack.koala.test": "1"},
		Healthcheck: &Healthcheck{Test: []string{"CMD", "/probe", "healthy"}, Interval: 1, Timeout: 5, Retries: 3},
	}
}

func TestEnsureCreatesThenLeavesAloneThenRecreates(t *testing.T) {
	c := engine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	spec := probeSpec("koala_test_ensure")
	t.Cleanup(func() {
		c.Remove(context.Background(), spec.Name)
		c.RemoveVolume(context.Background(), "koala_test_probe_logs")
	})
	c.Remove(ctx, spec.Name)

	if d, _, err := c.Compare(ctx, spec); err != nil || d != Absent {
		t.Fatalf("compare before create = %v, %v; want absent", d, err)
	}
	did, err := c.Ensure(ctx, spec, false)
	if err != nil || did != "created" {
		t.Fatalf("first ensure = %q, %v; want created", did, err)
	}
	st, err := c.WaitHealthy(ctx, spec.Name, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	started := st.StartedAt

	did, err = c.Ensure(ctx, spec, false)
	if err != nil || did != "" {
		t.Fatalf("ensure with nothing changed = %q, %v; want nothing", did, err)
	}
	if st2, _, _ := c.Inspect(ctx, spec.Name); st2.StartedAt != started {
		t.Fatalf("container restarted although nothing changed: %s → %s", started, st2.StartedAt)
	}

	did, err = c.Ensure(ctx, spec, true)
	if err != nil || did != "restarted" {
		t.Fatalf("ensure with a config change = %q, %v; want restarted", did, err)
	}

	spec.Environment["PROBE_WORD"] = "changed"
	if d, _, err := c.Compare(ctx, spec); err != nil || d != Recreate {
		t.Fatalf("compare after env change = %v, %v; want recreate", d, err)
	}
	did, err = c.Ensure(ctx, spec, false)
	if err != nil || did != "recreated" {
		t.Fatalf("ensure after env change = %q, %v; want recreated", did, err)
	}

	if stopped, err := c.Stop(ctx, spec.Name); err != nil || !stopped {
		t.Fatalf("stop = %v, %v", stopped, err)
	}
	if d, _, _ := c.Compare(ctx, spec); d != Stopped {
		t.Fatalf("compare of a stopped container = %v; want stopped", d)
	}
	if did, err := c.Ensure(ctx, spec, false); err != nil || did != "started" {
		t.Fatalf("ensure of a stopped container = %q, %v; want started", did, err)
	}
}

func TestRunOnce(t *testing.T) {
	c := engine(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	spec := Spec{Name: "koala_test_once", Image: probeImage, Command: []string{"/probe", "exit", "0"}, Environment: map[string]string{"PROBE_WORD": "bootstrap"}}
	out, err := c.RunOnce(ctx, spec, 30*time.Second)
	if err != nil || !strings.Contains(out, "probe says bootstrap") {
		t.Fatalf("RunOnce = %q, %v", out, err)
	}
	if _, ok, _ := c.Inspect(ctx, spec.Name); ok {
		t.Fatal("one-shot container left behind")
	}
	spec.Command = []string{"/probe", "exit", "3"}
	if _, err := c.RunOnce(ctx, spec, 30*time.Second); err == nil || !strings.Contains(err.Error(), "exited 3") || !strings.Contains(err.Error(), "probe says") {
		t.Fatalf("RunOnce of a failing command: %v", err)
	}
}

func TestPullMissingImageNamesHostAndRef(t *testing.T) {
	c := engine(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// A registry on a loopback port where nothing listens: fails at once.
	_, err := c.Pull(ctx, "127.0.0.1:1/kolla/keystone:nope", false)
	if err == nil || !strings.Contains(err.Error(), "local: pull 127.0.0.1:1/kolla/keystone:nope") {
		t.Fatalf("pull error = %v", err)
	}
}

// Silence cancels a pull's context, with errStalled as the cause; stop
// releases it without one.
func TestStallGuard(t *testing.T) {
	ctx, kick, stop := stallGuard(context.Background(), 10*time.Millisecond)
	defer stop()
	select {
	case <-ctx.Done():
	case <-time.After(time.Minute):
		t.Fatal("not cancelled after a minute of silence")
	}
	kick() // progress after the stall changes nothing
	if !errors.Is(context.Cause(ctx), errStalled) {
		t.Fatalf("cause %v", context.Cause(ctx))
	}
	ctx2, kick2, stop2 := stallGuard(context.Background(), time.Hour)
	kick2()
	if ctx2.Err() != nil {
		t.Fatal("cancelled while alive")
	}
	stop2()
	if ctx2.Err() == nil || errors.Is(context.Cause(ctx2), errStalled) {
		t.Fatalf("stop: err %v cause %v", ctx2.Err(), context.Cause(ctx2))
	}
}

// A forced pull is a change only when the tag comes to name another image:
// pulled from a real registry (Debian's docker-registry on loopback, which the
// engine trusts without TLS), again (same image: no change), and after a new
// image was pushed under the same tag.
func TestPullChangedOnlyOnNewImage(t *testing.T) {
	c := engine(t)
	addr := dockertest.Registry(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ref := addr + "/koala-test/probe:pull"
	docker := func(args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	push := func(from string) string {
		docker("tag", from, ref)
		docker("push", ref)
		id := docker("image", "inspect", "-f", "{{.Id}}", ref)
		docker("rmi", ref)
		return id
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", ref).Run() })
	first := push(probeImage)

	for i, want := range []bool{true, false} {
		changed, err := c.Pull(ctx, ref, true)
		if err != nil || changed != want {
			t.Fatalf("pull %d: changed %v, err %v; want %v", i+1, changed, err, want)
		}
	}
	// Another image under the same tag: the probe with one more label.
	ctr := docker("create", probeImage, "/probe")
	defer exec.Command("docker", "rm", ctr).Run()
	relabelled := docker("commit", "--change", "LABEL org.koala.test.pull=2", ctr)
	defer exec.Command("docker", "rmi", relabelled).Run()
	second := push(relabelled)
	if second == first {
		t.Fatal("the relabelled image has the first image's ID")
	}
	if changed, err := c.Pull(ctx, ref, true); err != nil || !changed {
		t.Fatalf("pull of the new image: changed %v, err %v; want true", changed, err)
	}
	if id := docker("image", "inspect", "-f", "{{.Id}}", ref); id != second {
		t.Fatalf("after the pull %s is %s, want %s", ref, id, second)
	}
}
