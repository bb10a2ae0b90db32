package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/moby/buildkit/util/progress/progressui"
	ucli "github.com/urfave/cli/v2"

	"github.com/koala-stack/koala/images"
	"github.com/koala-stack/koala/pkg/build"
	"github.com/koala-stack/koala/pkg/deploy"
)

// defaultBuildConf is read when it exists and --config-file is not given.
const defaultBuildConf = "/etc/kolla/koala-build.conf"

func buildImagesCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "build-images",
		Usage:     "render the Dockerfile.j2 tree and build the selected images and their parents with BuildKit",
		ArgsUsage: "[REGEX...]",
		Description: "Each REGEX selects the images whose name it matches (anywhere in the name); their\n" +
			"parents are built too unless --skip-parents. No REGEX and no --profile: every image.\n" +
			"Images are <registry>/<namespace>/<image>:<tag>. By default BuildKit is the one inside\n" +
			"the local Docker engine and images land in the engine. Exit status 1 when an image failed.",
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "config-file", Usage: "koala-build.conf (INI: [DEFAULT], [profiles], [sources]; default " + defaultBuildConf + " when it exists)"},
			&ucli.StringFlag{Name: "images-dir", Usage: "use the Dockerfile.j2 tree in this directory instead of the embedded one"},
			&ucli.StringFlag{Name: "template-override", Usage: "a file of {% block %}s replacing the tree's blocks (<image>_header, <image>_footer, <image>_packages_append/_remove)"},
			&ucli.StringFlag{Name: "profile", Usage: "a named list of regexes: infra, main, default or one from [profiles]"},
			&ucli.StringSliceFlag{Name: "inventory", Aliases: []string{"i"}, Usage: "with --configdir: build the images of the services it enables (as koala deploy finds them)"},
			&ucli.StringFlag{Name: "configdir", Usage: "with -i: the config directory (globals.yml, passwords.yml) whose enabled services' images to build"},
			&ucli.BoolFlag{Name: "skip-parents", Usage: "build only the matched images, not their parents"},
			&ucli.BoolFlag{Name: "skip-existing", Usage: "skip images the engine already has"},
			&ucli.BoolFlag{Name: "list-images", Usage: "print the images that would be built and exit"},
			&ucli.BoolFlag{Name: "list-dependencies", Usage: "print the images that would be built as a parent/child tree and exit"},
			&ucli.BoolFlag{Name: "template-only", Usage: "render the build contexts into --work-dir and exit"},
			&ucli.StringFlag{Name: "work-dir", Usage: "where build contexts are written (default: a temporary directory, removed afterwards)"},
			&ucli.StringFlag{Name: "logs-dir", Usage: "write one <image>.log per image here"},
			&ucli.StringFlag{Name: "base-image", Value: "debian", Usage: "FROM of the base image"},
			&ucli.StringFlag{Name: "base-tag", Value: "trixie", Usage: "tag of --base-image"},
			&ucli.StringFlag{Name: "install-type", Value: "binary", Usage: "binary (Debian packages) or source (archives from [sources])"},
			&ucli.StringFlag{Name: "registry", Usage: "registry host[:port] prefixed to image names"},
			&ucli.StringFlag{Name: "namespace", Value: "kolla", Usage: "image namespace"},
			&ucli.StringFlag{Name: "tag", Value: "2025.1", Usage: "image tag"},
			&ucli.BoolFlag{Name: "push", Usage: "push images after building them"},
			&ucli.BoolFlag{Name: "registry-insecure", Usage: "the registry speaks plain HTTP (standalone buildkitd; the engine decides by its own insecure-registries)"},
			&ucli.IntFlag{Name: "threads", Value: 4, Usage: "images built at the same time"},
			&ucli.IntFlag{Name: "retries", Value: 0, Usage: "extra attempts for an image that failed"},
			&ucli.DurationFlag{Name: "image-timeout", Value: 2 * time.Hour, Usage: "give up on an image whose build (and push) takes longer"},
			&ucli.StringFlag{Name: "buildkit-addr", Usage: "a standalone buildkitd: unix://PATH, tcp://HOST:PORT or docker-container://NAME (default: the Docker engine's)"},
			&ucli.StringFlag{Name: "runtime-bin", Usage: "the kolla-runtime binary to put into base (default: kolla-runtime next to the koala binary)"},
			&ucli.BoolFlag{Name: "no-cache", Usage: "do not use BuildKit's cache"},
			&ucli.StringFlag{Name: "progress", Value: "auto", Usage: "progress display: auto, plain, tty or quiet"},
			&ucli.StringFlag{Name: "summary-json", Usage: "write the summary (built, failed, skipped, unmatched) to this file"},
		},
		Action: buildImages,
	}
}

func buildImages(c *ucli.Context) error {
	ctx := c.Context
	conf, err := loadBuildConf(c)
	if err != nil {
		return err
	}
	opt := func(name string) string {
		if !c.IsSet(name) {
			if v, ok := conf.Defaults[strings.ReplaceAll(name, "-", "_")]; ok {
				return v
			}
		}
		return c.String(name)
	}
	intOpt := func(name string) (int, error) {
		if !c.IsSet(name) {
			if v, ok := conf.Defaults[strings.ReplaceAll(name, "-", "_")]; ok {
				n, err := strconv.Atoi(v)
				if err != nil {
					return 0, fmt.Errorf("%s: [DEFAULT] %s = %q is not a number", conf.Path, name, v)
				}
				return n, nil
			}
		}
		return c.Int(name), nil
	}

	var tree *build.Tree
	if dir := c.String("images-dir"); dir != "" {
		tree, err = build.LoadTree(os.DirFS(dir), dir)
	} else {
		tree, err = build.LoadTree(images.FS, "embedded")
	}
	if err != nil {
		return err
	}
	var ov *build.Override
	if p := c.String("template-override"); p != "" {
		if ov, err = tree.LoadOverride(p); err != nil {
			return err
		}
	}
	vars := build.Vars{
		BaseImage: opt("base-image"), BaseTag: opt("base-tag"), InstallType: opt("install-type"),
		Registry: opt("registry"), Namespace: opt("namespace"), Tag: opt("tag"),
	}
	if vars.InstallType != "binary" && vars.InstallType != "source" {
		return fmt.Errorf("--install-type %q: want binary or source", vars.InstallType)
	}
	profiles := conf.Profiles
	regexes := c.Args().Slice()
	if c.IsSet("configdir") || c.IsSet("inventory") {
		re, err := deployedImages(c)
		if err != nil {
			return err
		}
		regexes = append(regexes, re)
	}
	plan, err := build.NewPlan(tree, tree.NewRenderer(vars, ov), vars, build.Selection{
		Regexes: regexes, Profile: opt("profile"), Profiles: profiles, SkipParents: c.Bool("skip-parents"),
	})
	if err != nil {
		return err
	}
	if c.Bool("list-images") {
		plan.ListImages(c.App.Writer)
		return nil
	}
	if c.Bool("list-dependencies") {
		plan.ListDependencies(c.App.Writer)
		return nil
	}

	threads, err := intOpt("threads")
	if err != nil {
		return err
	}
	retries, err := intOpt("retries")
	if err != nil {
		return err
	}
	ro := build.RunOptions{
		WorkDir: c.String("work-dir"), LogsDir: c.String("logs-dir"), RuntimeBin: c.String("runtime-bin"),
		Sources: conf.Sources, Threads: threads, Retries: retries, Push: c.Bool("push"),
		Insecure: c.Bool("registry-insecure"), SkipExisting: c.Bool("skip-existing"), NoCache: c.Bool("no-cache"),
		ImageTimeout:    c.Duration("image-timeout"),
		SourceDateEpoch: os.Getenv("SOURCE_DATE_EPOCH"), Revision: Version,
		Progress: c.App.ErrWriter, ProgressMode: progressui.DisplayMode(c.String("progress")),
	}
	if ro.Progress == nil {
		ro.Progress = os.Stderr
	}
	if ro.RuntimeBin == "" {
		if exe, err := os.Executable(); err == nil {
			ro.RuntimeBin = filepath.Join(filepath.Dir(exe), "kolla-runtime")
		}
	}
	if c.Bool("template-only") && ro.WorkDir == "" {
		return errors.New("--template-only needs --work-dir")
	}
	if ro.WorkDir == "" {
		if ro.WorkDir, err = os.MkdirTemp("", "koala-build-"); err != nil {
			return err
		}
		defer os.RemoveAll(ro.WorkDir)
	}
	if err := plan.WriteContexts(ctx, tree, ro); err != nil {
		return err
	}
	if c.Bool("template-only") {
		fmt.Fprintf(c.App.Writer, "build contexts of %d image(s) written to %s\n", len(plan.Order), ro.WorkDir)
		return nil
	}

	b, err := build.NewBuilder(ctx, build.BuilderOptions{Addr: opt("buildkit-addr")})
	if err != nil {
		return err
	}
	defer b.Close()
	sum, runErr := plan.Run(ctx, b, ro)
	if sum == nil {
		return runErr
	}
	if p := c.String("summary-json"); p != "" {
		if err := sum.WriteJSON(p); err != nil {
			return fmt.Errorf("--summary-json: %w", err)
		}
	}
	fmt.Fprintf(c.App.Writer, "built %d, skipped %d, failed %d, not selected %d\n", len(sum.Built), len(sum.Skipped), len(sum.Failed), len(sum.Unmatched))
	for _, f := range sum.Failed {
		fmt.Fprintf(c.App.Writer, "FAILED %s (%s): %s\n", f.Name, f.Status, f.Error)
	}
	if runErr != nil {
		return runErr
	}
	if !sum.OK() {
		return &ExitError{Code: 1, Err: fmt.Errorf("%d image(s) failed", len(sum.Failed))}
	}
	return nil
}

// loadBuildConf reads --config-file, or the default file when it exists.
func loadBuildConf(c *ucli.Context) (*build.Conf, error) {
	path := c.String("config-file")
	if path == "" {
		if _, err := os.Stat(defaultBuildConf); errors.Is(err, fs.ErrNotExist) {
			return &build.Conf{Defaults: map[string]string{}, Profiles: map[string][]string{}, Sources: map[string]build.Source{}}, nil
		}
		path = defaultBuildConf
	}
	return build.LoadConf(path)
}

// deployedImages is a regex of the tree's images that the services enabled
// by --configdir run on -i's hosts: the list koala deploy checks in the
// registry, so that a new service's images are built without naming them.
func deployedImages(c *ucli.Context) (string, error) {
	if !c.IsSet("configdir") || !c.IsSet("inventory") {
		return "", errors.New("build-images: -i and --configdir go together (the images of the services a config directory enables)")
	}
	cache, _ := os.UserCacheDir()
	refs, err := deploy.Images(deploy.Options{
		Inventories: c.StringSlice("inventory"), ConfigDir: c.String("configdir"), CacheDir: filepath.Join(cache, "koala"),
	})
	if err != nil {
		return "", fmt.Errorf("build-images: the images of %s: %w", c.String("configdir"), err)
	}
	if len(refs) == 0 {
		return "", fmt.Errorf("build-images: %s enables no service with an image", c.String("configdir"))
	}
	var names []string
	for _, r := range refs {
		name := path.Base(r)
		if i := strings.LastIndex(name, ":"); i > 0 {
			name = name[:i]
		}
		names = append(names, regexp.QuoteMeta(name))
	}
	return "^(" + strings.Join(names, "|") + ")$", nil
}
