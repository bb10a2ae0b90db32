// Package deploy runs koala's lifecycle commands (bootstrap-servers, prechecks,
// deploy, post-deploy, ...): it loads the inventory and the configuration
// directory, validates them, and runs the matching playbook of the embedded
// roles (or of --playbook-dir) with the engine, kolla_action set as
// kolla-ansible sets it.
package deploy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/koala-stack/koala/pkg/configdir"
	"github.com/koala-stack/koala/pkg/engine"
	"github.com/koala-stack/koala/pkg/inventory"
	"github.com/koala-stack/koala/pkg/playbook"
	"github.com/koala-stack/koala/pkg/plays"
)

// Action is one lifecycle command.
type Action struct {
	Name        string // the command: "deploy"
	Playbook    string // under playbook/
	KollaAction string // kolla_action, "" when the playbook does not read it
	NeedsConfig bool   // globals.yml and passwords.yml must exist
	// Loses says what the command destroys on the hosts it runs on; a command
	// with one is refused unless Options.Confirmed (--yes-i-really-really-mean-it).
	Loses string
	// ReportsNeedsOf is a playbook whose missing groups and passwords are
	// handed to this one (as koala_config_problems) to report with its own
	// findings, instead of failing the run before any host is reached.
	ReportsNeedsOf string
}

// Actions are the lifecycle commands, by name.
var Actions = map[string]Action{
	"bootstrap-servers": {Name: "bootstrap-servers", Playbook: "bootstrap-servers.yml", KollaAction: "bootstrap-servers", NeedsConfig: true},
	"prechecks":         {Name: "prechecks", Playbook: "prechecks.yml", KollaAction: "precheck", NeedsConfig: true, ReportsNeedsOf: "site.yml"},
	"deploy":            {Name: "deploy", Playbook: "site.yml", KollaAction: "deploy", NeedsConfig: true},
	"post-deploy":       {Name: "post-deploy", Playbook: "post-deploy.yml", KollaAction: "deploy", NeedsConfig: true},
	"mariadb-recovery":  {Name: "mariadb-recovery", Playbook: "mariadb_recovery.yml", KollaAction: "deploy", NeedsConfig: true},
	"certificates":      {Name: "certificates", Playbook: "certificates.yml", KollaAction: "certificates", NeedsConfig: true},
	"upgrade":           {Name: "upgrade", Playbook: "upgrade.yml", KollaAction: "upgrade", NeedsConfig: true},
	// Day-2 commands, kolla-ansible's kolla_action for each.
	"pull":              {Name: "pull", Playbook: "site.yml", KollaAction: "pull", NeedsConfig: true},
	"genconfig":         {Name: "genconfig", Playbook: "site.yml", KollaAction: "config", NeedsConfig: true},
	"deploy-containers": {Name: "deploy-containers", Playbook: "reconfigure.yml", KollaAction: "deploy-containers", NeedsConfig: true},
	"reconfigure":       {Name: "reconfigure", Playbook: "reconfigure.yml", KollaAction: "reconfigure", NeedsConfig: true},
	"check":             {Name: "check", Playbook: "check.yml", KollaAction: "check", NeedsConfig: true},
	"stop": {Name: "stop", Playbook: "stop.yml", KollaAction: "stop", NeedsConfig: true,
		Loses: "stops every koala container: the APIs, the database and the message queue go down (nothing is deleted; `koala deploy` starts them again, after `koala mariadb-recovery` when every database node was stopped)"},
	"prune-images": {Name: "prune-images", Playbook: "prune-images.yml", KollaAction: "prune-images", NeedsConfig: true,
		Loses: "removes the Kolla images no tag names any more (the ones a pull or an upgrade replaced): going back to one means building or pulling it again"},
	"destroy": {Name: "destroy", Playbook: "destroy.yml", KollaAction: "destroy", NeedsConfig: true,
		Loses: "removes every koala container and the volumes they used (ALL DATA: the MariaDB databases, RabbitMQ queues, logs), the config under /etc/kolla (node_config_directory) and, with --include-images, the Kolla images"},
}

// Options are what every lifecycle command takes.
type Options struct {
	Inventories   []string
	ConfigDir     string
	PasswordsFile string
	ExtraVars     []string // -e values, as given
	Limit         string
	Tags          []string
	SkipTags      []string
	Check, Diff   bool
	Forks         int
	Verbosity     int
	Sinks         []engine.Sink
	// PlaybookDir is a tree with playbook/ and roles/ to use instead of the
	// embedded one; CacheDir is where the embedded one is written.
	PlaybookDir string
	CacheDir    string
	// Confirmed is --yes-i-really-really-mean-it, which an Action with Loses needs.
	Confirmed bool
	// Vars are set by the command itself (destroy --include-images), above
	// globals.yml and below -e.
	Vars map[string]any
	// ConnectionDefaults are engine.Options.ConnectionDefaults.
	ConnectionDefaults map[string]any
}

// loaded is what every command reads before it runs a playbook.
type loaded struct {
	inv    *inventory.Inventory
	cd     *configdir.Dir // nil when the action needs no config directory
	layers []map[string]any
	fixed  map[string]any // CONFIG_DIR, kolla_action, koala's own: one of layers
	pt     *playTree
}

// load reads the inventory, the config directory, -e and the tree of
// playbooks and roles (the embedded one or --playbook-dir).
func load(a Action, o Options) (*loaded, error) {
	inv, err := inventory.Load(o.Inventories...)
	if err != nil {
		return nil, err
	}
	if err := confirm(a, inv, o); err != nil {
		return nil, err
	}
	l := &loaded{inv: inv}
	if a.NeedsConfig {
		if l.cd, err = configdir.Load(o.ConfigDir, o.PasswordsFile); err != nil {
			return nil, err
		}
		l.layers = l.cd.ExtraVars()
	}
	cli, err := engine.ParseExtraVars(o.ExtraVars)
	if err != nil {
		return nil, err
	}
	// kolla-ansible passes these as extra vars too: CONFIG_DIR and
	// kolla_action sit above globals.yml, below the operator's -e.
	l.fixed = map[string]any{"CONFIG_DIR": o.ConfigDir}
	for k, v := range o.Vars {
		l.fixed[k] = v
	}
	if a.KollaAction != "" {
		l.fixed["kolla_action"] = a.KollaAction
	}
	l.layers = append(l.layers, l.fixed)
	l.layers = append(l.layers, cli...)

	tree := o.PlaybookDir
	if tree == "" {
		if err := os.MkdirAll(o.CacheDir, 0o755); err != nil {
			return nil, fmt.Errorf("cache directory: %w", err)
		}
		if tree, err = extractAssets(o.CacheDir); err != nil {
			return nil, err
		}
	}
	pbDir := filepath.Join(tree, "playbook")
	if _, err := os.Stat(filepath.Join(pbDir, a.Playbook)); err != nil {
		return nil, fmt.Errorf("%s: %w (is --playbook-dir a koala tree with playbook/ and roles/?)", a.Name, err)
	}
	// group_vars/ and host_vars/ next to the playbook (kolla-ansible's
	// group_vars/all/): inventory precedence, as ansible-playbook loads them.
	if err := inv.AddPlaybookVars(pbDir); err != nil {
		return nil, err
	}
	if l.pt, err = loadTree(tree); err != nil {
		return nil, err
	}
	return l, nil
}

// Images lists the images of the services the config directory enables, as
// `koala deploy` checks them in the registry before it starts: what
// `koala build-images -i INV --configdir DIR` builds.
func Images(o Options) ([]string, error) {
	a := Actions["deploy"]
	l, err := load(a, o)
	if err != nil {
		return nil, err
	}
	pb, err := l.pt.load(a.Playbook)
	if err != nil {
		return nil, err
	}
	n, err := newNeeds(l.cd, l.inv, l.pt.metas, l.layers)
	if err != nil {
		return nil, err
	}
	images, _, err := n.check(pb)
	return images, err
}

// Run loads everything the action needs, reports every problem it finds before
// any host is touched, then runs the action's playbook.
func Run(ctx context.Context, a Action, o Options) (*engine.Recap, error) {
	l, err := load(a, o)
	if err != nil {
		return nil, err
	}
	inv, cd, layers, fixed, pt := l.inv, l.cd, l.layers, l.fixed, l.pt
	pb, err := pt.load(a.Playbook)
	if err != nil {
		return nil, err
	}
	metas := pt.metas
	fixed["koala_precheck_ports"] = precheckPorts(metas)
	if cd != nil {
		images, err := checkConfig(cd, inv, pb, metas, layers)
		if err != nil {
			return nil, err
		}
		// Read by the playbook's registry check (registry_image).
		fixed["koala_images"] = toAny(images)
		if a.ReportsNeedsOf != "" {
			other, err := pt.load(a.ReportsNeedsOf)
			if err != nil {
				return nil, err
			}
			problems, err := configProblems(cd, inv, other, metas, layers)
			if err != nil {
				return nil, err
			}
			fixed["koala_config_problems"] = toAny(problems)
		}
	}
	var secrets []string
	if cd != nil {
		secrets = engine.SecretValues(cd.Passwords.Vars)
	}
	recap, err := engine.Run(ctx, engine.Options{
		Inventory: inv,
		Playbook:  pb,
		ExtraVars: layers,
		Limit:     o.Limit,
		Tags:      o.Tags,
		SkipTags:  o.SkipTags,
		Check:     o.Check,
		Diff:      o.Diff,
		Forks:     o.Forks,
		Verbosity: o.Verbosity,
		Sinks:     o.Sinks,
		Secrets:   secrets,

		ConnectionDefaults: o.ConnectionDefaults,
	})
	return recap, err
}

// precheckPorts are the ports every service role's meta/main.yml lists, with
// the group whose hosts must have them free and the container that may hold
// them, for the prechecks role.
func precheckPorts(metas []*plays.Meta) []any {
	var out []any
	for _, m := range metas {
		for _, p := range m.Ports {
			c := p.Container
			if c == "" {
				c = m.Role
			}
			out = append(out, map[string]any{"port": p.Port, "container": c, "group": m.Group})
		}
	}
	return out
}

// playTree is a koala tree (playbook/ and roles/) with the service plays its
// roles' metadata give (pkg/plays) laid under playbook/services/.
type playTree struct {
	playbooks, roles playbook.Source
	metas            []*plays.Meta
}

func loadTree(tree string) (*playTree, error) {
	pbDir, rolesDir := filepath.Join(tree, "playbook"), filepath.Join(tree, "roles")
	metas, err := plays.Load(os.DirFS(rolesDir), rolesDir)
	if err != nil {
		return nil, err
	}
	generated, err := plays.Generate(metas)
	if err != nil {
		return nil, err
	}
	return &playTree{
		playbooks: playbook.Source{FS: plays.Overlay(os.DirFS(pbDir), generated), Dir: ".", Display: pbDir, OSRoot: pbDir},
		roles:     playbook.Source{FS: os.DirFS(rolesDir), Dir: ".", Display: rolesDir, OSRoot: rolesDir},
		metas:     metas,
	}, nil
}

// load loads one playbook of the tree (a name under playbook/).
func (t *playTree) load(name string) (*playbook.Playbook, error) {
	return engine.LoadPlaybookFrom(t.playbooks, name, []playbook.Source{t.roles})
}
