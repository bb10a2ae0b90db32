// Command koala builds OpenStack container images and deploys them, highly
// available, onto hosts over SSH. main only wires the CLI; see pkg/cli.
// Called as kolla-runtime or one of its tools (kolla_start, ...), it is the
// in-image runtime (pkg/kollaruntime): build-images can put koala itself
// into the base image when no kolla-runtime binary sits beside it.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/koala-stack/koala/pkg/cli"
	"github.com/koala-stack/koala/pkg/kollaruntime"
)

func main() {
	if kollaruntime.Called(os.Args[0]) {
		os.Exit(kollaruntime.Main(os.Args))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cli.App().RunContext(ctx, os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "koala:", err)
		os.Exit(cli.ExitCode(err))
	}
}
