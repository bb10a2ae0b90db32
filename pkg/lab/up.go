package lab

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"
	"github.com/docker/go-connections/nat"
)

// UpResult says what Up did.
type UpResult struct {
	Built          []string // images built
	Created        []string // containers, volumes, networks made
	Started        []string // existing containers started
	Healed         []string // nodes reconnected to the lab network
	Inventory      string   // inventory file
	Globals        string   // globals.yml
	GlobalsWritten bool     // false when a globals.yml was already there
	// Outdated names the nodes kept running on an older node image than the
	// one this run has (a rebuilt image is used by new nodes only; `lab down`
	// then `lab up` recreates them).
	Outdated []string
}

// Changed reports whether Up changed anything on the engine.
func (r *UpResult) Changed() bool {
	return len(r.Built)+len(r.Created)+len(r.Started)+len(r.Healed) > 0
}

// undo remembers what a run made, to remove it again if the run fails.
type undo struct {
	do   []func(context.Context) error
	name []string
}

func (u *undo) add(name string, f func(context.Context) error) {
	u.name = append(u.name, name)
	u.do = append(u.do, f)
}

// run removes what was made, newest first, with its own deadline: the run's
// context may be the reason for the failure.
func (u *undo) run() error {
	ctx, cancel := context.WithTimeout(context.Background(), cleanTimeout)
	defer cancel()
	var errs []error
	for i := len(u.do) - 1; i >= 0; i-- {
		if err := u.do[i](ctx); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove %s: %w", u.name[i], err))
		}
	}
	return errors.Join(errs...)
}

// Up makes the lab exist and run: images, network, registry, nodes, keys,
// inventory. On a lab that is up it changes nothing. If it fails, it removes what
// it made in this run.
func Up(ctx context.Context, eng client.APIClient, p *Plan) (res *UpResult, err error) {
	res = &UpResult{Inventory: p.InventoryFile(), Globals: p.GlobalsFile()}
	existing, err := findNetwork(ctx, eng, p.Name)
	if err != nil {
		return nil, err
	}
	if existing != nil {
		if got := existing.Labels[LabelSubnet]; got != p.Subnet.String() {
			return nil, fmt.Errorf("lab %q exists on subnet %s, not %s: use --subnet %s or run `koala lab down --name %s` first", p.Name, got, p.Subnet, got, p.Name)
		}
	} else if err := checkOverlap(ctx, eng, p); err != nil {
		return nil, err
	}
	ctrs, err := labContainers(ctx, eng, p.Name)
	if err != nil {
		return nil, err
	}
	byName := map[string]container.Summary{}
	for _, c := range ctrs {
		byName[containerName(c)] = c
	}
	want := map[string]bool{p.RegistryContainer(): true}
	for _, n := range p.Nodes {
		want[n.Container] = true
	}
	for name, c := range byName {
		if !want[name] {
			return nil, fmt.Errorf("lab %q has %s (%s) which --nodes %d would not keep: run `koala lab down --name %s` first or ask for more nodes", p.Name, name, c.Labels[LabelNode], len(p.Nodes), p.Name)
		}
	}
	if _, ok := byName[p.RegistryContainer()]; !ok && localEngine(eng) {
		if err := portFree(p.RegPort); err != nil {
			return nil, err
		}
	}

	if res.Built, err = ensureImages(ctx, eng, p); err != nil {
		return nil, err
	}
	k, err := ensureKeys(p)
	if err != nil {
		return nil, err
	}

	u := &undo{}
	defer func() {
		if err != nil && len(u.do) > 0 {
			fmt.Fprintf(p.Log, "removing what this run made: %v\n", u.name)
			if uerr := u.run(); uerr != nil {
				err = fmt.Errorf("%w; cleaning up also failed: %v", err, uerr)
			}
			res.Created = nil
		}
	}()

	if existing == nil {
		if err := createNetwork(ctx, eng, p); err != nil {
			return res, err
		}
		u.add("network "+p.Network, func(ctx context.Context) error { return eng.NetworkRemove(ctx, p.Network) })
		res.Created = append(res.Created, "network "+p.Network)
	}
	ensureVolume := func(name, role string) error {
		if _, err := eng.VolumeInspect(ctx, name); err == nil {
			return nil
		} else if !errdefs.IsNotFound(err) {
			return fmt.Errorf("volume %s: %w", name, err)
		}
		if _, err := eng.VolumeCreate(ctx, volume.CreateOptions{Name: name, Labels: map[string]string{LabelLab: p.Name, LabelRole: role}}); err != nil {
			return fmt.Errorf("create volume %s: %w", name, err)
		}
		u.add("volume "+name, func(ctx context.Context) error { return eng.VolumeRemove(ctx, name, true) })
		res.Created = append(res.Created, "volume "+name)
		return nil
	}
	// ensureContainer creates a missing container with mk, reconnects a
	// partitioned one and starts a stopped one; it reports whether it started it.
	ensureContainer := func(name string, mk func() (string, error)) (bool, error) {
		c, ok := byName[name]
		if !ok {
			id, err := mk()
			if err != nil {
				return false, err
			}
			u.add("container "+name, func(ctx context.Context) error {
				return eng.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
			})
			res.Created = append(res.Created, "container "+name)
			return true, startContainer(ctx, eng, id)
		}
		if c.NetworkSettings == nil || c.NetworkSettings.Networks[p.Network] == nil {
			if err := connect(ctx, eng, p, c.ID, c.Labels[LabelAddress]); err != nil {
				return false, err
			}
			if c.State == "running" && c.Labels[LabelRole] == "node" {
				if err := renameInterface(ctx, eng, name, c.Labels[LabelAddress], p.Gateway.String()); err != nil {
					return false, err
				}
			}
			res.Healed = append(res.Healed, name)
		}
		if c.State != "running" {
			if err := startContainer(ctx, eng, c.ID); err != nil {
				return false, err
			}
			res.Started = append(res.Started, name)
			return true, nil
		}
		return false, nil
	}

	if err := ensureVolume(p.RegistryVolume(), "registry"); err != nil {
		return res, err
	}
	if _, err := ensureContainer(p.RegistryContainer(), func() (string, error) { return createRegistry(ctx, eng, p) }); err != nil {
		return res, err
	}
	nodeImage, err := eng.ImageInspect(ctx, p.NodeImage())
	if err != nil {
		return res, fmt.Errorf("node image %s: %w", p.NodeImage(), err)
	}
	if err := ensureVolume(p.SharedVolume(), "shared"); err != nil {
		return res, err
	}
	var waitFor []NodePlan
	for _, n := range p.Nodes {
		if c, ok := byName[n.Container]; ok && c.ImageID != nodeImage.ID {
			res.Outdated = append(res.Outdated, n.Hostname)
		}
		if err := ensureVolume(n.Volume, "node"); err != nil {
			return res, err
		}
		started, err := ensureContainer(n.Container, func() (string, error) { return createNode(ctx, eng, p, n, k) })
		if err != nil {
			return res, err
		}
		if started {
			waitFor = append(waitFor, n)
		}
	}
	if err := waitNodes(ctx, eng, waitFor); err != nil {
		return res, err
	}
	if localEngine(eng) {
		if err := waitRegistry(ctx, p.RegPort); err != nil {
			return res, err
		}
	}

	kh, err := knownHosts(p, k.hostPub)
	if err != nil {
		return res, err
	}
	if _, err := writeIfChanged(p.KnownHostsFile(), kh, 0o644); err != nil {
		return res, err
	}
	if _, err := writeIfChanged(p.InventoryFile(), []byte(p.Inventory()), 0o644); err != nil {
		return res, err
	}
	if _, err := os.Stat(p.GlobalsFile()); errors.Is(err, os.ErrNotExist) {
		if _, err := writeIfChanged(p.GlobalsFile(), []byte(p.Globals()), 0o644); err != nil {
			return res, err
		}
		res.GlobalsWritten = true
	}
	return res, nil
}

func findNetwork(ctx context.Context, eng client.APIClient, name string) (*network.Summary, error) {
	nets, err := eng.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("label", labFilter(name)))})
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	if len(nets) == 0 {
		return nil, nil
	}
	return &nets[0], nil
}

func labContainers(ctx context.Context, eng client.APIClient, name string) ([]container.Summary, error) {
	ctrs, err := eng.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", labFilter(name)))})
	if err != nil {
		return nil, fmt.Errorf("list containers of lab %q: %w", name, err)
	}
	return ctrs, nil
}

func containerName(c container.Summary) string {
	if len(c.Names) == 0 {
		return c.ID
	}
	n := c.Names[0]
	if len(n) > 0 && n[0] == '/' {
		n = n[1:]
	}
	return n
}

// checkOverlap refuses a subnet that overlaps a Docker network or, for a local
// engine, an address of this machine's interfaces.
func checkOverlap(ctx context.Context, eng client.APIClient, p *Plan) error {
	nets, err := eng.NetworkList(ctx, network.ListOptions{})
	if err != nil {
		return fmt.Errorf("list networks: %w", err)
	}
	for _, n := range nets {
		for _, c := range n.IPAM.Config {
			other, err := netip.ParsePrefix(c.Subnet)
			if err == nil && other.Overlaps(p.Subnet) {
				return fmt.Errorf("--subnet %s overlaps Docker network %q (%s): choose another subnet with --subnet", p.Subnet, n.Name, other)
			}
		}
	}
	if !localEngine(eng) {
		return nil
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil // nothing to compare with; Docker networks were checked
	}
	for _, ifc := range ifaces {
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			pfx, err := netip.ParsePrefix(ipn.String())
			if err == nil && pfx.Masked().Overlaps(p.Subnet) {
				return fmt.Errorf("--subnet %s overlaps %s on this machine's interface %s: choose another subnet with --subnet", p.Subnet, pfx, ifc.Name)
			}
		}
	}
	return nil
}

func portFree(port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("registry port 127.0.0.1:%d is in use (%v): choose another with --registry-port", port, err)
	}
	return l.Close()
}

func createNetwork(ctx context.Context, eng client.APIClient, p *Plan) error {
	_, err := eng.NetworkCreate(ctx, p.Network, network.CreateOptions{
		Driver: "bridge",
		IPAM: &network.IPAM{Config: []network.IPAMConfig{{
			Subnet:  p.Subnet.String(),
			IPRange: p.IPRange.String(),
			Gateway: p.Gateway.String(),
		}}},
		Labels: map[string]string{LabelLab: p.Name, LabelSubnet: p.Subnet.String()},
	})
	if err != nil {
		return fmt.Errorf("create network %s (%s): %w", p.Network, p.Subnet, err)
	}
	return nil
}

func endpoint(p *Plan, addr string) *network.NetworkingConfig {
	return &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
		p.Network: {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: addr}},
	}}
}

func createRegistry(ctx context.Context, eng client.APIClient, p *Plan) (string, error) {
	port := nat.Port(fmt.Sprintf("%d/tcp", RegistryPort))
	cfg := &container.Config{
		Image:        p.RegistryImage(),
		Hostname:     "registry",
		ExposedPorts: nat.PortSet{port: {}},
		Labels:       map[string]string{LabelLab: p.Name, LabelRole: "registry", LabelAddress: p.Registry.String()},
	}
	hc := &container.HostConfig{
		NetworkMode:   container.NetworkMode(p.Network),
		PortBindings:  nat.PortMap{port: {{HostIP: "127.0.0.1", HostPort: strconv.Itoa(p.RegPort)}}},
		Mounts:        []mount.Mount{{Type: mount.TypeVolume, Source: p.RegistryVolume(), Target: "/var/lib/docker-registry"}},
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyUnlessStopped},
	}
	c, err := eng.ContainerCreate(ctx, cfg, hc, endpoint(p, p.Registry.String()), nil, p.RegistryContainer())
	if err != nil {
		return "", fmt.Errorf("create registry container %s: %w", p.RegistryContainer(), err)
	}
	return c.ID, nil
}

func createNode(ctx context.Context, eng client.APIClient, p *Plan, n NodePlan, k *keys) (string, error) {
	cfg := &container.Config{
		Image:    p.NodeImage(),
		Hostname: n.Hostname,
		Labels: map[string]string{
			LabelLab: p.Name, LabelRole: "node", LabelNode: n.Hostname, LabelAddress: n.Addr.String(),
		},
		StopTimeout: ptr(stopTimeout),
	}
	c, err := eng.ContainerCreate(ctx, cfg, nodeHostConfig(eng, p, n), endpoint(p, n.Addr.String()), nil, n.Container)
	if err != nil {
		return "", fmt.Errorf("create node %s: %w", n.Container, err)
	}
	files, err := nodeFiles(k)
	if err == nil {
		err = eng.CopyToContainer(ctx, c.ID, "/", files, container.CopyToContainerOptions{})
	}
	if err != nil {
		eng.ContainerRemove(context.WithoutCancel(ctx), c.ID, container.RemoveOptions{Force: true})
		return "", fmt.Errorf("node %s: install SSH keys: %w", n.Container, err)
	}
	return c.ID, nil
}

func ptr[T any](v T) *T { return &v }

// nodeUID is the uid/gid of User in the node image.
const nodeUID = 1000

// nodeFiles is a tar of the node's SSH host key and the login user's
// authorized_keys.
func nodeFiles(k *keys) (*bytes.Buffer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	entries := []struct {
		name     string
		mode     int64
		uid      int
		data     []byte
		dir      bool
		typeflag byte
	}{
		{name: "etc/ssh/ssh_host_ed25519_key", mode: 0o600, data: k.hostPriv},
		{name: "etc/ssh/ssh_host_ed25519_key.pub", mode: 0o644, data: k.hostPub},
		{name: "home/" + User + "/.ssh/", mode: 0o700, uid: nodeUID, dir: true},
		{name: "home/" + User + "/.ssh/authorized_keys", mode: 0o600, uid: nodeUID, data: k.clientPub},
	}
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.uid, Size: int64(len(e.data)), ModTime: now, Typeflag: tar.TypeReg}
		if e.dir {
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	return &buf, tw.Close()
}

func startContainer(ctx context.Context, eng client.APIClient, id string) error {
	if err := eng.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		return fmt.Errorf("start container %s: %w", shortID(id), err)
	}
	return nil
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// waitNodes waits until every node's sshd and dockerd answer.
func waitNodes(ctx context.Context, eng client.APIClient, nodes []NodePlan) error {
	var wg sync.WaitGroup
	errs := make([]error, len(nodes))
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = waitNode(ctx, eng, n.Container)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func waitNode(ctx context.Context, eng client.APIClient, ctr string) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	var last string
	for {
		r, err := Exec(ctx, eng, ctr, "/usr/local/sbin/koala-node-ready")
		if err == nil && r.RC == 0 {
			return nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("readiness check exit %d %s", r.RC, r.Stderr)
		}
		if ins, ierr := eng.ContainerInspect(ctx, ctr); ierr == nil && ins.State != nil && !ins.State.Running {
			return fmt.Errorf("node %s stopped while starting (exit %d): see `docker logs %s`", ctr, ins.State.ExitCode, ctr)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s: sshd and dockerd did not come up within %s (last: %s): see `docker logs %s` and /var/log/docker.log in it", ctr, readyTimeout, last, ctr)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// waitRegistry waits until the registry answers on the host's loopback.
func waitRegistry(ctx context.Context, port int) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	url := fmt.Sprintf("http://127.0.0.1:%d/v2/", port)
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("HTTP %s", resp.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("registry at %s did not answer within %s (last: %v)", url, readyTimeout, last)
		case <-time.After(300 * time.Millisecond):
		}
	}
}
