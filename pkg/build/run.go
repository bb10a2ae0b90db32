package build

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/errdefs"
	bk "github.com/moby/buildkit/client"
	"github.com/moby/buildkit/util/progress/progressui"
	digest "github.com/opencontainers/go-digest"
)

// RunOptions are the build-wide settings of Run.
type RunOptions struct {
	WorkDir         string            // build contexts go to WorkDir/<image>/
	LogsDir         string            // one <image>.log per image; "" for none
	RuntimeBin      string            // the kolla-runtime binary COPYed into base
	Sources         map[string]Source // [sources] of koala-build.conf
	Threads         int               // parallel solves (default 4)
	Retries         int               // extra attempts for a failed image
	Push            bool
	Insecure        bool          // plain-HTTP registry (standalone buildkitd)
	SkipExisting    bool          // do not rebuild images the engine already has
	ImageTimeout    time.Duration // bound on one image's solve and push (default 2h)
	NoCache         bool
	SourceDateEpoch string // SOURCE_DATE_EPOCH: image created time and build arg
	Revision        string // org.opencontainers.image.revision
	Progress        io.Writer
	ProgressMode    progressui.DisplayMode // default auto: tty when Progress is one
}

// Failure statuses, as Kolla's build summary names them.
const (
	StatusError       = "error"
	StatusParentError = "parent_error"
	StatusPushError   = "push_error"
)

// Summary is the outcome of a run (--summary-json).
type Summary struct {
	Built  []string  `json:"built"`
	Failed []Failure `json:"failed"`
	// Unchanged are the images whose inputs hash to the InputsLabel of the
	// image already in the engine (or registry, with --push): no solve.
	Unchanged []string `json:"skipped_unchanged"`
	Skipped   []string `json:"skipped"` // --skip-existing
	Unmatched []string `json:"unmatched"`
	// Seconds is the wall time of each image's build (solve, export, push and
	// retries; not the wait for its parent or a thread), built or failed.
	Seconds map[string]float64 `json:"seconds"`
}

// Failure is one image that was not built.
type Failure struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Error  string `json:"error"`
}

// OK reports whether nothing failed.
func (s *Summary) OK() bool { return len(s.Failed) == 0 }

// WriteJSON writes the summary to path.
func (s *Summary) WriteJSON(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

var (
	runtimeCopyRE = regexp.MustCompile(`(?m)^\s*(?:COPY|ADD)\s+(?:--\S+\s+)*kolla-runtime\s`)
	archiveRE     = regexp.MustCompile(`(?m)^\s*(?:COPY|ADD)\s+(?:--\S+\s+)*([A-Za-z0-9._-]+)-archive\s`)
)

// WriteContexts writes each planned image's build context to o.WorkDir/<image>/:
// its Dockerfile, the files of its tree directory, the runtime binary when the
// Dockerfile copies kolla-runtime, and <name>-archive for each archive it adds.
// Missing inputs are all reported at once, before anything is built.
func (pl *Plan) WriteContexts(ctx context.Context, t *Tree, o RunOptions) error {
	var errs []string
	for _, n := range pl.Order {
		rd := pl.Images[n]
		if runtimeCopyRE.Match(rd.Dockerfile) {
			if o.RuntimeBin == "" {
				errs = append(errs, fmt.Sprintf("%s copies kolla-runtime: give --runtime-bin or put kolla-runtime next to the koala binary (make build)", n))
			} else if st, err := os.Stat(o.RuntimeBin); err != nil || !st.Mode().IsRegular() {
				errs = append(errs, fmt.Sprintf("%s copies kolla-runtime: %s is not a file (build it with make build)", n, o.RuntimeBin))
			}
		}
		for _, m := range archiveRE.FindAllSubmatch(rd.Dockerfile, -1) {
			if _, ok := o.Sources[string(m[1])]; !ok {
				errs = append(errs, fmt.Sprintf("%s adds %s-archive: add `%s = local:PATH` (or url:, git:) under [sources] in koala-build.conf", n, m[1], m[1]))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("cannot prepare build contexts:\n  %s", strings.Join(errs, "\n  "))
	}
	for _, n := range pl.Order {
		rd := pl.Images[n]
		dir := filepath.Join(o.WorkDir, n)
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		files, err := t.contextFiles(t.Images[n])
		if err != nil {
			return fmt.Errorf("image %s: %w", n, err)
		}
		for _, f := range files {
			data, err := fs.ReadFile(t.FS, t.Images[n].Dir+"/"+f)
			if err != nil {
				return fmt.Errorf("image %s: %w", n, err)
			}
			mode := os.FileMode(0o644)
			if st, err := fs.Stat(t.FS, t.Images[n].Dir+"/"+f); err == nil && st.Mode()&0o111 != 0 {
				mode = 0o755
			}
			if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dir, f), data, mode); err != nil {
				return err
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), rd.Dockerfile, 0o644); err != nil {
			return err
		}
		if runtimeCopyRE.Match(rd.Dockerfile) {
			if err := copyFile(o.RuntimeBin, filepath.Join(dir, "kolla-runtime"), 0o755); err != nil {
				return fmt.Errorf("image %s: kolla-runtime: %w", n, err)
			}
		}
		for _, m := range archiveRE.FindAllSubmatch(rd.Dockerfile, -1) {
			name := string(m[1])
			if err := fetchSource(ctx, o.Sources[name], filepath.Join(dir, name+"-archive")); err != nil {
				return fmt.Errorf("image %s: source %s (%s): %w", n, name, o.Sources[name].Where, err)
			}
		}
	}
	return nil
}

// fetchSource puts a source at dst: a directory copied as is, an archive file as
// is (ADD unpacks it), a URL downloaded, a git repository cloned.
func fetchSource(ctx context.Context, s Source, dst string) error {
	switch s.Type {
	case "local":
		st, err := os.Stat(s.Location)
		if err != nil {
			return err
		}
		if st.IsDir() {
			return os.CopyFS(dst, os.DirFS(s.Location))
		}
		return copyFile(s.Location, dst, 0o644)
	case "url":
		ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		return runCmd(ctx, "curl", "-fsSL", "-o", dst, s.Location)
	case "git":
		ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		args := []string{"clone", "--depth", "1"}
		if s.Reference != "" {
			args = append(args, "--branch", s.Reference)
		}
		if err := runCmd(ctx, "git", append(args, s.Location, dst)...); err != nil {
			return err
		}
		return os.RemoveAll(filepath.Join(dst, ".git"))
	}
	return fmt.Errorf("unknown source type %q", s.Type)
}

func runCmd(ctx context.Context, name string, args ...string) error {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Labels returns the OCI labels of image n.
func (pl *Plan) Labels(n string, o RunOptions, now time.Time) map[string]string {
	created := now.UTC()
	if o.SourceDateEpoch != "" {
		if sec, err := strconv.ParseInt(o.SourceDateEpoch, 10, 64); err == nil {
			created = time.Unix(sec, 0).UTC()
		}
	}
	l := map[string]string{
		"org.opencontainers.image.title":   n,
		"org.opencontainers.image.version": pl.Vars.Tag,
		"org.opencontainers.image.created": created.Format(time.RFC3339),
		"build-date":                       created.Format("20060102"),
		"kolla_version":                    pl.Vars.Tag,
	}
	if o.Revision != "" {
		l["org.opencontainers.image.revision"] = o.Revision
	}
	return l
}

// Run builds the plan's images with b: each image once its parent is built, at
// most o.Threads at a time. A failed image fails its descendants (parent_error);
// the others go on. The error is only for the run as a whole (e.g. canceled);
// failed images are in the summary.
func (pl *Plan) Run(ctx context.Context, b *Builder, o RunOptions) (*Summary, error) {
	if o.Threads < 1 {
		o.Threads = 4
	}
	if o.SourceDateEpoch != "" {
		if _, err := strconv.ParseInt(o.SourceDateEpoch, 10, 64); err != nil {
			return nil, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a number of seconds", o.SourceDateEpoch)
		}
	}
	if o.SkipExisting && !b.Engine() {
		return nil, errors.New("--skip-existing looks in the Docker engine's image store: it needs the engine's BuildKit (no --buildkit-addr)")
	}
	if o.LogsDir != "" {
		if err := os.MkdirAll(o.LogsDir, 0o755); err != nil {
			return nil, fmt.Errorf("logs dir: %w", err)
		}
	}
	now := time.Now()
	status := make(chan *bk.SolveStatus, 64)
	displayDone := make(chan struct{})
	go func() {
		defer close(displayDone)
		out := o.Progress
		if out == nil {
			out = io.Discard
		}
		mode := o.ProgressMode
		if mode == "" {
			mode = progressui.AutoMode
		}
		d, err := progressui.NewDisplay(out, mode)
		if err != nil {
			d, _ = progressui.NewDisplay(out, progressui.PlainMode)
		}
		_, _ = d.UpdateFrom(context.WithoutCancel(ctx), status)
	}()

	var (
		mu      sync.Mutex
		sum     = &Summary{Built: []string{}, Failed: []Failure{}, Unchanged: []string{}, Skipped: []string{}, Unmatched: pl.Unmatched, Seconds: map[string]float64{}}
		done    = map[string]chan struct{}{}
		ok      = map[string]bool{}
		ids     = map[string]string{} // image -> identity, for its children's inputs hash
		sem     = make(chan struct{}, o.Threads)
		wg      sync.WaitGroup
		statusW sync.WaitGroup
	)
	if sum.Unmatched == nil {
		sum.Unmatched = []string{}
	}
	inPlan := map[string]bool{}
	for _, n := range pl.Order {
		done[n] = make(chan struct{})
		inPlan[n] = true
	}
	fail := func(n, st string, err error) {
		mu.Lock()
		defer mu.Unlock()
		sum.Failed = append(sum.Failed, Failure{Name: n, Status: st, Error: err.Error()})
	}
	for _, n := range pl.Order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[n])
			parentID := ""
			if p := pl.Images[n].Parent; p != "" && inPlan[p] {
				<-done[p]
				mu.Lock()
				pok := ok[p]
				parentID = ids[p]
				mu.Unlock()
				if !pok {
					fail(n, StatusParentError, fmt.Errorf("parent %s was not built", p))
					return
				}
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				fail(n, StatusError, ctx.Err())
				return
			}
			defer func() { <-sem }()
			ref := pl.Vars.Ref(n)
			if o.SkipExisting {
				if _, err := b.docker.ImageInspect(ctx, ref); err == nil {
					mu.Lock()
					sum.Skipped = append(sum.Skipped, n)
					ok[n] = true
					mu.Unlock()
					return
				} else if !errdefs.IsNotFound(err) {
					fail(n, StatusError, fmt.Errorf("inspect %s: %w", ref, err))
					return
				}
			}
			start := time.Now()
			hash, id, err := pl.unchanged(ctx, b, o, n, parentID, now)
			if err != nil {
				fail(n, StatusError, err)
				return
			}
			if id != "" {
				mu.Lock()
				sum.Unchanged = append(sum.Unchanged, n)
				ok[n], ids[n] = true, id
				mu.Unlock()
				return
			}
			id, st, err := pl.buildOne(ctx, b, o, n, hash, now, status, &statusW)
			mu.Lock()
			sum.Seconds[n] = math.Round(time.Since(start).Seconds()*10) / 10
			mu.Unlock()
			if err != nil {
				fail(n, st, err)
				return
			}
			mu.Lock()
			sum.Built = append(sum.Built, n)
			ok[n], ids[n] = true, id
			mu.Unlock()
		}()
	}
	wg.Wait()
	statusW.Wait()
	close(status)
	<-displayDone
	sortSummary(sum)
	return sum, ctx.Err()
}

// buildOne builds image n with retries, labelled with its inputs hash when it
// has one; it returns the image's identity, or a failure status with the error.
func (pl *Plan) buildOne(ctx context.Context, b *Builder, o RunOptions, n, hash string, now time.Time, status chan<- *bk.SolveStatus, statusW *sync.WaitGroup) (string, string, error) {
	var log io.Writer
	if o.LogsDir != "" {
		f, err := os.Create(filepath.Join(o.LogsDir, n+".log"))
		if err != nil {
			return "", StatusError, fmt.Errorf("log file: %w", err)
		}
		defer f.Close()
		log = f
	}
	if o.ImageTimeout <= 0 {
		o.ImageTimeout = 2 * time.Hour
	}
	labels := pl.Labels(n, o, now)
	if hash != "" {
		labels[InputsLabel] = hash
	}
	var (
		id  string
		err error
	)
	for attempt := 0; attempt <= o.Retries; attempt++ {
		if attempt > 0 && log != nil {
			fmt.Fprintf(log, "\n=== retry %d of %d after: %v\n", attempt, o.Retries, err)
		}
		ch := make(chan *bk.SolveStatus)
		statusW.Add(1)
		go func() {
			defer statusW.Done()
			for st := range ch {
				status <- relabel(n, st)
			}
		}()
		bctx, cancel := context.WithTimeout(ctx, o.ImageTimeout)
		id, err = b.build(bctx, Spec{
			Name:            n,
			ContextDir:      filepath.Join(o.WorkDir, n),
			Dockerfile:      pl.Images[n].Dockerfile,
			Tags:            []string{pl.Vars.Ref(n)},
			Push:            o.Push,
			Insecure:        o.Insecure,
			Labels:          labels,
			NoCache:         o.NoCache,
			SourceDateEpoch: o.SourceDateEpoch,
			Progress:        log,
			Status:          ch,
		})
		cancel()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("%w (the image took longer than %s)", err, o.ImageTimeout)
		}
		if err == nil || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		var pe *PushError
		if errors.As(err, &pe) {
			return "", StatusPushError, err
		}
		return "", StatusError, err
	}
	return id, "", nil
}

// unchanged hashes image n's inputs and looks for an image that carries that
// hash: in the engine, or with --push in the registry (an image the engine has
// and the registry lacks is pushed: still no solve). It returns the hash to
// label a build with, and the found image's identity when no build is needed.
// --no-cache always builds (and labels).
func (pl *Plan) unchanged(ctx context.Context, b *Builder, o RunOptions, n, parentID string, now time.Time) (hash, id string, err error) {
	rd := pl.Images[n]
	if parentID == "" { // an external FROM, or a parent not built in this run
		f, err := b.lookupEngine(ctx, rd.From)
		if err == nil && f == nil && o.Push {
			f, err = lookupRegistry(ctx, rd.From, o.Insecure)
		}
		if err != nil {
			return "", "", fmt.Errorf("image %s: its FROM: %w", n, err)
		}
		if f != nil {
			parentID = f.ID
		}
	}
	args := map[string]string{}
	if o.SourceDateEpoch != "" {
		args["SOURCE_DATE_EPOCH"] = o.SourceDateEpoch
	}
	hash, err = inputsHash(filepath.Join(o.WorkDir, n), rd.Dockerfile, parentID, pl.Labels(n, o, now), args)
	if err != nil || hash == "" || o.NoCache {
		return hash, "", err
	}
	ref := pl.Vars.Ref(n)
	e, err := b.lookupEngine(ctx, ref)
	if err != nil {
		return "", "", err
	}
	if !o.Push {
		if e != nil && e.Labels[InputsLabel] == hash {
			return hash, e.ID, nil
		}
		return hash, "", nil
	}
	r, err := lookupRegistry(ctx, ref, o.Insecure)
	if err != nil {
		return "", "", fmt.Errorf("image %s: %w", n, err)
	}
	switch {
	case e != nil && e.Labels[InputsLabel] == hash:
		if r == nil || r.ID != e.ID {
			if err := b.pushEngine(ctx, ref, nil); err != nil {
				return "", "", &PushError{Ref: ref, Err: err}
			}
		}
		return hash, e.ID, nil
	case e == nil && r != nil && r.Labels[InputsLabel] == hash:
		// The engine's FROM of a child that is built finds it in the registry.
		return hash, r.ID, nil
	}
	return hash, "", nil
}

// relabel makes one image's status safe to merge with others' in one display:
// vertex names get an "[image] " prefix and digests are made unique per image.
func relabel(n string, st *bk.SolveStatus) *bk.SolveStatus {
	d := func(x digest.Digest) digest.Digest { return digest.FromString(n + "\x00" + string(x)) }
	out := &bk.SolveStatus{}
	for _, v := range st.Vertexes {
		c := *v
		c.Digest = d(v.Digest)
		c.Name = "[" + n + "] " + v.Name
		c.Inputs = nil
		for _, in := range v.Inputs {
			c.Inputs = append(c.Inputs, d(in))
		}
		out.Vertexes = append(out.Vertexes, &c)
	}
	for _, s := range st.Statuses {
		c := *s
		c.Vertex = d(s.Vertex)
		out.Statuses = append(out.Statuses, &c)
	}
	for _, l := range st.Logs {
		c := *l
		c.Vertex = d(l.Vertex)
		out.Logs = append(out.Logs, &c)
	}
	for _, w := range st.Warnings {
		c := *w
		c.Vertex = d(w.Vertex)
		out.Warnings = append(out.Warnings, &c)
	}
	return out
}

func sortSummary(s *Summary) {
	for _, l := range [][]string{s.Built, s.Unchanged, s.Skipped, s.Unmatched} {
		sortStrings(l)
	}
	sortFailures(s.Failed)
}
