package lab

import (
	"fmt"
	"strings"

	koala "github.com/koala-stack/koala"
)

// multinodeChildren is every `[group:children]` section of kolla-ansible's
// multinode sample (inventory/multinode), so that every group name the roles
// use resolves: the sample's tail from its first such section on.
var multinodeChildren = childrenSections(koala.MultinodeInventory)

// childrenSections returns inv from its first `[...:children]` section on.
func childrenSections(inv string) string {
	for i := 0; i < len(inv); {
		line, _, _ := strings.Cut(inv[i:], "\n")
		if strings.HasPrefix(line, "[") && strings.HasSuffix(strings.TrimSpace(line), ":children]") {
			return inv[i:]
		}
		i += len(line) + 1
	}
	return ""
}

// controlNodes is how many nodes form the HA control plane.
const controlNodes = 3

// Inventory renders the lab's inventory in kolla-ansible's multinode shape:
// the first three nodes are control and network (so keepalived, haproxy, Galera
// and RabbitMQ run as a cluster), every node is compute and storage, the first
// is monitoring, and the deploy host is localhost.
func (p *Plan) Inventory() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# koala lab %q: written by `koala lab up`, rewritten on every run.\n", p.Name)
	fmt.Fprintf(&b, "# Nodes on %s; VIP %s; registry %s.\n\n", p.Subnet, p.VIP, p.RegHost)
	// The nodes' host key is checked against the lab's own known_hosts, not
	// the user's: another lab on the same addresses has another key.
	host := func(n NodePlan) string {
		return fmt.Sprintf("%s ansible_host=%s ansible_user=%s ansible_ssh_private_key_file=%s ansible_ssh_common_args='-o UserKnownHostsFile=%s'\n",
			n.Hostname, n.Addr, User, p.KeyFile(), p.KnownHostsFile())
	}
	section := func(name string, nodes []NodePlan) {
		fmt.Fprintf(&b, "[%s]\n", name)
		for _, n := range nodes {
			b.WriteString(host(n))
		}
		b.WriteByte('\n')
	}
	control := p.Nodes[:min(controlNodes, len(p.Nodes))]
	section("control", control)
	section("network", control)
	section("compute", p.Nodes)
	section("monitoring", p.Nodes[:1])
	section("storage", p.Nodes)
	b.WriteString("[deployment]\nlocalhost       ansible_connection=local\n\n")
	b.WriteString(multinodeChildren)
	return b.String()
}

// Globals renders a globals.yml starting point for the lab.
func (p *Plan) Globals() string {
	return fmt.Sprintf(`# koala lab %q: a starting point written by `+"`koala lab up`"+` when absent;
# edit freely, it is not rewritten.
kolla_base_distro: "debian"
openstack_release: %q
network_interface: %q
kolla_internal_vip_address: %q
keepalived_virtual_router_id: %q
# The lab's registry speaks plain HTTP; `+"`koala bootstrap-servers`"+` makes the
# nodes' Docker engines trust it. Fill it from this host with
#   koala build-images --push --registry 127.0.0.1:%d
docker_registry: %q
docker_registry_insecure: "yes"
# The nodes' Docker engines cap open files at 20000; haproxy needs twice its
# maxconn and a few more (kolla-ansible's default, 40000, would not start).
haproxy_max_connections: 8000
# The lab's stand-in for shared storage (NFS): a volume every node mounts at
# %s. Glance's file backend keeps its images there, so glance-api
# runs on every node (on a node-local volume it would run on the first only).
glance_file_datadir_volume: "%s/glance"
# The kernel has no openvswitch module and KVM cannot run guests: servers run
# on QEMU's TCG, and Open vSwitch on its userspace datapath (neutron 2025.1
# has no linuxbridge agent any more; docs/lab.md has what this needs).
nova_compute_virt_type: "qemu"
ovs_datapath: "netdev"
`, p.Name, p.Release, Interface, p.VIP.String(), fmt.Sprint(p.RouterID), p.RegPort, p.RegHost, SharedDir, SharedDir)
}
