package deploy

import (
	"fmt"
	"strings"

	"github.com/koala-stack/koala/pkg/engine"
	"github.com/koala-stack/koala/pkg/inventory"
)

// ConfirmFlag is kolla-ansible's confirmation for destructive commands.
const ConfirmFlag = "--yes-i-really-really-mean-it"

// confirm refuses a destructive action (one with Loses) unless the operator
// confirmed it, saying what would be lost and on which hosts, before anything
// else is read or any host is touched. It also resolves --limit, so a limit
// that matches no host is reported here for every command.
func confirm(a Action, inv *inventory.Inventory, o Options) error {
	hosts := inv.Hosts()
	if o.Limit != "" {
		var err error
		if hosts, err = engine.LimitHosts(inv, o.Limit); err != nil {
			return err
		}
	}
	if a.Loses == "" || o.Confirmed {
		return nil
	}
	// The hosts of the run are the limited ones among the deploy targets.
	if targets, err := inv.Match("baremetal"); err == nil && len(targets) > 0 {
		in := map[string]bool{}
		for _, h := range targets {
			in[h] = true
		}
		var on []string
		for _, h := range hosts {
			if in[h] {
				on = append(on, h)
			}
		}
		hosts = on
	}
	return fmt.Errorf("refused without %s: on %s it %s. Add %s if that is what you want",
		ConfirmFlag, strings.Join(hosts, ", "), a.Loses, ConfirmFlag)
}
