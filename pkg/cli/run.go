package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"

	ucli "github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/koala-stack/koala/pkg/engine"
	"github.com/koala-stack/koala/pkg/engine/output"
	"github.com/koala-stack/koala/pkg/inventory"
)

// runCommand is `koala run`, the engine on its own (like ansible-playbook).
func runCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "run",
		Usage:     "run a playbook against an inventory (like ansible-playbook)",
		ArgsUsage: "PLAYBOOK",
		Description: "Loads and validates the playbook and every role, include and template it\n" +
			"uses (all problems are reported at once, with file:line, before any host is\n" +
			"touched), then runs it. Exit status: 0 all hosts ok, 2 a host failed or was\n" +
			"unreachable, 1 bad input.",
		Flags: []ucli.Flag{
			&ucli.StringSliceFlag{Name: "inventory", Aliases: []string{"i"}, Usage: "inventory file, directory or host list (repeatable)", Required: true},
			&ucli.StringFlag{Name: "limit", Aliases: []string{"l"}, Usage: "further limit hosts to this pattern"},
			&ucli.StringSliceFlag{Name: "tags", Aliases: []string{"t"}, Usage: "only run tasks with these tags (comma-separated, repeatable)"},
			&ucli.StringSliceFlag{Name: "skip-tags", Usage: "skip tasks with these tags"},
			// A generic flag: a StringSliceFlag would split "-e list=a,b" at the comma.
			&ucli.GenericFlag{Name: "extra-vars", Aliases: []string{"e"}, Value: &repeated{}, Usage: "extra variables: k=v, {yaml} or @file (repeatable, highest precedence)"},
			&ucli.BoolFlag{Name: "check", Aliases: []string{"C"}, Usage: "report what would change, change nothing"},
			&ucli.BoolFlag{Name: "diff", Aliases: []string{"D"}, Usage: "show the changes made to files"},
			&ucli.IntFlag{Name: "forks", Aliases: []string{"f"}, Value: engine.DefaultForks, Usage: "hosts worked on at once"},
			&ucli.BoolFlag{Name: "json", Usage: "print the event stream as JSON lines instead of the terminal view"},
			&ucli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Count: new(int), Usage: "a line per host result (-vv: per loop item)"},
		},
		Action: runPlaybook,
	}
}

func runPlaybook(c *ucli.Context) error {
	if c.Args().Len() != 1 {
		return &ExitError{Code: 1, Err: errors.New("koala run: give exactly one PLAYBOOK")}
	}
	inv, err := inventory.Load(c.StringSlice("inventory")...)
	if err != nil {
		return &ExitError{Code: 1, Err: err}
	}
	extra, err := engine.ParseExtraVars(c.Generic("extra-vars").(*repeated).vals)
	if err != nil {
		return &ExitError{Code: 1, Err: err}
	}
	pb, err := engine.LoadPlaybook(c.Args().First(), nil)
	if err != nil {
		return &ExitError{Code: 1, Err: err}
	}
	verbose := c.Count("verbose")
	var sink engine.Sink
	if c.Bool("json") {
		sink = output.NewJSON(c.App.Writer)
	} else {
		live, width := false, 0
		if f, ok := c.App.Writer.(*os.File); ok && output.IsTerminal(f) {
			live = true
			if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil {
				width = int(ws.Col)
			}
		}
		sink = output.NewTerminal(c.App.Writer, output.TerminalOptions{Live: live, Width: width, Verbose: verbose, Diff: c.Bool("diff")})
	}
	recap, err := engine.Run(c.Context, engine.Options{
		Inventory: inv,
		Playbook:  pb,
		ExtraVars: extra,
		Limit:     c.String("limit"),
		Tags:      splitList(c.StringSlice("tags")),
		SkipTags:  splitList(c.StringSlice("skip-tags")),
		Check:     c.Bool("check"),
		Diff:      c.Bool("diff"),
		Forks:     c.Int("forks"),
		Verbosity: verbose,
		Sinks:     []engine.Sink{sink},
	})
	if err != nil {
		return &ExitError{Code: 1, Err: err}
	}
	if recap.Failed() {
		return &ExitError{Code: 2, Err: fmt.Errorf("failed or unreachable: %s", strings.Join(recap.FailedHosts(), ", "))}
	}
	return nil
}

// splitList flattens repeated, comma-separated flag values.
func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// repeated is a repeatable string flag whose values are kept whole.
type repeated struct{ vals []string }

func (r *repeated) Set(v string) error { r.vals = append(r.vals, v); return nil }
func (r *repeated) String() string     { return strings.Join(r.vals, " ") }
