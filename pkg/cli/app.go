// Package cli defines koala's command line (github.com/urfave/cli/v2): one file
// per command group, each turning flags into calls on the packages that do the work.
package cli

import (
	"errors"
	"os"
	"runtime/debug"

	ucli "github.com/urfave/cli/v2"
)

// Version is set at link time (-ldflags "-X .../pkg/cli.Version=...").
var Version = "dev"

// defaultMemoryLimit is the Go runtime's soft memory limit unless GOMEMLIMIT
// says otherwise: measured on `koala run` against 1,000 hosts
// (docs/BENCHMARKS.md, "Scale"), it keeps the peak RSS near 250 MB instead of
// 340-420 MB for no measurable CPU; a larger live heap is not refused, the
// collector only runs more often near it.
const defaultMemoryLimit = 290 << 20

// App returns koala's command tree.
func App() *ucli.App {
	var stopProfiles func() error
	return &ucli.App{
		Name:                 "koala",
		Usage:                "build OpenStack container images and deploy them over SSH",
		Version:              Version,
		EnableBashCompletion: true,
		// Kept whole, as ansible-playbook keeps them: "-i h1,h2," is a host list,
		// not two files; -t/--skip-tags are split by splitList.
		DisableSliceFlagSeparator: true,
		Commands:                  commands(),
		Flags:                     profileFlags,
		Before: func(c *ucli.Context) (err error) {
			if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
				debug.SetMemoryLimit(defaultMemoryLimit)
			}
			stopProfiles, err = startProfiles(c)
			return err
		},
		After: func(*ucli.Context) error {
			if stopProfiles == nil {
				return nil
			}
			return stopProfiles()
		},
	}
}

// commands lists every command group; each lives in its own file of this package.
func commands() []*ucli.Command {
	var cmds []*ucli.Command
	// Each command group appends itself here: keep one line per group.
	cmds = append(cmds, lifecycleCommands()...)
	cmds = append(cmds, buildImagesCommand())
	cmds = append(cmds, inventoryCommand())
	cmds = append(cmds, labCommand())
	cmds = append(cmds, passwordCommands()...)
	cmds = append(cmds, runCommand())
	return cmds
}

// ExitError carries a process exit status through urfave/cli (2 for failed hosts,
// as ansible-playbook).
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode maps an error returned by App to the process exit status.
func ExitCode(err error) int {
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return 1
}
