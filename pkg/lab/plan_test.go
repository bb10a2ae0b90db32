package lab

import (
	"strings"
	"testing"
)

func TestNewPlanRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no nodes", Config{Nodes: 0, Dir: "/x"}, "at least 1 node"},
		{"negative nodes", Config{Nodes: -2, Dir: "/x"}, "at least 1 node"},
		{"not a CIDR", Config{Nodes: 1, Subnet: "10.1.2.3", Dir: "/x"}, "IPv4 CIDR"},
		{"IPv6", Config{Nodes: 1, Subnet: "fd00::/64", Dir: "/x"}, "IPv4 CIDR"},
		{"host bits", Config{Nodes: 1, Subnet: "10.1.2.3/24", Dir: "/x"}, "did you mean 10.1.2.0/24"},
		{"too small", Config{Nodes: 1, Subnet: "10.1.2.0/26", Dir: "/x"}, "too small"},
		{"too many nodes", Config{Nodes: 200, Dir: "/x"}, "at most 117 nodes"},
		{"bad name", Config{Name: "Bad_Name", Nodes: 1, Dir: "/x"}, "lab name"},
		{"bad port", Config{Nodes: 1, RegistryPort: 70000, Dir: "/x"}, "not a TCP port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewPlan(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewPlan(%+v) error = %v, want one containing %q", tc.cfg, err, tc.want)
			}
		})
	}
}

func TestPlanAddresses(t *testing.T) {
	p, err := NewPlan(Config{Name: "lab1", Nodes: 3, Subnet: "10.50.0.0/24", Dir: "/labs/lab1"})
	if err != nil {
		t.Fatal(err)
	}
	got := []string{p.Gateway.String(), p.Registry.String(), p.VIP.String(), p.IPRange.String(), p.RegHost}
	want := []string{"10.50.0.1", "10.50.0.2", "10.50.0.10", "10.50.0.128/25", "10.50.0.2:5000"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("plan address %d = %s, want %s", i, got[i], want[i])
		}
	}
	for i, n := range p.Nodes {
		if wantHost, wantAddr := []string{"node01", "node02", "node03"}[i], []string{"10.50.0.11", "10.50.0.12", "10.50.0.13"}[i]; n.Hostname != wantHost || n.Addr.String() != wantAddr || n.Container != "lab1-"+wantHost {
			t.Errorf("node %d = %+v, want %s at %s", i, n, wantHost, wantAddr)
		}
		if p.IPRange.Contains(n.Addr) || p.IPRange.Contains(p.VIP) {
			t.Errorf("fixed address %s or VIP inside the engine's dynamic range %s", n.Addr, p.IPRange)
		}
	}
	if p.RouterID < 1 || p.RouterID > 251 {
		t.Errorf("RouterID %d outside 1..251", p.RouterID)
	}
}

func TestInventoryShape(t *testing.T) {
	p, err := NewPlan(Config{Name: "lab1", Nodes: 4, Dir: "/labs/lab1"})
	if err != nil {
		t.Fatal(err)
	}
	inv := p.Inventory()
	sections := map[string][]string{}
	cur := ""
	for _, line := range strings.Split(inv, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "["):
			cur = strings.Trim(line, "[]")
			sections[cur] = nil
		case line != "" && !strings.HasPrefix(line, "#") && cur != "":
			sections[cur] = append(sections[cur], strings.Fields(line)[0])
		}
	}
	expect := map[string]string{
		"control":    "node01 node02 node03",
		"network":    "node01 node02 node03",
		"compute":    "node01 node02 node03 node04",
		"storage":    "node01 node02 node03 node04",
		"monitoring": "node01",
		"deployment": "localhost",
	}
	for g, hosts := range expect {
		if got := strings.Join(sections[g], " "); got != hosts {
			t.Errorf("[%s] = %q, want %q", g, got, hosts)
		}
	}
	// Every children group of upstream's multinode is there (a sample of them).
	for _, g := range []string{"baremetal:children", "loadbalancer:children", "mariadb:children", "nova-compute-ironic:children", "letsencrypt-lego:children", "ovn-sb-db-relay:children"} {
		if _, ok := sections[g]; !ok {
			t.Errorf("inventory lacks [%s]", g)
		}
	}
	if n := strings.Count(multinodeChildren, ":children]"); n < 150 {
		t.Errorf("only %d children groups embedded, upstream multinode has more than 150", n)
	}
	line := "node02 ansible_host=10.99.0.12 ansible_user=koala ansible_ssh_private_key_file=/labs/lab1/id_ed25519"
	if !strings.Contains(inv, line) {
		t.Errorf("inventory lacks %q", line)
	}
	g := p.Globals()
	for _, want := range []string{`network_interface: "eth0"`, `kolla_internal_vip_address: "10.99.0.10"`, `docker_registry: "10.99.0.2:5000"`, `docker_registry_insecure: "yes"`, `kolla_base_distro: "debian"`, `openstack_release: "2025.1"`, "keepalived_virtual_router_id: ", "haproxy_max_connections: 8000", `nova_compute_virt_type: "qemu"`, `ovs_datapath: "netdev"`, `glance_file_datadir_volume: "/srv/koala-shared/glance"`} {
		if !strings.Contains(g, want) {
			t.Errorf("globals.yml lacks %q:\n%s", want, g)
		}
	}
}

func TestLabImagesNameTheirBase(t *testing.T) {
	for base, want := range map[string][2]string{
		"":                          {"koala-lab-node:debian-trixie", "koala-lab-registry:debian-trixie"},
		"debian:bookworm":           {"koala-lab-node:debian-bookworm", "koala-lab-registry:debian-bookworm"},
		"10.0.0.1:5000/debian:13.2": {"koala-lab-node:10.0.0.1-5000-debian-13.2", "koala-lab-registry:10.0.0.1-5000-debian-13.2"},
	} {
		p, err := NewPlan(Config{Nodes: 1, Dir: "-", BaseImage: base})
		if err != nil {
			t.Fatal(err)
		}
		if got := [2]string{p.NodeImage(), p.RegistryImage()}; got != want {
			t.Errorf("base %q: images %q, want %q", base, got, want)
		}
	}
}
