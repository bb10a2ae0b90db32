// Command koala builds OpenStack container images and deploys them, highly
// available, onto hosts over SSH. main only wires the CLI; see pkg/cli.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/koala-stack/koala/pkg/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cli.App().RunContext(ctx, os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "koala:", err)
		os.Exit(cli.ExitCode(err))
	}
}
