package vault

import (
	"errors"
	"fmt"
	"sync"

	"gopkg.in/yaml.v3"
)

// The keyring of the run, set once by the command line. Every YAML reader
// (inventories, globals.yml, passwords.yml, vars files, -e @file) takes it
// from here, as Ansible's loader does: threading it through each loader's
// API would change all of them for one setting.
var (
	defaultMu      sync.Mutex
	defaultKeyring *Keyring
)

// SetDefault sets the keyring Default returns.
func SetDefault(k *Keyring) {
	defaultMu.Lock()
	defaultKeyring = k
	defaultMu.Unlock()
}

// Default is the run's keyring; nil (no password) until SetDefault.
func Default() *Keyring {
	defaultMu.Lock()
	defer defaultMu.Unlock()
	return defaultKeyring
}

// Tag marks an inline encrypted YAML value.
const Tag = "!vault"

// Error is a vault failure in a file, at a line when inline.
type Error struct {
	File string
	Line int // 0: the whole file
	Err  error
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: vault value: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// File returns data decrypted when it is a vault text, else unchanged. When
// the plaintext is YAML, each of its values counts as revealed.
func (k *Keyring) File(file string, data []byte) ([]byte, error) {
	if !IsEncrypted(data) {
		return data, nil
	}
	plain, err := k.Decrypt(data)
	if err != nil {
		return nil, &Error{File: file, Err: err}
	}
	var doc yaml.Node
	if yaml.Unmarshal(plain, &doc) == nil {
		k.revealScalars(&doc)
	}
	return plain, nil
}

// Nodes replaces every `!vault` scalar under n with its plaintext, a plain
// string (as Ansible's AnsibleVaultEncryptedUnicode reads).
func (k *Keyring) Nodes(file string, n *yaml.Node) error {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode && n.Tag == Tag {
		plain, err := k.Decrypt([]byte(n.Value))
		if err != nil {
			return &Error{File: file, Line: n.Line, Err: err}
		}
		n.Tag, n.Value, n.Style = "!!str", string(plain), 0
		return nil
	}
	var errs []error
	for _, c := range n.Content {
		errs = append(errs, k.Nodes(file, c))
	}
	return errors.Join(errs...)
}

// Unmarshal is yaml.Unmarshal for a file that may be encrypted whole or
// hold `!vault` values. YAML syntax errors are yaml.v3's, unwrapped, so
// callers keep turning "yaml: line N" into file:N.
func (k *Keyring) Unmarshal(file string, data []byte, out any) error {
	var doc yaml.Node
	if err := k.UnmarshalNode(file, data, &doc); err != nil {
		return err
	}
	if len(doc.Content) == 0 {
		return nil
	}
	return doc.Decode(out)
}

// UnmarshalNode is Unmarshal into a node tree.
func (k *Keyring) UnmarshalNode(file string, data []byte, doc *yaml.Node) error {
	data, err := k.File(file, data)
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(data, doc); err != nil {
		return err
	}
	return k.Nodes(file, doc)
}

// revealScalars records the values (not the keys) under n.
func (k *Keyring) revealScalars(n *yaml.Node) {
	switch n.Kind {
	case yaml.ScalarNode:
		k.mu.Lock()
		k.revealed = append(k.revealed, n.Value)
		k.mu.Unlock()
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			k.revealScalars(n.Content[i])
		}
	default:
		for _, c := range n.Content {
			k.revealScalars(c)
		}
	}
}
