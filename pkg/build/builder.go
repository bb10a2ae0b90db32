package build

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	dockerclient "github.com/docker/docker/client"
	bk "github.com/moby/buildkit/client"
	"github.com/moby/buildkit/util/progress/progressui"
	"github.com/tonistiigi/fsutil"

	_ "github.com/moby/buildkit/client/connhelper/dockercontainer" // docker-container:// addresses
)

// BuilderOptions says which BuildKit to use.
type BuilderOptions struct {
	// Addr is a buildkitd address (unix://, tcp://, docker-container://NAME).
	// Empty means the BuildKit embedded in the local Docker engine (DOCKER_HOST or
	// the default socket); images then land in the engine's image store.
	Addr string
	// DialTimeout bounds connecting to BuildKit (default 30s).
	DialTimeout time.Duration
}

// Builder runs BuildKit solves with the Dockerfile frontend. It is safe for
// concurrent use: each Build is one solve with its own session.
type Builder struct {
	bk     *bk.Client
	docker *dockerclient.Client // nil for a standalone buildkitd
	addr   string
}

// Spec is one image build.
type Spec struct {
	Name       string            // for messages and the progress display
	ContextDir string            // build context directory
	Dockerfile []byte            // Dockerfile content (the file in ContextDir is ignored)
	Tags       []string          // full references, e.g. registry/kolla/keystone:2025.1
	Push       bool              // push Tags after the build
	Insecure   bool              // the registry speaks plain HTTP
	Labels     map[string]string // image labels (added as LABEL by the frontend)
	BuildArgs  map[string]string // ARG values
	NoCache    bool              // ignore BuildKit's cache
	// Progress, when set, receives BuildKit's plain-text progress log of this build.
	Progress io.Writer
	// Status, when set, receives BuildKit's raw status stream (for a combined
	// display of parallel builds); Build closes it when it returns.
	Status chan<- *bk.SolveStatus
	// SourceDateEpoch, when set, is passed to the frontend as SOURCE_DATE_EPOCH.
	SourceDateEpoch string
}

// NewBuilder connects to BuildKit and checks that it answers.
func NewBuilder(ctx context.Context, o BuilderOptions) (*Builder, error) {
	if o.DialTimeout == 0 {
		o.DialTimeout = 30 * time.Second
	}
	b := &Builder{addr: o.Addr}
	var opts []bk.ClientOpt
	if o.Addr == "" {
		dc, err := dockerclient.NewClientWithOpts(dockerclient.FromEnv, dockerclient.WithAPIVersionNegotiation())
		if err != nil {
			return nil, fmt.Errorf("docker engine client: %w", err)
		}
		b.docker = dc
		b.addr = "docker:" + dc.DaemonHost()
		opts = append(opts,
			bk.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
				return dc.DialHijack(ctx, "/grpc", "h2c", nil)
			}),
			bk.WithSessionDialer(func(ctx context.Context, proto string, meta map[string][]string) (net.Conn, error) {
				return dc.DialHijack(ctx, "/session", proto, meta)
			}))
	} else if u, err := url.Parse(o.Addr); err != nil || u.Scheme == "" {
		return nil, fmt.Errorf("--buildkit-addr %q: want unix://PATH, tcp://HOST:PORT or docker-container://NAME", o.Addr)
	}
	c, err := bk.New(ctx, o.Addr, opts...)
	if err != nil {
		b.close()
		return nil, fmt.Errorf("connect to BuildKit at %s: %w", b.addr, err)
	}
	b.bk = c
	pctx, cancel := context.WithTimeout(ctx, o.DialTimeout)
	defer cancel()
	if _, err := c.ListWorkers(pctx); err != nil {
		b.close()
		return nil, fmt.Errorf("BuildKit at %s does not answer (is the engine/buildkitd running?): %w", b.addr, err)
	}
	return b, nil
}

// Addr names the BuildKit in use, for messages.
func (b *Builder) Addr() string { return b.addr }

// Engine reports whether images land in a local Docker engine's image store.
func (b *Builder) Engine() bool { return b.docker != nil }

// Close releases the connections.
func (b *Builder) Close() error { return b.close() }

func (b *Builder) close() error {
	var err error
	if b.bk != nil {
		err = b.bk.Close()
	}
	if b.docker != nil {
		if e := b.docker.Close(); err == nil {
			err = e
		}
	}
	return err
}

// Build runs one solve of s with the Dockerfile frontend and, if s.Push, pushes the tags.
func (b *Builder) Build(ctx context.Context, s Spec) error {
	if s.Status != nil {
		defer close(s.Status)
	}
	if len(s.Tags) == 0 {
		return fmt.Errorf("build %s: no tags", s.Name)
	}
	dfDir, err := os.MkdirTemp("", "koala-dockerfile-")
	if err != nil {
		return fmt.Errorf("build %s: %w", s.Name, err)
	}
	defer os.RemoveAll(dfDir)
	if err := os.WriteFile(filepath.Join(dfDir, "Dockerfile"), s.Dockerfile, 0o644); err != nil {
		return fmt.Errorf("build %s: %w", s.Name, err)
	}
	ctxFS, err := fsutil.NewFS(s.ContextDir)
	if err != nil {
		return fmt.Errorf("build %s: context %s: %w", s.Name, s.ContextDir, err)
	}
	dfFS, err := fsutil.NewFS(dfDir)
	if err != nil {
		return fmt.Errorf("build %s: %w", s.Name, err)
	}

	attrs := map[string]string{"filename": "Dockerfile"}
	if s.NoCache {
		attrs["no-cache"] = ""
	}
	for k, v := range s.Labels {
		attrs["label:"+k] = v
	}
	for k, v := range s.BuildArgs {
		attrs["build-arg:"+k] = v
	}
	if s.SourceDateEpoch != "" {
		attrs["build-arg:SOURCE_DATE_EPOCH"] = s.SourceDateEpoch
	}

	exp := bk.ExportEntry{Attrs: map[string]string{"name": strings.Join(s.Tags, ",")}}
	if b.docker != nil {
		exp.Type = "moby"
	} else {
		exp.Type = bk.ExporterImage
		if s.Push {
			exp.Attrs["push"] = "true"
			if s.Insecure {
				exp.Attrs["registry.insecure"] = "true"
			}
		}
	}

	ch := make(chan *bk.SolveStatus)
	displayDone := make(chan error, 1)
	go func() { displayDone <- b.display(ctx, s, ch) }()

	_, err = b.bk.Solve(ctx, nil, bk.SolveOpt{
		Frontend:      "dockerfile.v0",
		FrontendAttrs: attrs,
		LocalMounts:   map[string]fsutil.FS{"context": ctxFS, "dockerfile": dfFS},
		Exports:       []bk.ExportEntry{exp},
	}, ch)
	derr := <-displayDone
	if err != nil {
		return fmt.Errorf("build %s: %w", s.Name, err)
	}
	if derr != nil {
		return fmt.Errorf("build %s: progress: %w", s.Name, derr)
	}
	if s.Push && b.docker != nil {
		for _, t := range s.Tags {
			if err := b.pushEngine(ctx, t, s.Progress); err != nil {
				return &PushError{Ref: t, Err: err}
			}
		}
	}
	return nil
}

// display copies the status stream to s.Progress (plain text) and to s.Status.
func (b *Builder) display(ctx context.Context, s Spec, ch chan *bk.SolveStatus) error {
	var logCh chan *bk.SolveStatus
	logDone := make(chan error, 1)
	if s.Progress != nil {
		d, err := progressui.NewDisplay(s.Progress, progressui.PlainMode)
		if err != nil {
			return err
		}
		logCh = make(chan *bk.SolveStatus, 16)
		go func() { _, err := d.UpdateFrom(context.WithoutCancel(ctx), logCh); logDone <- err }()
	} else {
		logDone <- nil
	}
	for st := range ch {
		if logCh != nil {
			logCh <- st
		}
		if s.Status != nil {
			s.Status <- st
		}
	}
	if logCh != nil {
		close(logCh)
	}
	return <-logDone
}

func sortStrings(s []string) { sort.Strings(s) }

func sortFailures(f []Failure) {
	sort.Slice(f, func(i, j int) bool { return f[i].Name < f[j].Name })
}

// sortedKeys returns m's keys in order (stable messages and output).
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
