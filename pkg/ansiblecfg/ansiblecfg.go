// Package ansiblecfg reads the ansible.cfg an operator already has, found as
// Ansible finds it, and the ANSIBLE_* environment variables that override it,
// for the settings koala honours: [defaults] host_key_checking, forks,
// remote_user, private_key_file, timeout, vault_password_file,
// vault_identity_list, ask_vault_pass, become_password_file,
// [privilege_escalation] become_ask_pass and [ssh_connection] ssh_args,
// ssh_common_args, ssh_extra_args, host_key_checking.
//
// Connection settings are handed on as the connection variables they stand
// for (remote_user as ansible_user, ...): a host's own variables win over
// them, as in Ansible.
package ansiblecfg

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gopkg.in/ini.v1"
)

// Config is what koala takes from ansible.cfg and the environment.
type Config struct {
	// File is the ansible.cfg read; "" when none was found.
	File string
	// Forks is [defaults] forks (ANSIBLE_FORKS); 0 = not set.
	Forks int
	// VaultPasswordFiles are [defaults] vault_password_file
	// (ANSIBLE_VAULT_PASSWORD_FILE) and the vault_identity_list entries
	// (ANSIBLE_VAULT_IDENTITY_LIST), as given: "FILE" or "ID@FILE".
	VaultIdentities []string
	// AskVaultPass is [defaults] ask_vault_pass (ANSIBLE_ASK_VAULT_PASS).
	AskVaultPass bool
	// AskBecomePass is [privilege_escalation] become_ask_pass
	// (ANSIBLE_BECOME_ASK_PASS); BecomePasswordFile is [defaults]
	// become_password_file (ANSIBLE_BECOME_PASSWORD_FILE).
	AskBecomePass      bool
	BecomePasswordFile string
	// ConnVars are the connection settings as connection variables:
	// ansible_user, ansible_ssh_private_key_file, ansible_timeout,
	// ansible_ssh_args, ansible_ssh_common_args, ansible_ssh_extra_args,
	// ansible_host_key_checking ("true"/"false").
	ConnVars map[string]any
}

// setting is one option: its ini places (first found wins) and environment
// variables (first set wins, over the file).
type setting struct {
	ini [][2]string // section, key
	env []string
}

var (
	hostKeyChecking = setting{ini: [][2]string{{"defaults", "host_key_checking"}, {"ssh_connection", "host_key_checking"}}, env: []string{"ANSIBLE_HOST_KEY_CHECKING", "ANSIBLE_SSH_HOST_KEY_CHECKING"}}
	forks           = setting{ini: [][2]string{{"defaults", "forks"}}, env: []string{"ANSIBLE_FORKS"}}
	vaultFile       = setting{ini: [][2]string{{"defaults", "vault_password_file"}}, env: []string{"ANSIBLE_VAULT_PASSWORD_FILE"}}
	vaultIDs        = setting{ini: [][2]string{{"defaults", "vault_identity_list"}}, env: []string{"ANSIBLE_VAULT_IDENTITY_LIST"}}
	askVault        = setting{ini: [][2]string{{"defaults", "ask_vault_pass"}}, env: []string{"ANSIBLE_ASK_VAULT_PASS"}}
	askBecome       = setting{ini: [][2]string{{"privilege_escalation", "become_ask_pass"}}, env: []string{"ANSIBLE_BECOME_ASK_PASS"}}
	becomeFile      = setting{ini: [][2]string{{"defaults", "become_password_file"}}, env: []string{"ANSIBLE_BECOME_PASSWORD_FILE"}}
	// Settings that become connection variables.
	connSettings = map[string]setting{
		"ansible_user":                 {ini: [][2]string{{"defaults", "remote_user"}}, env: []string{"ANSIBLE_REMOTE_USER"}},
		"ansible_ssh_private_key_file": {ini: [][2]string{{"defaults", "private_key_file"}}, env: []string{"ANSIBLE_PRIVATE_KEY_FILE"}},
		"ansible_timeout":              {ini: [][2]string{{"defaults", "timeout"}}, env: []string{"ANSIBLE_TIMEOUT"}},
		"ansible_ssh_args":             {ini: [][2]string{{"ssh_connection", "ssh_args"}}, env: []string{"ANSIBLE_SSH_ARGS"}},
		"ansible_ssh_common_args":      {ini: [][2]string{{"ssh_connection", "ssh_common_args"}}, env: []string{"ANSIBLE_SSH_COMMON_ARGS"}},
		"ansible_ssh_extra_args":       {ini: [][2]string{{"ssh_connection", "ssh_extra_args"}}, env: []string{"ANSIBLE_SSH_EXTRA_ARGS"}},
	}
)

// Find returns the ansible.cfg Ansible would read: $ANSIBLE_CONFIG (a file,
// or a directory holding ansible.cfg), ./ansible.cfg unless the current
// directory is world-writable (Ansible ignores it there, and so does koala,
// with warn), ~/.ansible.cfg, /etc/ansible/ansible.cfg. "" when none exists.
func Find(warn func(string)) string {
	if p := os.Getenv("ANSIBLE_CONFIG"); p != "" {
		p = expandHome(p)
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			p = filepath.Join(p, "ansible.cfg")
		}
		if isFile(p) {
			return p
		}
	}
	if cwd, err := os.Getwd(); err == nil {
		p := filepath.Join(cwd, "ansible.cfg")
		if st, err := os.Stat(cwd); err == nil && isFile(p) {
			if st.Mode().Perm()&0o002 == 0 {
				return p
			}
			if warn != nil {
				warn(fmt.Sprintf("ansible.cfg in %s is ignored: the directory is world-writable (as Ansible does)", cwd))
			}
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		if p := filepath.Join(home, ".ansible.cfg"); isFile(p) {
			return p
		}
	}
	if p := "/etc/ansible/ansible.cfg"; isFile(p) {
		return p
	}
	return ""
}

// Load reads the ansible.cfg Find returns (none is fine) and the environment.
// A value koala cannot use is an error naming the file or variable.
func Load(warn func(string)) (*Config, error) {
	return LoadFile(Find(warn))
}

// LoadFile is Load with the file given ("" = none: the environment only).
func LoadFile(path string) (*Config, error) {
	c := &Config{File: path, ConnVars: map[string]any{}}
	var f *ini.File
	if path != "" {
		var err error
		// Python's configparser as Ansible sets it up: keys are
		// case-insensitive, '#' and ';' start whole-line comments, only
		// ';' after whitespace an inline one.
		f, err = ini.LoadSources(ini.LoadOptions{InsensitiveKeys: true, IgnoreInlineComment: true, AllowPythonMultilineValues: true}, path)
		if err != nil {
			return nil, fmt.Errorf("read ansible config %s: %w (or point ANSIBLE_CONFIG at another file)", path, err)
		}
	}
	get := func(s setting) (val, where string) {
		for _, e := range s.env {
			if v, ok := os.LookupEnv(e); ok {
				return v, "environment variable " + e
			}
		}
		if f == nil {
			return "", ""
		}
		for _, sk := range s.ini {
			if sec, err := f.GetSection(sk[0]); err == nil && sec.HasKey(sk[1]) {
				return stripInlineComment(sec.Key(sk[1]).String()), fmt.Sprintf("%s: [%s] %s", path, sk[0], sk[1])
			}
		}
		return "", ""
	}
	if v, where := get(hostKeyChecking); where != "" {
		b, err := ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		c.ConnVars["ansible_host_key_checking"] = strconv.FormatBool(b)
	}
	for _, b := range []struct {
		s   setting
		dst *bool
	}{{askVault, &c.AskVaultPass}, {askBecome, &c.AskBecomePass}} {
		if v, where := get(b.s); where != "" {
			on, err := ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			*b.dst = on
		}
	}
	if v, _ := get(becomeFile); strings.TrimSpace(v) != "" {
		c.BecomePasswordFile = expandHome(strings.TrimSpace(v))
	}
	if v, where := get(forks); where != "" {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%s: %q is not a number of hosts (1 or more)", where, v)
		}
		c.Forks = n
	}
	for name, s := range connSettings {
		if v, where := get(s); where != "" && strings.TrimSpace(v) != "" {
			c.ConnVars[name] = strings.TrimSpace(v)
		}
	}
	if v, _ := get(vaultFile); strings.TrimSpace(v) != "" {
		c.VaultIdentities = append(c.VaultIdentities, expandHome(strings.TrimSpace(v)))
	}
	if v, _ := get(vaultIDs); v != "" {
		for _, id := range strings.Split(v, ",") {
			if id = strings.TrimSpace(id); id != "" {
				c.VaultIdentities = append(c.VaultIdentities, id)
			}
		}
	}
	return c, nil
}

// ParseBool reads a boolean as Ansible's config does ("yes", "on", "true",
// "1", "y", "t" and their opposites, any case). Ansible reads anything else
// as false; that would turn host key checking off on a typo, so it is an
// error here.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "yes", "on", "true", "1", "y", "t":
		return true, nil
	case "no", "off", "false", "0", "n", "f":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (use true or false)", s)
}

// stripInlineComment removes a ';' comment preceded by whitespace, as
// configparser's inline_comment_prefixes=(';',).
func stripInlineComment(v string) string {
	for i := 1; i < len(v); i++ {
		if v[i] == ';' && (v[i-1] == ' ' || v[i-1] == '\t') {
			return strings.TrimSpace(v[:i])
		}
	}
	return strings.TrimSpace(v)
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[1:])
		}
	}
	return p
}
