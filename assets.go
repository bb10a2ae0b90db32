// Package koala holds the deploy roles and playbooks, embedded in the binary so
// that `koala deploy` needs no checkout; pkg/deploy writes them to disk once per
// content hash and runs them from there (--playbook-dir uses a tree on disk).
package koala

import "embed"

// Assets holds roles/ and playbook/.
//
//go:embed roles playbook
var Assets embed.FS

// PasswordsTemplate is kolla-ansible's passwords.yml with every key empty: the
// keys a passwords file may hold, so a key missing from an operator's file is
// recognised as a password.
//
//go:embed templates/etc/kolla/passwords.yml
var PasswordsTemplate []byte

// MultinodeInventory is kolla-ansible's multinode sample inventory
// (inventory/multinode, unchanged): the lab takes its group tree from it.
//
//go:embed inventory/multinode
var MultinodeInventory string
