package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker/docker/client"
	ucli "github.com/urfave/cli/v2"

	"github.com/koala-stack/koala/pkg/baseimage"
	"github.com/koala-stack/koala/pkg/lab"
)

// pingTimeout bounds the first contact with the Docker engine.
const pingTimeout = 10 * time.Second

// dockerEngine connects to the local Docker engine (DOCKER_HOST or the default
// socket) and checks that it answers.
func dockerEngine(ctx context.Context) (*client.Client, error) {
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker engine client: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if _, err := c.Ping(pctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("cannot reach the Docker engine at %s: %w (is dockerd running? is DOCKER_HOST right?)", c.DaemonHost(), err)
	}
	return c, nil
}

func labCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "lab",
		Usage: "a multi-node test cloud's hosts on one Docker engine",
		Subcommands: []*ucli.Command{
			labBaseCommand(),
			labUpCommand(),
			labDownCommand(),
			labStatusCommand(),
			labFaultCommand("stop", "stop a node (its engine stops its containers)", lab.Stop),
			labFaultCommand("start", "start a stopped node and wait for sshd and dockerd", lab.Start),
			labFaultCommand("kill", "kill a node at once (SIGKILL)", lab.Kill),
			labFaultCommand("partition", "disconnect a node from the lab network", lab.Partition),
			labFaultCommand("heal", "reconnect a partitioned node with its address", lab.Heal),
		},
	}
}

var labNameFlag = &ucli.StringFlag{Name: "name", Value: lab.DefaultName, Usage: "lab name (prefix of its containers, volumes and network)"}

func labUpCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "up",
		Usage: "start a lab: N hosts with sshd and Docker, a registry, an inventory",
		Description: "Builds the node and registry images when needed (from the base image of\n" +
			"`koala lab base`), creates the lab's network, registry and nodes, waits until every\n" +
			"node's sshd and dockerd answer, and writes a kolla-ansible multinode inventory and a\n" +
			"globals.yml starting point into the lab directory. Running it again changes nothing;\n" +
			"if it fails it removes what it made.",
		Flags: []ucli.Flag{
			labNameFlag,
			&ucli.IntFlag{Name: "nodes", Value: lab.DefaultNodes, Usage: "number of nodes"},
			&ucli.StringFlag{Name: "subnet", Value: lab.DefaultSubnet, Usage: "IPv4 subnet of the lab network (.2 registry, .10 VIP, nodes from .11)"},
			&ucli.StringFlag{Name: "lab-dir", Usage: "where keys, inventory and globals.yml go (default ~/.cache/koala/lab/NAME)"},
			&ucli.IntFlag{Name: "registry-port", Value: lab.DefaultRegistryPort, Usage: "registry port on 127.0.0.1 (for build-images --push)"},
			&ucli.StringFlag{Name: "base-image", Value: lab.DefaultBaseImage, Usage: "image the lab images are built from"},
			&ucli.StringFlag{Name: "release", Value: lab.DefaultRelease, Usage: "openstack_release written to globals.yml"},
			&ucli.StringFlag{Name: "buildkit-addr", Usage: "standalone buildkitd for the lab images (default: the engine's BuildKit)"},
			&ucli.BoolFlag{Name: "recreate-outdated", Usage: "make nodes that run an older node image again (their containers, images and data are lost)"},
		},
		Action: func(c *ucli.Context) error {
			p, err := lab.NewPlan(lab.Config{
				Name:         c.String("name"),
				Dir:          c.String("lab-dir"),
				Nodes:        c.Int("nodes"),
				Subnet:       c.String("subnet"),
				RegistryPort: c.Int("registry-port"),
				BaseImage:    c.String("base-image"),
				Release:      c.String("release"),
				BuildKit:     c.String("buildkit-addr"),
				Log:          c.App.ErrWriter,
			})
			if err != nil {
				return err
			}
			eng, err := dockerEngine(c.Context)
			if err != nil {
				return err
			}
			defer eng.Close()
			start := time.Now()
			res, err := lab.Up(c.Context, eng, p)
			if err != nil {
				return err
			}
			if len(res.Outdated) > 0 && c.Bool("recreate-outdated") {
				fmt.Fprintf(c.App.ErrWriter, "recreating %s on the current node image\n", strings.Join(res.Outdated, ", "))
				if err := lab.RemoveNodes(c.Context, eng, p, res.Outdated); err != nil {
					return err
				}
				if res, err = lab.Up(c.Context, eng, p); err != nil {
					return err
				}
			}
			w := c.App.Writer
			for _, s := range res.Built {
				fmt.Fprintf(w, "built %s\n", s)
			}
			for _, s := range res.Created {
				fmt.Fprintf(w, "created %s\n", s)
			}
			for _, s := range res.Healed {
				fmt.Fprintf(w, "reconnected %s\n", s)
			}
			for _, s := range res.Started {
				fmt.Fprintf(w, "started %s\n", s)
			}
			if !res.Changed() {
				fmt.Fprintf(w, "lab %q is up; nothing changed\n", p.Name)
			} else {
				fmt.Fprintf(w, "lab %q is up (%s)\n", p.Name, time.Since(start).Round(100*time.Millisecond))
			}
			for _, n := range p.Nodes {
				fmt.Fprintf(w, "  %-8s %s\n", n.Hostname, n.Addr)
			}
			fmt.Fprintf(w, "  %-8s %s (kolla_internal_vip_address)\n", "vip", p.VIP)
			fmt.Fprintf(w, "  %-8s %s on the lab network, 127.0.0.1:%d from this host\n", "registry", p.RegHost, p.RegPort)
			if res.GlobalsWritten {
				fmt.Fprintf(w, "wrote %s\n", res.Globals)
			}
			fmt.Fprintln(w, res.Inventory)
			if len(res.Outdated) > 0 {
				fmt.Fprintf(c.App.ErrWriter, "warning: %s run an older node image than %s: `koala lab up --name %s --recreate-outdated` makes them again (their containers and data are lost)\n",
					strings.Join(res.Outdated, ", "), p.NodeImage(), p.Name)
			}
			return nil
		},
	}
}

func labDownCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "down",
		Usage: "remove the lab's containers, volumes and network (the lab directory stays)",
		Flags: []ucli.Flag{labNameFlag},
		Action: func(c *ucli.Context) error {
			eng, err := dockerEngine(c.Context)
			if err != nil {
				return err
			}
			defer eng.Close()
			removed, err := lab.Down(c.Context, eng, c.String("name"))
			for _, r := range removed {
				fmt.Fprintf(c.App.Writer, "removed %s\n", r)
			}
			if err == nil && len(removed) == 0 {
				fmt.Fprintf(c.App.Writer, "no lab %q on this engine; nothing to remove\n", c.String("name"))
			}
			return err
		},
	}
}

func labStatusCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "status",
		Usage: "show the lab's nodes, addresses, state and which node holds the VIP",
		Flags: []ucli.Flag{labNameFlag},
		Action: func(c *ucli.Context) error {
			eng, err := dockerEngine(c.Context)
			if err != nil {
				return err
			}
			defer eng.Close()
			st, err := lab.Status(c.Context, eng, c.String("name"))
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
			fmt.Fprintf(w, "lab %s\tsubnet %s\tvip %s\n", st.Name, st.Subnet, st.VIP)
			fmt.Fprintln(w, "NAME\tROLE\tHOST\tADDRESS\tSTATE\tNETWORK\tVIP")
			vipHolder := ""
			for _, m := range st.Members {
				netState, vip := "connected", ""
				if !m.Connected {
					netState = "partitioned"
				}
				if m.HasVIP {
					vip, vipHolder = "holds VIP", m.Hostname
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Name, m.Role, m.Hostname, m.Address, m.State, netState, vip)
			}
			if vipHolder == "" {
				fmt.Fprintf(w, "no node holds the VIP %s\n", st.VIP)
			}
			return w.Flush()
		},
	}
}

func labFaultCommand(name, usage string, f func(context.Context, client.APIClient, string, string) error) *ucli.Command {
	return &ucli.Command{
		Name:      name,
		Usage:     usage,
		ArgsUsage: "NODE",
		Flags:     []ucli.Flag{labNameFlag},
		Action: func(c *ucli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("koala lab %s: want one NODE (a hostname such as node01), got %d arguments", name, c.NArg())
			}
			eng, err := dockerEngine(c.Context)
			if err != nil {
				return err
			}
			defer eng.Close()
			return f(c.Context, eng, c.String("name"), c.Args().First())
		},
	}
}

func labBaseCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "base",
		Usage: "make the Debian base image (debootstrap from a Debian mirror, imported into the engine)",
		Description: "Runs debootstrap --variant=minbase once (needs root and the debootstrap package),\n" +
			"caches the root file system as a tarball under ~/.cache/koala/base and imports it.\n" +
			"A second run does nothing when the image exists and only imports when the tarball does.",
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "suite", Value: baseimage.DefaultSuite, Usage: "Debian suite"},
			&ucli.StringFlag{Name: "mirror", Value: baseimage.DefaultMirror, Usage: "Debian package mirror"},
			&ucli.StringFlag{Name: "tag", Usage: "image reference (default debian:SUITE)"},
		},
		Action: func(c *ucli.Context) error {
			eng, err := dockerEngine(c.Context)
			if err != nil {
				return err
			}
			defer eng.Close()
			res, err := baseimage.Ensure(c.Context, eng, baseimage.Options{
				Suite:  c.String("suite"),
				Mirror: c.String("mirror"),
				Tag:    c.String("tag"),
				Log:    c.App.ErrWriter,
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "%s %s (%s)\n", res.Tag, res.Outcome, res.Tarball)
			return nil
		},
	}
}
