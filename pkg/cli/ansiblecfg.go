package cli

import (
	"fmt"

	ucli "github.com/urfave/cli/v2"

	"github.com/koala-stack/koala/pkg/ansiblecfg"
)

// ansibleConfig reads the ansible.cfg Ansible would read and the ANSIBLE_*
// variables; its warnings go to stderr.
func ansibleConfig(c *ucli.Context) (*ansiblecfg.Config, error) {
	cfg, err := ansiblecfg.Load(func(w string) { fmt.Fprintln(c.App.ErrWriter, "[WARNING]:", w) })
	if err != nil {
		return nil, &ExitError{Code: 1, Err: err}
	}
	return cfg, nil
}

// forks is -f, else ansible.cfg's forks, else koala's default.
func forks(c *ucli.Context, cfg *ansiblecfg.Config) int {
	if !c.IsSet("forks") && cfg.Forks > 0 {
		return cfg.Forks
	}
	return c.Int("forks")
}
