package cli

import (
	"fmt"

	ucli "github.com/urfave/cli/v2"

	"github.com/koala-stack/koala/pkg/ansiblecfg"
	"github.com/koala-stack/koala/pkg/vault"
)

// vaultFlags are ansible-playbook's vault options, on every command that
// reads YAML an operator may have encrypted.
func vaultFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.BoolFlag{Name: "ask-vault-pass", Aliases: []string{"ask-vault-password"}, Usage: "ask for the vault password"},
		&ucli.StringSliceFlag{Name: "vault-password-file", Aliases: []string{"vault-pass-file"}, Usage: "a vault password file, or an executable that prints the password (repeatable)"},
		&ucli.StringSliceFlag{Name: "vault-id", Usage: "a vault identity: [ID@]FILE or [ID@]prompt (repeatable)"},
	}
}

// setupVault gives every YAML reader of the run the vault passwords of
// ansible.cfg (vault_identity_list, vault_password_file), --vault-id,
// --vault-password-file and --ask-vault-pass (or ask_vault_pass), in that order.
func setupVault(c *ucli.Context, cfg *ansiblecfg.Config) error {
	ids := append([]string(nil), cfg.VaultIdentities...)
	ids = append(ids, c.StringSlice("vault-id")...)
	ids = append(ids, c.StringSlice("vault-password-file")...)
	if c.Bool("ask-vault-pass") || cfg.AskVaultPass {
		ids = append(ids, "default@prompt")
	}
	ask := func(id string) (string, error) {
		if id == "default" {
			return askSecret(c, "Vault password: ")
		}
		return askSecret(c, fmt.Sprintf("Vault password (%s): ", id))
	}
	var secrets []vault.Secret
	for _, id := range ids {
		s, err := vault.ReadSecret(c.Context, id, ask)
		if err != nil {
			return &ExitError{Code: 1, Err: err}
		}
		secrets = append(secrets, s)
	}
	vault.SetDefault(vault.NewKeyring(secrets...))
	return nil
}
