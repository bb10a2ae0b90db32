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
			"(a tree, with --vars to show variables). --list-hosts PATTERN shows what a\n" +
			"--limit or a play's hosts: would select. Several -i sources merge.",
		Flags: append([]ucli.Flag{
			&ucli.StringSliceFlag{Name: "inventory", Aliases: []string{"i"}, Usage: "inventory file, directory or host list (repeatable)", Required: true},
			&ucli.BoolFlag{Name: "list", Usage: "print all groups, hosts and host variables as JSON"},
			&ucli.StringFlag{Name: "host", Usage: "print the variables of one host as JSON"},
			&ucli.BoolFlag{Name: "graph", Usage: "print the group tree, from GROUP (default all)"},
			&ucli.BoolFlag{Name: "vars", Usage: "with --graph: show variables"},
			&ucli.BoolFlag{Name: "yaml", Aliases: []string{"y"}, Usage: "with --list: print YAML instead of JSON"},
			&ucli.StringFlag{Name: "list-hosts", Usage: "print the hosts a host pattern (as for --limit) selects, one per line, in play order"},
		}, vaultFlags()...),
		Action: runInventory,
	}
}

func runInventory(c *ucli.Context) error {
	actions := 0
	for _, set := range []bool{c.Bool("list"), c.IsSet("host"), c.Bool("graph"), c.IsSet("list-hosts")} {
		if set {
			actions++
		}
	}
	if actions != 1 {
		return &ExitError{Code: 5, Err: errors.New("koala inventory: choose exactly one of --list, --host H, --graph or --list-hosts PATTERN")}
	}
	cfg, err := ansibleConfig(c)
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
	for _, w := range inv.Warnings() {
		fmt.Fprintln(c.App.ErrWriter, "[WARNING]:", w)
	}
	out := c.App.Writer
	switch {
	case c.IsSet("list-hosts"):
		hosts, err := inv.Match(c.String("list-hosts"))
		if err != nil {
			return &ExitError{Code: 1, Err: err}
		}
		for _, h := range hosts {
			fmt.Fprintln(out, h)
		}
	case c.Bool("list") && c.Bool("yaml"):
		b, err := inv.ListYAML()
		if err != nil {
			return &ExitError{Code: 1, Err: err}
		}
		fmt.Fprint(out, string(b))
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
