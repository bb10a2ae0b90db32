// Package lab runs a multi-node test cloud's hosts on one Docker engine: node
// containers that behave like hosts (their own address on a dedicated bridge
// network, sshd with key authentication, their own Docker engine inside), a
// local image registry the nodes can pull from, and a free address reserved for
// the VIP. Up writes a kolla-ansible multinode inventory and a globals.yml
// starting point into the lab directory.
//
// Everything the lab makes on the engine carries the label LabelLab=<name>, and
// Down removes exactly what carries it. Fault injection (Stop, Start, Kill,
// Partition, Heal) acts on one node.
//
// Node containers are not --privileged: that asks the runtime for every
// capability the kernel knows, and a container host may have dropped some from
// its bounding set (this project's CI host lacks CAP_SYS_RESOURCE). They get every
// capability but those the engine's host lacks, unconfined seccomp/AppArmor, all
// devices and writable /proc and /sys; the node image's runc wrapper does the
// same for privileged containers inside. See docs/lab.md.
package lab

import (
	"fmt"
	"hash/fnv"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Labels on every container, volume and network of a lab.
const (
	LabelLab     = "io.koala.lab"         // the lab's name
	LabelRole    = "io.koala.lab.role"    // node, registry
	LabelNode    = "io.koala.lab.node"    // a node's hostname
	LabelAddress = "io.koala.lab.address" // the fixed IPv4 address on the lab network
	LabelSubnet  = "io.koala.lab.subnet"  // on the network: its subnet
	labelImage   = "io.koala.lab.image-hash"
)

// Defaults.
const (
	DefaultName         = "koala"
	DefaultNodes        = 3
	DefaultSubnet       = "10.99.0.0/24"
	DefaultRegistryPort = 5000
	DefaultRelease      = "2025.1" // the OpenStack release Debian trixie ships (Epoxy), as kolla-ansible names it
	DefaultBaseImage    = "debian:trixie"
	// NodeImage and RegistryImage are the lab images' names; their tags name
	// the base image (Plan.NodeImage), so labs on different Debian releases
	// on one engine do not take each other's images.
	NodeImage     = "koala-lab-node"
	RegistryImage = "koala-lab-registry"
	// RegistryPort is the registry's port on the lab network.
	RegistryPort = 5000
	// Interface is the nodes' interface on the lab network.
	Interface = "eth0"
	// User is the nodes' login user (key authentication, passwordless sudo).
	User = "koala"
)

// Config describes a lab.
type Config struct {
	Name         string
	Dir          string // lab directory (keys, inventory, globals.yml); default <cache>/koala/lab/<name>
	Nodes        int
	Subnet       string // IPv4 CIDR of the lab network
	RegistryPort int    // port of the registry on the host's loopback
	BaseImage    string // image the node and registry images are built FROM
	Release      string // openstack_release in globals.yml
	// BuildKit is a standalone buildkitd address for the lab images; empty means
	// the engine's embedded BuildKit.
	BuildKit string
	Log      io.Writer // progress lines; nil discards
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,30}$`)

// Plan is the lab's addressing and naming, derived from a Config.
type Plan struct {
	Name      string
	Dir       string
	Subnet    netip.Prefix
	Gateway   netip.Addr
	Registry  netip.Addr // registry's address on the lab network
	VIP       netip.Addr // reserved for kolla_internal_vip_address
	Nodes     []NodePlan
	IPRange   netip.Prefix // where the engine may place containers it is not told about
	Network   string       // network name
	RouterID  int          // keepalived_virtual_router_id
	RegHost   string       // registry reference on the lab network, "addr:port"
	RegPort   int          // registry port on the host's loopback
	Release   string
	BaseImage string
	BuildKit  string
	Log       io.Writer
}

// NodePlan is one node.
type NodePlan struct {
	Hostname  string // node01, node02, ...
	Container string // <lab>-node01
	Volume    string // <lab>-node01-docker: the node's /var/lib/docker
	Addr      netip.Addr
}

// DefaultDir is a lab's directory when none is given.
func DefaultDir(name string) (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("lab directory: %w (give --lab-dir)", err)
	}
	return filepath.Join(d, "koala", "lab", name), nil
}

// Addressing inside the subnet: .1 gateway, .2 registry, .10 VIP, nodes from
// .11; the upper half is left to the engine for containers it is not told about.
const (
	registryOffset = 2
	vipOffset      = 10
	firstNode      = 11
)

// NewPlan validates c and derives names and addresses.
func NewPlan(c Config) (*Plan, error) {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if !nameRE.MatchString(c.Name) {
		return nil, fmt.Errorf("lab name %q: use 1-31 lower-case letters, digits and dashes", c.Name)
	}
	if c.Nodes < 1 {
		return nil, fmt.Errorf("--nodes %d: a lab needs at least 1 node", c.Nodes)
	}
	if c.Subnet == "" {
		c.Subnet = DefaultSubnet
	}
	pfx, err := netip.ParsePrefix(c.Subnet)
	if err != nil || !pfx.Addr().Is4() {
		return nil, fmt.Errorf("--subnet %q: want an IPv4 CIDR such as %s", c.Subnet, DefaultSubnet)
	}
	if pfx != pfx.Masked() {
		return nil, fmt.Errorf("--subnet %s: host bits set; did you mean %s?", c.Subnet, pfx.Masked())
	}
	if pfx.Bits() > 24 {
		return nil, fmt.Errorf("--subnet %s: too small, use a /24 or larger", c.Subnet)
	}
	size := 1 << (32 - pfx.Bits())
	if maxNodes := size/2 - firstNode; c.Nodes > maxNodes {
		return nil, fmt.Errorf("--nodes %d: subnet %s holds at most %d nodes", c.Nodes, pfx, maxNodes)
	}
	if c.RegistryPort == 0 {
		c.RegistryPort = DefaultRegistryPort
	}
	if c.RegistryPort < 1 || c.RegistryPort > 65535 {
		return nil, fmt.Errorf("--registry-port %d: not a TCP port", c.RegistryPort)
	}
	if c.Dir == "" {
		if c.Dir, err = DefaultDir(c.Name); err != nil {
			return nil, err
		}
	}
	if c.Release == "" {
		c.Release = DefaultRelease
	}
	if c.BaseImage == "" {
		c.BaseImage = DefaultBaseImage
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	p := &Plan{
		Name:      c.Name,
		Dir:       c.Dir,
		Subnet:    pfx,
		Gateway:   offset(pfx, 1),
		Registry:  offset(pfx, registryOffset),
		VIP:       offset(pfx, vipOffset),
		IPRange:   netip.PrefixFrom(offset(pfx, size/2), pfx.Bits()+1),
		Network:   networkName(c.Name),
		RegPort:   c.RegistryPort,
		Release:   c.Release,
		BaseImage: c.BaseImage,
		BuildKit:  c.BuildKit,
		Log:       c.Log,
	}
	p.RegHost = fmt.Sprintf("%s:%d", p.Registry, RegistryPort)
	h := fnv.New32a()
	fmt.Fprintf(h, "%s/%s", p.Name, p.Subnet)
	p.RouterID = int(h.Sum32()%250) + 1
	for i := 1; i <= c.Nodes; i++ {
		host := fmt.Sprintf("node%02d", i)
		p.Nodes = append(p.Nodes, NodePlan{
			Hostname:  host,
			Container: c.Name + "-" + host,
			Volume:    c.Name + "-" + host + "-docker",
			Addr:      offset(pfx, firstNode+i-1),
		})
	}
	return p, nil
}

// NodeImage and RegistryImage are the lab's image references:
// koala-lab-node:debian-trixie for the base image debian:trixie.
func (p *Plan) NodeImage() string     { return labImageRef(NodeImage, p.BaseImage) }
func (p *Plan) RegistryImage() string { return labImageRef(RegistryImage, p.BaseImage) }

func labImageRef(name, base string) string {
	return name + ":" + strings.NewReplacer(":", "-", "/", "-", "@", "-").Replace(base)
}

// RegistryContainer and RegistryVolume name the lab's registry.
func (p *Plan) RegistryContainer() string { return p.Name + "-registry" }
func (p *Plan) RegistryVolume() string    { return p.Name + "-registry-data" }

// SharedVolume is mounted at SharedDir in every node: the lab's stand-in for
// the shared storage (NFS, CephFS) real hosts mount for services that keep
// files every host must see (glance's file backend).
func (p *Plan) SharedVolume() string { return p.Name + "-shared" }

// SharedDir is where every node mounts SharedVolume.
const SharedDir = "/srv/koala-shared"

// KeyFile is the client private key that logs in to every node.
func (p *Plan) KeyFile() string { return filepath.Join(p.Dir, "id_ed25519") }

// InventoryFile and GlobalsFile are what Up writes for koala deploy.
func (p *Plan) InventoryFile() string { return filepath.Join(p.Dir, "multinode") }
func (p *Plan) GlobalsFile() string   { return filepath.Join(p.Dir, "globals.yml") }

// KnownHostsFile lists the nodes' host key, for strict host key checking.
func (p *Plan) KnownHostsFile() string { return filepath.Join(p.Dir, "known_hosts") }

func offset(p netip.Prefix, n int) netip.Addr {
	b := p.Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += uint32(n)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func labFilter(name string) string { return LabelLab + "=" + name }

func networkName(lab string) string { return lab + "-net" }
