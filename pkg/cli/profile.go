package cli

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"

	ucli "github.com/urfave/cli/v2"
)

// profileFlags are hidden: for `go tool pprof` on the controller (a run's
// CPU, and its heap at the end), not for operators.
var profileFlags = []ucli.Flag{
	&ucli.StringFlag{Name: "cpuprofile", Hidden: true, Usage: "write a CPU profile of the command to this file"},
	&ucli.StringFlag{Name: "memprofile", Hidden: true, Usage: "write a heap profile at the end of the command to this file"},
}

// startProfiles starts what the profile flags ask for; stop writes them.
func startProfiles(c *ucli.Context) (stop func() error, err error) {
	var cpu *os.File
	if p := c.String("cpuprofile"); p != "" {
		if cpu, err = os.Create(p); err != nil {
			return nil, fmt.Errorf("--cpuprofile: %w", err)
		}
		if err := pprof.StartCPUProfile(cpu); err != nil {
			cpu.Close()
			return nil, fmt.Errorf("--cpuprofile: %w", err)
		}
	}
	return func() error {
		if cpu != nil {
			pprof.StopCPUProfile()
			if err := cpu.Close(); err != nil {
				return fmt.Errorf("--cpuprofile: %w", err)
			}
		}
		if p := c.String("memprofile"); p != "" {
			f, err := os.Create(p)
			if err != nil {
				return fmt.Errorf("--memprofile: %w", err)
			}
			runtime.GC()
			err = pprof.Lookup("allocs").WriteTo(f, 0)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("--memprofile: %w", err)
			}
		}
		return nil
	}, nil
}
