// Package koala holds the deploy roles and playbooks, embedded in the binary so
// that `koala deploy` needs no checkout; pkg/deploy writes them to disk once per
// content hash and runs them from there (--playbook-dir uses a tree on disk).
package koala

import "embed"

// Assets holds roles/ and playbook/.
//
//go:embed roles playbook
var Assets embed.FS
