package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	ucli "github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/koala-stack/koala/pkg/configdir"
	"github.com/koala-stack/koala/pkg/deploy"
	"github.com/koala-stack/koala/pkg/engine"
	"github.com/koala-stack/koala/pkg/engine/output"
)

// lifecycleCommands are kolla-ansible's commands that run a playbook of the
// embedded roles against an inventory: bootstrap-servers, prechecks, deploy,
// post-deploy, the day-2 commands, upgrade and mariadb-recovery.
func lifecycleCommands() []*ucli.Command {
	usage := map[string]string{
		"bootstrap-servers": "prepare hosts: container engine, registry trust, /etc/hosts, sysctls, /etc/kolla",
		"prechecks":         "report everything that would make a deploy fail, change nothing",
		"deploy":            "deploy and start the enabled services (config → pull → containers → bootstrap → register)",
		"post-deploy":       "write admin-openrc.sh, admin-openrc-system.sh, public-openrc.sh and clouds.yaml into the config dir",
		"mariadb-recovery":  "restart a Galera cluster whose nodes all went down, from the node with the latest committed data",
		"upgrade":           "roll the control plane to new images (pulled first), one batch of hosts at a time (kolla_serial, default 1), APIs drained from haproxy",
		"certificates":      "make the root CA and the haproxy certificates TLS needs under CONFIGDIR/certificates; existing ones are kept",
		"pull":              "pull the images of the enabled services on the hosts that run them; nothing else changes",
		"genconfig":         "write every service's config to the hosts; no container is touched",
		"deploy-containers": "start, recreate or restart containers from the config on the hosts; no config, no bootstrap",
		"reconfigure":       "apply config changes: restart only the containers whose config or spec changed, one loadbalancer/database/broker node at a time",
		"check":             "check that every container runs and is healthy, haproxy backends are up, Galera is Synced, RabbitMQ is clustered; a report per host",
		"stop":              "stop every koala container (needs " + deploy.ConfirmFlag + ")",
		"destroy":           "remove every koala container, volume and config from the hosts (needs " + deploy.ConfirmFlag + ")",
		"prune-images":      "remove the dangling Kolla images (no tag names them) from the hosts (needs " + deploy.ConfirmFlag + ")",
	}
	// Flags of one command only.
	confirmFlag := func() ucli.Flag {
		return &ucli.BoolFlag{Name: strings.TrimPrefix(deploy.ConfirmFlag, "--"), Usage: "confirm a command that stops or deletes the cloud"}
	}
	extra := map[string][]ucli.Flag{
		"stop":         {confirmFlag()},
		"prune-images": {confirmFlag()},
		"destroy":      {confirmFlag(), &ucli.BoolFlag{Name: "include-images", Usage: "also remove the Kolla images from the hosts"}},
	}
	describe := map[string]string{
		"check": "\n\nPrints a report per host, and with --json one JSON document\n" +
			"({ok, hosts: [{host, ok, checks: [{check, ok, detail}], error}]}) instead of the\n" +
			"task view (-v shows the task view and every passed check). Exit status 2 on any problem.",
		"destroy": "\n\nRefused without " + deploy.ConfirmFlag + ". Removes what koala made on each host\n" +
			"of the run (--limit narrows it): containers, their volumes (all data), /etc/kolla\n" +
			"except globals.yml, passwords.yml, config/ and certificates/, koala's state.",
		"stop": "\n\nRefused without " + deploy.ConfirmFlag + ". Containers are stopped, not removed.",
		"certificates": "\n\nOn the deploy host, for kolla_enable_tls_external/_internal: a root CA\n" +
			"(private/root/, ca/root.crt) and haproxy.pem / haproxy-internal.pem (kolla_external_fqdn_cert,\n" +
			"kolla_internal_fqdn_cert) valid for the VIPs and FQDNs. A file that exists is never\n" +
			"overwritten: your own certificate is used as it is, and checked.",
	}
	// kolla-ansible's spellings of the same commands.
	aliases := map[string][]string{"mariadb-recovery": {"mariadb_recovery"}}
	var cmds []*ucli.Command
	for _, name := range []string{"bootstrap-servers", "prechecks", "deploy", "post-deploy", "pull", "genconfig", "deploy-containers", "reconfigure", "check", "stop", "destroy", "prune-images", "upgrade", "mariadb-recovery", "certificates"} {
		action := deploy.Actions[name]
		run := func(c *ucli.Context) error { return runLifecycle(c, action) }
		if name == "check" {
			run = func(c *ucli.Context) error { return runCheck(c, action) }
		}
		cmds = append(cmds, &ucli.Command{
			Name:    name,
			Aliases: aliases[name],
			Usage:   usage[name],
			Description: "Reads the inventory, globals.yml, globals.d/*.yml and passwords.yml of the\n" +
				"config directory, checks them and every role and template before any host is\n" +
				"touched, then runs playbook/" + action.Playbook + ". Exit status: 0 ok, 2 a host\n" +
				"failed or was unreachable, 1 bad input." + describe[name],
			Flags:  append(lifecycleFlags(), extra[name]...),
			Action: run,
		})
	}
	return cmds
}

func lifecycleFlags() []ucli.Flag {
	cache, _ := os.UserCacheDir()
	return append([]ucli.Flag{
		&ucli.StringSliceFlag{Name: "inventory", Aliases: []string{"i"}, Usage: "inventory file, directory or host list (repeatable)", Value: ucli.NewStringSlice(filepath.Join(configdir.Default, "multinode"))},
		&ucli.StringFlag{Name: "configdir", EnvVars: []string{"KOLLA_CONFIG_PATH"}, Value: configdir.Default, Usage: "the config directory (globals.yml, passwords.yml, config/)"},
		&ucli.StringFlag{Name: "passwords", Usage: "passwords file (default: CONFIGDIR/passwords.yml)"},
		&ucli.StringFlag{Name: "playbook-dir", Usage: "a tree with playbook/ and roles/ to run instead of the built-in one"},
		&ucli.StringFlag{Name: "cache-dir", Value: filepath.Join(cache, "koala"), Usage: "where the built-in roles are written to be run"},
	}, append(engineFlags(), vaultFlags()...)...)
}

// engineFlags are the ansible-playbook options every command that runs a
// playbook takes.
func engineFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringFlag{Name: "limit", Aliases: []string{"l"}, Usage: "further limit hosts to this pattern"},
		&ucli.StringSliceFlag{Name: "tags", Aliases: []string{"t"}, Usage: "only run tasks with these tags (comma-separated, repeatable)"},
		&ucli.StringSliceFlag{Name: "skip-tags", Usage: "skip tasks with these tags"},
		// A generic flag: a StringSliceFlag would split "-e list=a,b" at the comma.
		&ucli.GenericFlag{Name: "extra-vars", Aliases: []string{"e"}, Value: &repeated{}, Usage: "extra variables: k=v, {yaml} or @file (repeatable, highest precedence)"},
		&ucli.BoolFlag{Name: "check", Aliases: []string{"C"}, Usage: "report what would change, change nothing"},
		&ucli.BoolFlag{Name: "diff", Aliases: []string{"D"}, Usage: "show the changes made to files"},
		&ucli.IntFlag{Name: "forks", Aliases: []string{"f"}, Value: engine.DefaultForks, Usage: "hosts worked on at once (default: ansible.cfg's forks, else 50)"},
		&ucli.BoolFlag{Name: "ask-become-pass", Aliases: []string{"K"}, Usage: "ask for sudo's password (sent to sudo only when it asks, never in arguments)"},
		&ucli.StringFlag{Name: "become-password-file", Usage: "read sudo's password from the first line of this file"},
		&ucli.BoolFlag{Name: "json", Usage: "print the event stream as JSON lines instead of the terminal view"},
		&ucli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Count: new(int), Usage: "a line per host result (-vv: per loop item)"},
	}
}

func runLifecycle(c *ucli.Context, a deploy.Action) error {
	opts, err := lifecycleOptions(c, []engine.Sink{eventSink(c)})
	if err != nil {
		return err
	}
	recap, err := deploy.Run(c.Context, a, opts)
	if err != nil {
		return &ExitError{Code: 1, Err: fmt.Errorf("%s: %w", a.Name, err)}
	}
	if recap.Failed() {
		return &ExitError{Code: 2, Err: fmt.Errorf("%s: failed or unreachable: %s", a.Name, strings.Join(recap.FailedHosts(), ", "))}
	}
	return nil
}

// runCheck runs `koala check` and prints its report: text per host, or one
// JSON document with --json; the task view only with -v.
func runCheck(c *ucli.Context, a deploy.Action) error {
	report := deploy.NewHealthReport()
	sinks := []engine.Sink{report}
	if c.Count("verbose") > 0 && !c.Bool("json") {
		sinks = append(sinks, eventSink(c))
	}
	opts, err := lifecycleOptions(c, sinks)
	if err != nil {
		return err
	}
	if _, err := deploy.Run(c.Context, a, opts); err != nil {
		return &ExitError{Code: 1, Err: fmt.Errorf("%s: %w", a.Name, err)}
	}
	if c.Bool("json") {
		if err := report.WriteJSON(c.App.Writer); err != nil {
			return err
		}
	} else {
		report.WriteText(c.App.Writer, c.Count("verbose") > 0)
	}
	if !report.OK {
		problems := report.Problems()
		if len(problems) == 0 {
			problems = []string{"no host was checked"}
		}
		return &ExitError{Code: 2, Err: fmt.Errorf("%s: %d problem(s): %s", a.Name, len(problems), strings.Join(problems, "; "))}
	}
	return nil
}

// lifecycleOptions are the command line's (and ansible.cfg's) deploy.Options.
func lifecycleOptions(c *ucli.Context, sinks []engine.Sink) (deploy.Options, error) {
	cfg, err := ansibleConfig(c)
	if err != nil {
		return deploy.Options{}, err
	}
	conn, err := connectionDefaults(c, cfg)
	if err != nil {
		return deploy.Options{}, err
	}
	if err := setupVault(c, cfg); err != nil {
		return deploy.Options{}, err
	}
	var vars map[string]any
	if c.Bool("include-images") {
		vars = map[string]any{"destroy_include_images": true}
	}
	// Absolute: the roles read CONFIG_DIR/config/... as override files, and a
	// relative path there would be looked up among the role's templates.
	configDir := c.String("configdir")
	if abs, err := filepath.Abs(configDir); err == nil {
		configDir = abs
	}
	return deploy.Options{
		Inventories:   c.StringSlice("inventory"),
		ConfigDir:     configDir,
		PasswordsFile: c.String("passwords"),
		ExtraVars:     c.Generic("extra-vars").(*repeated).vals,
		Limit:         c.String("limit"),
		Tags:          splitList(c.StringSlice("tags")),
		SkipTags:      splitList(c.StringSlice("skip-tags")),
		Check:         c.Bool("check"),
		Diff:          c.Bool("diff"),
		Forks:         forks(c, cfg),
		Verbosity:     c.Count("verbose"),
		Sinks:         sinks,
		PlaybookDir:   c.String("playbook-dir"),
		CacheDir:      c.String("cache-dir"),
		Confirmed:     c.Bool(strings.TrimPrefix(deploy.ConfirmFlag, "--")),
		Vars:          vars,

		ConnectionDefaults: conn,
	}, nil
}

// eventSink is the terminal view (live on a TTY, cut to its width) or, with
// --json, JSON lines.
func eventSink(c *ucli.Context) engine.Sink {
	if c.Bool("json") {
		return output.NewJSON(c.App.Writer)
	}
	live, width := false, 0
	if f, ok := c.App.Writer.(*os.File); ok && output.IsTerminal(f) {
		live = true
		if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil {
			width = int(ws.Col)
		}
	}
	return output.NewTerminal(c.App.Writer, output.TerminalOptions{Live: live, Width: width, Verbose: c.Count("verbose"), Diff: c.Bool("diff")})
}
