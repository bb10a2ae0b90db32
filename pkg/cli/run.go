package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/koala-stack/koala/pkg/engine"
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
		Flags: append([]ucli.Flag{
			&ucli.StringSliceFlag{Name: "inventory", Aliases: []string{"i"}, Usage: "inventory file, directory or host list (repeatable)", Required: true},
		}, append(engineFlags(), vaultFlags()...)...),
		Action: runPlaybook,
	}
}

func runPlaybook(c *ucli.Context) error {
	if c.Args().Len() != 1 {
		return &ExitError{Code: 1, Err: errors.New("koala run: give exactly one PLAYBOOK")}
	}
	cfg, err := ansibleConfig(c)
	if err != nil {
		return err
	}
	conn, err := connectionDefaults(c, cfg)
	if err != nil {
		return err
	}
	if err := setupVault(c, cfg); err != nil {
		return err
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
	recap, err := engine.Run(c.Context, engine.Options{
		Inventory: inv,
		Playbook:  pb,
		ExtraVars: extra,
		Limit:     c.String("limit"),
		Tags:      splitList(c.StringSlice("tags")),
		SkipTags:  splitList(c.StringSlice("skip-tags")),
		Check:     c.Bool("check"),
		Diff:      c.Bool("diff"),
		Forks:     forks(c, cfg),
		Verbosity: verbose,
		Sinks:     []engine.Sink{eventSink(c)},

		ConnectionDefaults: conn,
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

// serialPrefix marks Serialize's form. urfave/cli copies a flag's value to
// its other names (-e to --extra-vars, the same *repeated) by Set(Serialize()):
// that must not add the values joined as one more value ("-e @a.yml -e x=1"
// became a third value "@a.yml x=1").
const serialPrefix = "\x00koala-repeated\x00"

func (r *repeated) Set(v string) error {
	if rest, ok := strings.CutPrefix(v, serialPrefix); ok {
		return json.Unmarshal([]byte(rest), &r.vals)
	}
	r.vals = append(r.vals, v)
	return nil
}

func (r *repeated) String() string { return strings.Join(r.vals, " ") }

// Serialize is urfave/cli's Serializer.
func (r *repeated) Serialize() string {
	b, _ := json.Marshal(r.vals) // a []string always marshals
	return serialPrefix + string(b)
}
