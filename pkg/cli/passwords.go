package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/koala-stack/koala/pkg/passwords"
)

// passwordCommands are `koala genpwd` and `koala mergepwd`, the counterparts of
// kolla-genpwd and kolla-mergepwd.
func passwordCommands() []*ucli.Command {
	return []*ucli.Command{
		{
			Name:  "genpwd",
			Usage: "fill every empty key of passwords.yml (like kolla-genpwd)",
			Description: "Keeps every value already set. Keys ending in _ssh_key get an RSA 4096\n" +
				"pair, the uuid keys a UUID, barbican_crypto_key a Fernet key, designate_rndc_key\n" +
				"and osprofiler_secret 32 hex digits, prometheus_bcrypt_salt a 22-character bcrypt\n" +
				"salt, docker_registry_password stays empty, every other key 40 letters and digits.\n" +
				"The file is rewritten sorted, mode 0640; one encrypted with ansible-vault is\n" +
				"written back encrypted (--vault-id, --vault-password-file, --ask-vault-pass).",
			Flags: append([]ucli.Flag{
				&ucli.StringFlag{Name: "passwords", Aliases: []string{"p"}, Usage: "passwords file (default: CONFIGDIR/passwords.yml)"},
				&ucli.StringFlag{Name: "configdir", EnvVars: []string{"KOLLA_CONFIG_PATH"}, Value: "/etc/kolla", Usage: "koala's configuration directory"},
			}, vaultFlags()...),
			Action: func(c *ucli.Context) error {
				if err := passwordsVault(c); err != nil {
					return err
				}
				path := c.String("passwords")
				if path == "" {
					path = filepath.Join(c.String("configdir"), "passwords.yml")
				}
				// genpwd.py expands ~ too: "-p=~/passwords.yml" never reaches the shell's.
				if rest, ok := strings.CutPrefix(path, "~/"); ok {
					home, err := os.UserHomeDir()
					if err != nil {
						return &ExitError{Code: 1, Err: fmt.Errorf("expand %s: %w", path, err)}
					}
					path = filepath.Join(home, rest)
				}
				filled, err := passwords.Generate(path, c.App.ErrWriter)
				if err != nil {
					return &ExitError{Code: 1, Err: err}
				}
				fmt.Fprintf(c.App.Writer, "%s: filled %d empty keys\n", path, len(filled))
				return nil
			},
		},
		{
			Name:  "mergepwd",
			Usage: "carry the values of an old passwords.yml into a new one (like kolla-mergepwd)",
			Description: "Writes FINAL with NEW's keys and OLD's values where OLD has them. Keys only\n" +
				"in OLD are kept too unless --clean is given.",
			Flags: append([]ucli.Flag{
				&ucli.StringFlag{Name: "old", Usage: "old passwords file", Required: true},
				&ucli.StringFlag{Name: "new", Usage: "new passwords file", Required: true},
				&ucli.StringFlag{Name: "final", Usage: "merged passwords file to write", Required: true},
				&ucli.BoolFlag{Name: "clean", Usage: "keep only the keys of NEW"},
			}, vaultFlags()...),
			Action: func(c *ucli.Context) error {
				if err := passwordsVault(c); err != nil {
					return err
				}
				if err := passwords.Merge(c.String("old"), c.String("new"), c.String("final"), c.Bool("clean"), c.App.ErrWriter); err != nil {
					return &ExitError{Code: 1, Err: err}
				}
				return nil
			},
		},
	}
}

// passwordsVault sets up the vault passwords for genpwd and mergepwd: an
// encrypted passwords file is read and written back encrypted.
func passwordsVault(c *ucli.Context) error {
	cfg, err := ansibleConfig(c)
	if err != nil {
		return err
	}
	return setupVault(c, cfg)
}
