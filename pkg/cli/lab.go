package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/docker/docker/client"
	ucli "github.com/urfave/cli/v2"

	"github.com/koala-stack/koala/pkg/baseimage"
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
