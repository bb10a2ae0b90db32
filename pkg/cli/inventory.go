package cli

import (
	"errors"
	"fmt"

	ucli "github.com/urfave/cli/v2"

	"github.com/koala-stack/koala/pkg/inventory"
)

// inventoryCommand is `koala inventory`, the counterpart of ansible-inventory.
func inventoryCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "inventory",
		Usage:     "show the inventory as Ansible sees it (like ansible-inventory)",
		ArgsUsage: "[GROUP (with --graph)]",
		Description: "Prints the inventory in ansible-inventory's formats: --list (JSON with\n" +
			"_meta.hostvars), --host H (one host's merged variables) or --graph [GROUP]\n" +
			"(a tree, with --vars to show variables). Several -i sources merge.",
		Flags: []ucli.Flag{
			&ucli.StringSliceFlag{Name: "inventory", Aliases: []string{"i"}, Usage: "inventory file, directory or host list (repeatable)", Required: true},
			&ucli.BoolFlag{Name: "list", Usage: "print all groups, hosts and host variables as JSON"},
			&ucli.StringFlag{Name: "host", Usage: "print the variables of one host as JSON"},
			&ucli.BoolFlag{Name: "graph", Usage: "print the group tree, from GROUP (default all)"},
			&ucli.BoolFlag{Name: "vars", Usage: "with --graph: show variables"},
			&ucli.StringFlag{Name: "limit", Aliases: []string{"l"}, Usage: "with --list: print only the host names matching this pattern, one per line"},
		},
		Action: runInventory,
	}
}

func runInventory(c *ucli.Context) error {
	actions := 0
	for _, set := range []bool{c.Bool("list"), c.IsSet("host"), c.Bool("graph")} {
		if set {
			actions++
		}
	}
	if actions != 1 {
		return &ExitError{Code: 5, Err: errors.New("koala inventory: choose exactly one of --list, --host H or --graph")}
	}
	inv, err := inventory.Load(c.StringSlice("inventory")...)
	if err != nil {
		return &ExitError{Code: 1, Err: err}
	}
	for _, w := range inv.Warnings() {
		fmt.Fprintln(c.App.ErrWriter, "[WARNING]:", w)
	}
	out := c.App.Writer
	switch {
	case c.Bool("list") && c.IsSet("limit"):
		hosts, err := inv.Match(c.String("limit"))
		if err != nil {
			return &ExitError{Code: 1, Err: err}
		}
		for _, h := range hosts {
			fmt.Fprintln(out, h)
		}
	case c.Bool("list"):
		b, err := inv.ListJSON()
		if err != nil {
			return &ExitError{Code: 1, Err: err}
		}
		fmt.Fprintln(out, string(b))
	case c.IsSet("host"):
		b, err := inv.HostJSON(c.String("host"))
		if err != nil {
			return &ExitError{Code: 1, Err: err}
		}
		fmt.Fprintln(out, string(b))
	default:
		group := "all"
		if c.Args().Len() > 0 {
			group = c.Args().First()
		}
		s, err := inv.GraphFrom(group, c.Bool("vars"))
		if err != nil {
			return &ExitError{Code: 1, Err: err}
		}
		fmt.Fprintln(out, s)
	}
	return nil
}
