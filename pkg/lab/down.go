package lab

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"
)

// Down removes every container, volume and network labelled as lab name's, and
// nothing else. The lab directory (keys, inventory, globals.yml) stays, so a
// later Up keeps the same keys. It returns what it removed.
func Down(ctx context.Context, eng client.APIClient, name string) ([]string, error) {
	var removed []string
	var errs []error
	ctrs, err := labContainers(ctx, eng, name)
	if err != nil {
		return nil, err
	}
	for _, c := range ctrs {
		if err := eng.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			errs = append(errs, fmt.Errorf("remove container %s: %w", containerName(c), err))
			continue
		}
		removed = append(removed, "container "+containerName(c))
	}
	f := filters.NewArgs(filters.Arg("label", labFilter(name)))
	vols, err := eng.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		errs = append(errs, fmt.Errorf("list volumes of lab %q: %w", name, err))
	}
	for _, v := range vols.Volumes {
		if err := eng.VolumeRemove(ctx, v.Name, true); err != nil {
			errs = append(errs, fmt.Errorf("remove volume %s: %w", v.Name, err))
			continue
		}
		removed = append(removed, "volume "+v.Name)
	}
	nets, err := eng.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		errs = append(errs, fmt.Errorf("list networks of lab %q: %w", name, err))
	}
	for _, n := range nets {
		if err := eng.NetworkRemove(ctx, n.ID); err != nil {
			errs = append(errs, fmt.Errorf("remove network %s: %w", n.Name, err))
			continue
		}
		removed = append(removed, "network "+n.Name)
	}
	sort.Strings(removed)
	if err := errors.Join(errs...); err != nil {
		return removed, fmt.Errorf("lab %q down: %w (run it again to retry)", name, err)
	}
	return removed, nil
}

// RemoveNodes removes the named nodes' containers and volumes (their inner
// images and containers with them), so that the next Up makes them again
// from the current node image: `koala lab up --recreate-outdated`.
func RemoveNodes(ctx context.Context, eng client.APIClient, p *Plan, hostnames []string) error {
	var errs []error
	for _, h := range hostnames {
		i := slices.IndexFunc(p.Nodes, func(n NodePlan) bool { return n.Hostname == h })
		if i < 0 {
			errs = append(errs, fmt.Errorf("lab %q has no node %s", p.Name, h))
			continue
		}
		n := p.Nodes[i]
		if err := eng.ContainerRemove(ctx, n.Container, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove container %s: %w", n.Container, err))
			continue
		}
		if err := eng.VolumeRemove(ctx, n.Volume, true); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove volume %s: %w", n.Volume, err))
		}
	}
	return errors.Join(errs...)
}
