package lab

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"

	"github.com/koala-stack/koala/internal/dockertest"
	"github.com/koala-stack/koala/pkg/inventory"
	"github.com/koala-stack/koala/pkg/transport"
)

// engine returns a client of the local Docker engine, or skips the test.
func engine(t *testing.T) *client.Client {
	t.Helper()
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatalf("docker client: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Ping(ctx); err != nil {
		t.Skipf("SKIP: no Docker engine reachable (%v): the lab needs one", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// freeSubnet finds a /24 under 10.199.0.0/16 that no Docker network or local
// interface uses.
func freeSubnet(t *testing.T, eng client.APIClient) string {
	t.Helper()
	for i := 10; i < 250; i++ {
		s := fmt.Sprintf("10.199.%d.0/24", i)
		p, err := NewPlan(Config{Nodes: 1, Subnet: s, Dir: "-"})
		if err != nil {
			t.Fatal(err)
		}
		if checkOverlap(context.Background(), eng, p) == nil {
			return s
		}
	}
	t.Fatal("no free /24 in 10.199.0.0/16")
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// leftovers lists what still carries the lab's label.
func leftovers(t *testing.T, eng client.APIClient, name string) []string {
	t.Helper()
	ctx := context.Background()
	f := filters.NewArgs(filters.Arg("label", labFilter(name)))
	var out []string
	ctrs, err := eng.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range ctrs {
		out = append(out, "container "+containerName(c))
	}
	vols, err := eng.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vols.Volumes {
		out = append(out, "volume "+v.Name)
	}
	nets, err := eng.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nets {
		out = append(out, "network "+n.Name)
	}
	return out
}

// testPlan is a plan for a lab of its own: name, subnet, port and directory.
func testPlan(t *testing.T, eng client.APIClient, nodes int) *Plan {
	t.Helper()
	p, err := NewPlan(Config{
		Name:         fmt.Sprintf("koalatest-%d-%d", os.Getpid()%100000, time.Now().UnixNano()%1000),
		Dir:          t.TempDir(),
		Nodes:        nodes,
		Subnet:       freeSubnet(t, eng),
		RegistryPort: freePort(t),
		Log:          dockertest.Log(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := Down(context.Background(), eng, p.Name); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return p
}

// TestLab is the one real lab of the test suite: `up --nodes 3`, then every
// check against it, then `down`.
func TestLab(t *testing.T) {
	eng := engine(t)
	dockertest.Base(t)
	ctx := context.Background()
	p := testPlan(t, eng, 3)

	start := time.Now()
	res, err := Up(ctx, eng, p)
	if err != nil {
		t.Fatalf("lab up: %v", err)
	}
	t.Logf("lab up --nodes 3: %s (built %v)", time.Since(start).Round(100*time.Millisecond), res.Built)

	// The inventory, read by koala's own inventory and transport packages.
	inv, err := inventory.Load(res.Inventory)
	if err != nil {
		t.Fatalf("load the written inventory: %v", err)
	}
	sshConfig := filepath.Join(t.TempDir(), "ssh_config")
	if err := os.WriteFile(sshConfig, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// The inventory names the lab's known_hosts; the pool's own file is
	// empty, so strict checking passes only through the inventory's.
	pool := transport.NewPool(transport.PoolOptions{
		KnownHostsFile: filepath.Join(t.TempDir(), "empty_known_hosts"),
		HostKeyPolicy:  transport.Strict,
		SSHConfigFile:  sshConfig,
		ConnectTimeout: 10 * time.Second,
	})
	defer pool.Close()
	sh := func(t *testing.T, host, cmd string) string {
		t.Helper()
		cctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		defer cancel()
		conn, err := pool.Get(cctx, transport.SpecFromVars(host, inv.HostVars(host)))
		if err != nil {
			t.Fatalf("ssh %s: %v", host, err)
		}
		r, err := conn.Exec(cctx, transport.Command{Cmd: cmd})
		if err != nil {
			t.Fatalf("ssh %s %q: %v", host, cmd, err)
		}
		if r.RC != 0 {
			t.Fatalf("ssh %s %q: exit %d\nstdout: %s\nstderr: %s", host, cmd, r.RC, r.Stdout, r.Stderr)
		}
		return strings.TrimSpace(string(r.Stdout))
	}

	t.Run("up again changes nothing", func(t *testing.T) {
		res, err := Up(ctx, eng, p)
		if err != nil {
			t.Fatalf("second lab up: %v", err)
		}
		if res.Changed() || res.GlobalsWritten || len(res.Outdated) > 0 {
			t.Fatalf("second lab up changed something or found outdated nodes: %+v", res)
		}
	})

	t.Run("up names nodes on an older node image", func(t *testing.T) {
		// A newer node image under the tag: node01 committed with one more label.
		orig, err := eng.ImageInspect(ctx, p.NodeImage())
		if err != nil {
			t.Fatal(err)
		}
		newer, err := eng.ContainerCommit(ctx, p.Nodes[0].Container, container.CommitOptions{Pause: false, Changes: []string{"LABEL org.koala.test.outdated=1"}})
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := eng.ImageTag(ctx, orig.ID, p.NodeImage()); err != nil {
				t.Errorf("restore %s: %v", p.NodeImage(), err)
			}
			eng.ImageRemove(ctx, newer.ID, image.RemoveOptions{Force: true})
		}()
		if err := eng.ImageTag(ctx, newer.ID, p.NodeImage()); err != nil {
			t.Fatal(err)
		}
		res, err := Up(ctx, eng, p)
		if err != nil {
			t.Fatalf("lab up: %v", err)
		}
		if got := strings.Join(res.Outdated, " "); got != "node01 node02 node03" || res.Changed() {
			t.Fatalf("outdated %q (changed %v), want every node and no change", got, res.Changed())
		}
	})

	t.Run("a removed node is made again by up", func(t *testing.T) {
		n3 := p.Nodes[2]
		if err := RemoveNodes(ctx, eng, p, []string{n3.Hostname}); err != nil {
			t.Fatal(err)
		}
		if err := RemoveNodes(ctx, eng, p, []string{"node99"}); err == nil || !strings.Contains(err.Error(), "no node node99") {
			t.Errorf("remove of an unknown node: %v", err)
		}
		res, err := Up(ctx, eng, p)
		if err != nil {
			t.Fatalf("lab up: %v", err)
		}
		if !slices.Contains(res.Created, "container "+n3.Container) || !slices.Contains(res.Created, "volume "+n3.Volume) || len(res.Outdated) > 0 {
			t.Fatalf("up after removing %s: %+v", n3.Hostname, res)
		}
		if out := sh(t, n3.Hostname, "hostname; sudo docker images -q | wc -l"); out != n3.Hostname+"\n0" {
			t.Errorf("%s after being made again: %q, want its name and no inner image", n3.Hostname, out)
		}
	})

	t.Run("ssh and docker on every node", func(t *testing.T) {
		if got := inv.GroupHosts("control"); strings.Join(got, ",") != "node01,node02,node03" {
			t.Fatalf("control group = %v", got)
		}
		for _, n := range p.Nodes {
			out := sh(t, n.Hostname, "hostname; ip -o -4 addr show dev eth0; sudo docker info --format '{{.ServerVersion}} {{.Driver}}'")
			if !strings.HasPrefix(out, n.Hostname+"\n") || !strings.Contains(out, " "+n.Addr.String()+"/") || !strings.Contains(out, "overlay2") {
				t.Errorf("%s: unexpected answer:\n%s", n.Hostname, out)
			}
		}
	})

	ref := "koalatest/base:" + p.Name
	t.Run("a node pulls from the lab registry", func(t *testing.T) {
		local := fmt.Sprintf("127.0.0.1:%d/%s", p.RegPort, ref)
		if err := eng.ImageTag(ctx, p.BaseImage, local); err != nil {
			t.Fatal(err)
		}
		defer eng.ImageRemove(context.Background(), local, image.RemoveOptions{})
		pctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		rc, err := eng.ImagePush(pctx, local, image.PushOptions{RegistryAuth: base64.URLEncoding.EncodeToString([]byte("{}"))})
		if err != nil {
			t.Fatalf("push %s: %v", local, err)
		}
		err = streamErr(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("push %s: %v", local, err)
		}
		// What `koala bootstrap-servers` does for users: trust the registry.
		sh(t, "node01", fmt.Sprintf(`echo '{"insecure-registries": ["%s"]}' | sudo tee /etc/docker/daemon.json >/dev/null && sudo service docker restart >/dev/null && for i in $(seq 120); do sudo docker info >/dev/null 2>&1 && break; sleep 0.5; done`, p.RegHost))
		out := sh(t, "node01", fmt.Sprintf("sudo docker pull -q %s/%s && sudo docker run --rm %s/%s cat /etc/debian_version", p.RegHost, ref, p.RegHost, ref))
		if !strings.Contains(out, p.RegHost+"/"+ref) {
			t.Fatalf("pull answered %q", out)
		}
	})

	t.Run("privileged inner container holds the VIP", func(t *testing.T) {
		img := p.RegHost + "/" + ref
		if r, err := Exec(ctx, eng, p.Nodes[0].Container, "docker", "image", "inspect", img); err != nil || r.RC != 0 {
			t.Skip("SKIP: no image in node01 (the registry subtest failed)")
		}
		sh(t, "node01", fmt.Sprintf("sudo docker run --rm --privileged --network host -v /:/host:ro %s chroot /host ip addr add %s/32 dev %s", img, p.VIP, Interface))
		st, err := Status(ctx, eng, p.Name)
		if err != nil {
			t.Fatal(err)
		}
		var holders []string
		for _, m := range st.Members {
			if m.HasVIP {
				holders = append(holders, m.Hostname)
			}
		}
		if strings.Join(holders, ",") != "node01" {
			t.Fatalf("VIP holders = %v, want [node01]", holders)
		}
		sh(t, "node02", fmt.Sprintf("ping -c1 -W2 %s >/dev/null", p.VIP))
		sh(t, "node01", fmt.Sprintf("sudo ip addr del %s/32 dev %s", p.VIP, Interface))
	})

	// What nova's and neutron's containers need of a host: Kolla's
	// /run:/run:shared volume (a mount made inside shows on the node, as the
	// agents' network namespaces must) and bridge settings under /sys.
	t.Run("inner containers get shared /run and writable /sys", func(t *testing.T) {
		img := p.RegHost + "/" + ref
		if r, err := Exec(ctx, eng, p.Nodes[0].Container, "docker", "image", "inspect", img); err != nil || r.RC != 0 {
			t.Skip("SKIP: no image in node01 (the registry subtest failed)")
		}
		out := sh(t, "node01", fmt.Sprintf(`set -e
sudo mkdir -p /run/koalatest-mnt
sudo ip link add koalatestbr type bridge
trap 'sudo ip link del koalatestbr; sudo umount /run/koalatest-mnt 2>/dev/null; sudo rmdir /run/koalatest-mnt' EXIT
sudo docker run --rm --privileged --network host -v /run:/run:shared %s sh -ec   'mount -t tmpfs koalatest /run/koalatest-mnt; echo 0 >/sys/class/net/koalatestbr/bridge/multicast_snooping'
findmnt -no SOURCE /run/koalatest-mnt
cat /sys/class/net/koalatestbr/bridge/multicast_snooping`, img))
		if out != "koalatest\n0" {
			t.Errorf("node01 after the inner container: %q, want its tmpfs mount under /run and multicast_snooping 0", out)
		}
	})

	t.Run("partition and heal", func(t *testing.T) {
		n3 := p.Nodes[2]
		if err := Partition(ctx, eng, p.Name, n3.Hostname); err != nil {
			t.Fatal(err)
		}
		if err := Partition(ctx, eng, p.Name, n3.Hostname); err == nil {
			t.Error("partitioning a partitioned node succeeded")
		}
		if out := sh(t, "node01", fmt.Sprintf("ping -c1 -W1 %s >/dev/null 2>&1 && echo reachable || echo unreachable", n3.Addr)); out != "unreachable" {
			t.Errorf("partitioned node03 is %s from node01", out)
		}
		if st, _ := Status(ctx, eng, p.Name); st != nil {
			for _, m := range st.Members {
				if m.Hostname == n3.Hostname && m.Connected {
					t.Errorf("status says partitioned %s is connected", m.Hostname)
				}
			}
		}
		if err := Heal(ctx, eng, p.Name, n3.Hostname); err != nil {
			t.Fatal(err)
		}
		sh(t, "node01", fmt.Sprintf("ping -c1 -W2 %s >/dev/null", n3.Addr))
		if out := sh(t, n3.Hostname, "ip -o -4 addr show dev eth0; ip route show default"); !strings.Contains(out, " "+n3.Addr.String()+"/") || !strings.Contains(out, "default via "+p.Gateway.String()) {
			t.Errorf("healed node03 network:\n%s", out)
		}
	})

	// The shared volume is one file system on every node (glance's images).
	t.Run("shared storage", func(t *testing.T) {
		sh(t, "node01", "echo from-node01 | sudo tee "+SharedDir+"/probe >/dev/null")
		if out := sh(t, p.Nodes[2].Hostname, "cat "+SharedDir+"/probe"); out != "from-node01" {
			t.Errorf("%s reads %q in %s, want what node01 wrote", p.Nodes[2].Hostname, out, SharedDir)
		}
	})

	t.Run("stop, kill and start keep the address", func(t *testing.T) {
		n2 := p.Nodes[1]
		// As bootstrap-servers leaves it: a setting in /etc/sysctl.d that the
		// node's new network namespace must get again after each start.
		sh(t, n2.Hostname, "echo net.ipv4.ip_nonlocal_bind=1 | sudo tee /etc/sysctl.d/99-test.conf >/dev/null")
		if err := Stop(ctx, eng, p.Name, n2.Hostname); err != nil {
			t.Fatal(err)
		}
		if err := Start(ctx, eng, p.Name, n2.Hostname); err != nil {
			t.Fatal(err)
		}
		if err := Kill(ctx, eng, p.Name, n2.Hostname); err != nil {
			t.Fatal(err)
		}
		if err := Start(ctx, eng, p.Name, n2.Hostname); err != nil {
			t.Fatalf("start after kill: %v", err)
		}
		// The pool's connection died with the node; a fresh pool dials again.
		pool2 := transport.NewPool(transport.PoolOptions{KnownHostsFile: p.KnownHostsFile(), HostKeyPolicy: transport.Strict, SSHConfigFile: sshConfig, ConnectTimeout: 10 * time.Second})
		defer pool2.Close()
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		conn, err := pool2.Get(cctx, transport.SpecFromVars(n2.Hostname, inv.HostVars(n2.Hostname)))
		if err != nil {
			t.Fatalf("ssh %s after restart: %v", n2.Hostname, err)
		}
		r, err := conn.Exec(cctx, transport.Command{Cmd: "ip -o -4 addr show dev eth0; sudo docker info --format '{{.ServerVersion}}'; echo nonlocal_bind=$(cat /proc/sys/net/ipv4/ip_nonlocal_bind); echo sys=$(findmnt -no OPTIONS /sys | cut -d, -f1) root=$(findmnt -no PROPAGATION / | cut -d, -f1)"})
		if err != nil || r.RC != 0 || !strings.Contains(string(r.Stdout), " "+n2.Addr.String()+"/") {
			t.Fatalf("%s after restart: err %v rc %d out %s %s", n2.Hostname, err, r.RC, r.Stdout, r.Stderr)
		}
		if !strings.Contains(string(r.Stdout), "nonlocal_bind=1\n") {
			t.Errorf("%s after kill and start: /etc/sysctl.d not applied:\n%s", n2.Hostname, r.Stdout)
		}
		if !strings.Contains(string(r.Stdout), "sys=rw root=shared\n") {
			t.Errorf("%s after kill and start: /sys not writable or / not shared:\n%s", n2.Hostname, r.Stdout)
		}
		if err := Stop(ctx, eng, p.Name, "node99"); err == nil || !strings.Contains(err.Error(), "no node") {
			t.Errorf("stop of an unknown node: %v", err)
		}
	})

	t.Run("down removes exactly the lab", func(t *testing.T) {
		// Something that is not the lab's, named like it: it must survive.
		other, err := eng.VolumeCreate(ctx, volume.CreateOptions{Name: p.Name + "-node01-docker-not-lab"})
		if err != nil {
			t.Fatal(err)
		}
		defer eng.VolumeRemove(context.Background(), other.Name, true)
		removed, err := Down(ctx, eng, p.Name)
		if err != nil {
			t.Fatalf("lab down: %v", err)
		}
		if len(removed) != 10 { // 4 containers, 5 volumes (with the shared one), 1 network
			t.Errorf("down removed %d things, want 10: %v", len(removed), removed)
		}
		if left := leftovers(t, eng, p.Name); len(left) > 0 {
			t.Errorf("after down: %v", left)
		}
		if _, err := eng.VolumeInspect(ctx, other.Name); err != nil {
			t.Errorf("down removed an unlabelled volume: %v", err)
		}
		if _, err := os.Stat(p.KeyFile()); err != nil {
			t.Errorf("down removed the lab directory's key: %v", err)
		}
	})
}

// TestUpRefusesBadInput: each mistake is reported and nothing is left behind.
// Needs the lab images (built by TestLab or an earlier `koala lab up`) only for
// the last case, which fails half-way through.
func TestUpRefusesBadInput(t *testing.T) {
	eng := engine(t)
	ctx := context.Background()

	t.Run("subnet overlapping a Docker network", func(t *testing.T) {
		p := testPlan(t, eng, 1)
		nets, err := eng.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("name", "bridge"))})
		if err != nil || len(nets) == 0 || len(nets[0].IPAM.Config) == 0 {
			t.Skipf("SKIP: no default bridge network to overlap (%v)", err)
		}
		pfx := netip.MustParsePrefix(nets[0].IPAM.Config[0].Subnet)
		p.Subnet = netip.PrefixFrom(pfx.Addr(), 24)
		_, err = Up(ctx, eng, p)
		if err == nil || !strings.Contains(err.Error(), "overlaps Docker network") {
			t.Fatalf("Up on %s: %v, want an overlap error", p.Subnet, err)
		}
		if left := leftovers(t, eng, p.Name); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
	})

	t.Run("missing base image", func(t *testing.T) {
		p := testPlan(t, eng, 1)
		p.BaseImage = "koala-no-such-base:missing"
		_, err := Up(ctx, eng, p)
		if !errors.Is(err, ErrNoBaseImage) || !strings.Contains(err.Error(), "koala lab base") {
			t.Fatalf("Up without base image: %v", err)
		}
		if left := leftovers(t, eng, p.Name); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
	})

	t.Run("unreachable engine", func(t *testing.T) {
		bad, err := client.NewClientWithOpts(client.WithHost("unix:///nonexistent/docker.sock"), client.WithAPIVersionNegotiation())
		if err != nil {
			t.Fatal(err)
		}
		defer bad.Close()
		p, err := NewPlan(Config{Nodes: 1, Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Up(ctx, bad, p); err == nil {
			t.Fatal("Up with an unreachable engine succeeded")
		}
	})

	t.Run("failure half-way removes what was made", func(t *testing.T) {
		dockertest.Base(t)
		p := testPlan(t, eng, 2)
		for _, ref := range []string{p.NodeImage(), p.RegistryImage()} {
			if _, err := eng.ImageInspect(ctx, ref); err != nil {
				t.Skipf("SKIP: %s not built (run TestLab or `koala lab up` first): %v", ref, err)
			}
		}
		// A container squatting node02's name makes the second node's create fail
		// after the network, the registry and node01 exist.
		squat, err := eng.ContainerCreate(ctx, &container.Config{Image: p.BaseImage, Cmd: []string{"true"}}, nil, nil, nil, p.Nodes[1].Container)
		if err != nil {
			t.Fatal(err)
		}
		defer eng.ContainerRemove(context.Background(), squat.ID, container.RemoveOptions{Force: true})
		_, err = Up(ctx, eng, p)
		if err == nil || !strings.Contains(err.Error(), p.Nodes[1].Container) {
			t.Fatalf("Up with %s taken: %v", p.Nodes[1].Container, err)
		}
		if left := leftovers(t, eng, p.Name); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
		if _, err := eng.ContainerInspect(ctx, squat.ID); err != nil {
			t.Errorf("the unrelated container was removed: %v", err)
		}
	})
}

// streamErr reads a Docker JSON message stream and returns its first error.
func streamErr(r interface{ Read([]byte) (int, error) }) error {
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	for _, line := range strings.Split(b.String(), "\n") {
		if i := strings.Index(line, `"error":`); i >= 0 {
			return errors.New(line)
		}
	}
	return nil
}
