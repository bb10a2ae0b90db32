package lab

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
)

// Member is one container of a lab as it is now.
type Member struct {
	Name      string // container name
	Role      string // node, registry
	Hostname  string
	Address   string // fixed address on the lab network
	State     string // running, exited, ...
	Connected bool   // attached to the lab network (false: partitioned)
	HasVIP    bool   // the VIP is on one of its interfaces
}

// LabStatus is a lab's containers and where its VIP is.
type LabStatus struct {
	Name    string
	Subnet  string
	VIP     string
	Members []Member
}

// Status reports the lab's containers, their state and which node holds the VIP
// (by listing each running node's addresses).
func Status(ctx context.Context, eng client.APIClient, name string) (*LabStatus, error) {
	lnet, err := findNetwork(ctx, eng, name)
	if err != nil {
		return nil, err
	}
	ctrs, err := labContainers(ctx, eng, name)
	if err != nil {
		return nil, err
	}
	if lnet == nil && len(ctrs) == 0 {
		return nil, fmt.Errorf("no lab %q on this engine: make it with `koala lab up --name %s`", name, name)
	}
	st := &LabStatus{Name: name}
	if lnet != nil {
		st.Subnet = lnet.Labels[LabelSubnet]
		if pfx, err := netip.ParsePrefix(st.Subnet); err == nil {
			st.VIP = offset(pfx, vipOffset).String()
		}
	}
	st.Members = make([]Member, len(ctrs))
	var wg sync.WaitGroup
	for i, c := range ctrs {
		m := Member{
			Name:     containerName(c),
			Role:     c.Labels[LabelRole],
			Hostname: c.Labels[LabelNode],
			Address:  c.Labels[LabelAddress],
			State:    c.State,
		}
		if c.NetworkSettings != nil {
			_, m.Connected = c.NetworkSettings.Networks[networkName(name)]
		}
		st.Members[i] = m
		if m.Role == "node" && c.State == "running" && st.VIP != "" {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st.Members[i].HasVIP = holdsAddr(ctx, eng, c, st.VIP)
			}()
		}
	}
	wg.Wait()
	sort.Slice(st.Members, func(i, j int) bool { return st.Members[i].Name < st.Members[j].Name })
	return st, nil
}

func holdsAddr(ctx context.Context, eng client.APIClient, c container.Summary, addr string) bool {
	r, err := Exec(ctx, eng, c.ID, "ip", "-o", "-4", "addr", "show")
	if err != nil || r.RC != 0 {
		return false
	}
	return strings.Contains(r.Stdout, " "+addr+"/")
}
