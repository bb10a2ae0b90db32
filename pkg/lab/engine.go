package lab

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
)

// Timeouts of the lab's waits.
const (
	execTimeout  = 60 * time.Second // one command inside a node
	readyTimeout = 3 * time.Minute  // a node's sshd and dockerd answering
	stopTimeout  = 30               // seconds a node gets to stop its engine
	cleanTimeout = 2 * time.Minute  // removing what a failed run made
)

// ExecResult is what a command inside a container did.
type ExecResult struct {
	RC     int
	Stdout string
	Stderr string
}

// Exec runs argv inside a running container and waits (at most execTimeout).
func Exec(ctx context.Context, eng client.APIClient, ctr string, argv ...string) (ExecResult, error) {
	ctx, cancel := context.WithTimeout(ctx, execTimeout)
	defer cancel()
	ex, err := eng.ContainerExecCreate(ctx, ctr, container.ExecOptions{Cmd: argv, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return ExecResult{}, fmt.Errorf("exec %q in %s: %w", strings.Join(argv, " "), ctr, err)
	}
	att, err := eng.ContainerExecAttach(ctx, ex.ID, container.ExecAttachOptions{})
	if err != nil {
		return ExecResult{}, fmt.Errorf("exec %q in %s: %w", strings.Join(argv, " "), ctr, err)
	}
	defer att.Close()
	var out, errb bytes.Buffer
	done := make(chan error, 1)
	go func() { _, err := stdcopy.StdCopy(&out, &errb, att.Reader); done <- err }()
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		return ExecResult{}, fmt.Errorf("exec %q in %s: %w", strings.Join(argv, " "), ctr, err)
	}
	insp, err := eng.ContainerExecInspect(ctx, ex.ID)
	if err != nil {
		return ExecResult{}, fmt.Errorf("exec %q in %s: %w", strings.Join(argv, " "), ctr, err)
	}
	return ExecResult{RC: insp.ExitCode, Stdout: out.String(), Stderr: errb.String()}, nil
}

// capNames are the capabilities by number, as the kernel numbers them.
var capNames = []string{
	"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
	"SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST",
	"NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO",
	"SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
	"SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE",
	"AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
	"BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
}

// missingCaps lists the capabilities absent from this process's bounding set.
// For a local engine that is the set dockerd cannot grant either (both run
// under the same limits), so node containers must not ask for them.
func missingCaps() []string {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil
	}
	for _, line := range strings.Split(string(data), "\n") {
		hex, ok := strings.CutPrefix(line, "CapBnd:")
		if !ok {
			continue
		}
		bnd, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
		if err != nil {
			return nil
		}
		var missing []string
		for i, name := range capNames {
			if bnd&(1<<i) == 0 {
				missing = append(missing, name)
			}
		}
		return missing
	}
	return nil
}

// localEngine reports whether the engine runs on this machine.
func localEngine(eng client.APIClient) bool {
	return strings.HasPrefix(eng.DaemonHost(), "unix://")
}

// nodeHostConfig is what makes a node container a host: every capability the
// engine can grant, no seccomp/AppArmor confinement, all devices allowed,
// writable /proc/sys, tmpfs /run and /tmp (no stale pid files after a kill), the
// node's own /var/lib/docker volume, the lab's shared volume and the host's
// kernel modules.
func nodeHostConfig(eng client.APIClient, p *Plan, n NodePlan) *container.HostConfig {
	hc := &container.HostConfig{
		NetworkMode: container.NetworkMode(p.Network),
		Tmpfs:       map[string]string{"/run": "rw,exec,nosuid,nodev,mode=755", "/tmp": "rw,exec,nosuid,nodev,mode=1777"},
		Mounts: []mount.Mount{
			{Type: mount.TypeVolume, Source: n.Volume, Target: "/var/lib/docker"},
			{Type: mount.TypeVolume, Source: p.SharedVolume(), Target: SharedDir},
		},
	}
	if _, err := os.Stat("/lib/modules"); err == nil && localEngine(eng) {
		hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeBind, Source: "/lib/modules", Target: "/lib/modules", ReadOnly: true})
	}
	var missing []string
	if localEngine(eng) {
		missing = missingCaps()
	}
	if len(missing) == 0 {
		hc.Privileged = true
		return hc
	}
	hc.CapAdd = []string{"ALL"}
	hc.CapDrop = missing
	hc.SecurityOpt = []string{"seccomp=unconfined", "apparmor=unconfined", "label=disable"}
	hc.MaskedPaths, hc.ReadonlyPaths = []string{}, []string{} // the CLI's systempaths=unconfined
	hc.Resources.DeviceCgroupRules = []string{"a *:* rwm"}
	for _, dev := range []string{"/dev/fuse", "/dev/net/tun", "/dev/kvm"} {
		if _, err := os.Stat(dev); err == nil {
			hc.Resources.Devices = append(hc.Resources.Devices, container.DeviceMapping{PathOnHost: dev, PathInContainer: dev, CgroupPermissions: "rwm"})
		}
	}
	return hc
}
