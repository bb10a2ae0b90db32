package engine

import (
	"fmt"

	"github.com/koala-stack/koala/internal/suggest"
)

// LimitHosts resolves a --limit pattern against the inventory. A pattern that
// matches no host is an error, as in ansible-playbook: run anyway, every play
// would have no host and the run would "succeed" having done nothing.
func LimitHosts(inv Inventory, pattern string) ([]string, error) {
	hosts, err := inv.Match(pattern)
	if err != nil {
		return nil, fmt.Errorf("--limit %q: %w", pattern, err)
	}
	if len(hosts) > 0 {
		return hosts, nil
	}
	hint := ""
	if near := suggest.Nearest(pattern, append(inv.Hosts(), inv.Groups()...), 3); near != "" {
		hint = fmt.Sprintf(" (did you mean %q?)", near)
	}
	return nil, fmt.Errorf("--limit %q matches no host of the inventory%s: give a host or group name from it (koala inventory -i INV --graph lists them)", pattern, hint)
}
