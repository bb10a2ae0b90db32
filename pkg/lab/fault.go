package lab

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"
)

// Fault injection on one node, named by hostname (node01) or container name
// (koala-node01).

// findNode returns the lab's node container called node.
func findNode(ctx context.Context, eng client.APIClient, lab, node string) (container.Summary, error) {
	ctrs, err := labContainers(ctx, eng, lab)
	if err != nil {
		return container.Summary{}, err
	}
	var names []string
	for _, c := range ctrs {
		if c.Labels[LabelRole] != "node" {
			continue
		}
		if c.Labels[LabelNode] == node || containerName(c) == node {
			return c, nil
		}
		names = append(names, c.Labels[LabelNode])
	}
	if len(ctrs) == 0 {
		return container.Summary{}, fmt.Errorf("no lab %q on this engine: make it with `koala lab up --name %s`", lab, lab)
	}
	return container.Summary{}, fmt.Errorf("lab %q has no node %q (nodes: %v)", lab, node, names)
}

// Stop stops a node the way a host shuts down: its engine stops its containers.
func Stop(ctx context.Context, eng client.APIClient, lab, node string) error {
	c, err := findNode(ctx, eng, lab, node)
	if err != nil {
		return err
	}
	if err := eng.ContainerStop(ctx, c.ID, container.StopOptions{Timeout: ptr(stopTimeout)}); err != nil {
		return fmt.Errorf("stop %s: %w", node, err)
	}
	return nil
}

// Kill stops a node at once (SIGKILL), like pulling its power.
func Kill(ctx context.Context, eng client.APIClient, lab, node string) error {
	c, err := findNode(ctx, eng, lab, node)
	if err != nil {
		return err
	}
	if c.State != "running" {
		return fmt.Errorf("kill %s: it is %s, not running", node, c.State)
	}
	if err := eng.ContainerKill(ctx, c.ID, "KILL"); err != nil {
		return fmt.Errorf("kill %s: %w", node, err)
	}
	return nil
}

// Start starts a stopped node and waits until its sshd and dockerd answer. Its
// address is unchanged.
func Start(ctx context.Context, eng client.APIClient, lab, node string) error {
	c, err := findNode(ctx, eng, lab, node)
	if err != nil {
		return err
	}
	if err := startContainer(ctx, eng, c.ID); err != nil {
		return fmt.Errorf("start %s: %w", node, err)
	}
	return waitNode(ctx, eng, containerName(c))
}

// Partition disconnects a node from the lab network: it loses its interface
// there (and any VIP on it) and cannot reach or be reached by the others.
func Partition(ctx context.Context, eng client.APIClient, lab, node string) error {
	c, err := findNode(ctx, eng, lab, node)
	if err != nil {
		return err
	}
	if c.NetworkSettings == nil || c.NetworkSettings.Networks[networkName(lab)] == nil {
		return fmt.Errorf("partition %s: it is already disconnected from %s (heal it with `koala lab heal %s`)", node, networkName(lab), node)
	}
	if err := eng.NetworkDisconnect(ctx, networkName(lab), c.ID, true); err != nil {
		return fmt.Errorf("partition %s: %w", node, err)
	}
	return nil
}

// Heal reconnects a partitioned node with its old address and, if it is running,
// gives the new interface the old name (the engine names it eth1) and restores
// the default route.
func Heal(ctx context.Context, eng client.APIClient, lab, node string) error {
	c, err := findNode(ctx, eng, lab, node)
	if err != nil {
		return err
	}
	if c.NetworkSettings != nil && c.NetworkSettings.Networks[networkName(lab)] != nil {
		return fmt.Errorf("heal %s: it is connected to %s already", node, networkName(lab))
	}
	lnet, err := findNetwork(ctx, eng, lab)
	if err != nil {
		return err
	}
	if lnet == nil {
		return fmt.Errorf("heal %s: lab %q has no network; run `koala lab up --name %s`", node, lab, lab)
	}
	p := &Plan{Network: networkName(lab)}
	if err := connect(ctx, eng, p, c.ID, c.Labels[LabelAddress]); err != nil {
		return fmt.Errorf("heal %s: %w", node, err)
	}
	if c.State != "running" {
		return nil
	}
	pfx, err := netip.ParsePrefix(lnet.Labels[LabelSubnet])
	if err != nil {
		return fmt.Errorf("heal %s: network %s has no valid %s label: %w", node, lnet.Name, LabelSubnet, err)
	}
	return renameInterface(ctx, eng, containerName(c), c.Labels[LabelAddress], offset(pfx, 1).String())
}

// connect attaches a container to the lab network with its fixed address.
func connect(ctx context.Context, eng client.APIClient, p *Plan, id, addr string) error {
	err := eng.NetworkConnect(ctx, p.Network, id, &network.EndpointSettings{
		IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: addr},
	})
	if err != nil && !errdefs.IsConflict(err) {
		return fmt.Errorf("connect %s to %s as %s: %w", shortID(id), p.Network, addr, err)
	}
	return nil
}

// renameInterface names the interface holding addr Interface again and puts the
// default route back through gateway.
func renameInterface(ctx context.Context, eng client.APIClient, ctr, addr, gateway string) error {
	script := `set -e
dev=$(ip -o -4 addr show | awk -v a="$1" '{split($4, p, "/")} p[1] == a {print $2; exit}')
[ -n "$dev" ] || { echo "no interface has $1" >&2; exit 1; }
if [ "$dev" != "$2" ]; then
	ip link set dev "$dev" down
	ip link set dev "$dev" name "$2"
	ip link set dev "$2" up
fi
ip route replace default via "$3" dev "$2"`
	r, err := Exec(ctx, eng, ctr, "sh", "-c", script, "heal", addr, Interface, gateway)
	if err != nil {
		return err
	}
	if r.RC != 0 {
		return fmt.Errorf("restore %s in %s: exit %d: %s", Interface, ctr, r.RC, r.Stderr)
	}
	return nil
}
