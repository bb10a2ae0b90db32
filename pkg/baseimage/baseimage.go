// Package baseimage makes the Debian base OS image every koala image starts from
// when no image registry is reachable: debootstrap (minbase variant) from a Debian
// package mirror, apt's caches emptied, the root file system packed as a tarball
// cached under the user's cache directory, and the tarball imported into the
// Docker engine with the Docker API.
//
// Ensure is cheap when the work is done: an image already tagged is left alone, and
// a cached tarball is imported without running debootstrap again.
package baseimage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"
)

const (
	// DefaultSuite is the Debian release koala's images are built on.
	DefaultSuite = "trixie"
	// DefaultMirror is Debian's own redirecting mirror.
	DefaultMirror = "http://deb.debian.org/debian"
	// bootstrapTimeout bounds one debootstrap run (about a minute on a good link).
	bootstrapTimeout = 20 * time.Minute
	// importTimeout bounds importing the tarball into the engine.
	importTimeout = 10 * time.Minute
)

// Options say which image to make and where to keep the tarball.
type Options struct {
	Suite    string    // Debian suite; default DefaultSuite
	Mirror   string    // package mirror; default DefaultMirror
	Tag      string    // image reference; default "debian:<suite>"
	CacheDir string    // tarball directory; default <user cache dir>/koala/base
	Log      io.Writer // debootstrap's output and progress lines; nil discards
}

// Engine is the part of the Docker API Ensure uses.
type Engine interface {
	ImageInspect(ctx context.Context, ref string, opts ...client.ImageInspectOption) (image.InspectResponse, error)
	ImageImport(ctx context.Context, src image.ImportSource, ref string, opts image.ImportOptions) (io.ReadCloser, error)
}

// Outcome says what Ensure had to do.
type Outcome string

const (
	Present  Outcome = "present"  // the tag existed: nothing done
	Imported Outcome = "imported" // imported from the cached tarball
	Built    Outcome = "built"    // debootstrapped, cached and imported
)

// Result describes the image Ensure made sure of.
type Result struct {
	Tag     string
	Tarball string // the cached root file system tarball
	Outcome Outcome
	ImageID string
}

func (o *Options) defaults() error {
	if o.Suite == "" {
		o.Suite = DefaultSuite
	}
	if o.Mirror == "" {
		o.Mirror = DefaultMirror
	}
	if o.Tag == "" {
		o.Tag = "debian:" + o.Suite
	}
	if o.CacheDir == "" {
		d, err := os.UserCacheDir()
		if err != nil {
			return fmt.Errorf("base image cache directory: %w (set XDG_CACHE_HOME or HOME)", err)
		}
		o.CacheDir = filepath.Join(d, "koala", "base")
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return nil
}

// TarballPath is where the root file system of suite is cached in cacheDir.
func TarballPath(cacheDir, suite string) string {
	return filepath.Join(cacheDir, "debian-"+suite+".tar")
}

// Ensure makes sure the engine has o.Tag: present → nothing; cached tarball →
// import; otherwise debootstrap, cache, import.
func Ensure(ctx context.Context, eng Engine, o Options) (Result, error) {
	if err := o.defaults(); err != nil {
		return Result{}, err
	}
	res := Result{Tag: o.Tag, Tarball: TarballPath(o.CacheDir, o.Suite)}
	if img, err := eng.ImageInspect(ctx, o.Tag); err == nil {
		res.Outcome, res.ImageID = Present, img.ID
		return res, nil
	} else if !errdefs.IsNotFound(err) {
		return res, fmt.Errorf("look for image %s: %w", o.Tag, err)
	}
	res.Outcome = Imported
	if _, err := os.Stat(res.Tarball); errors.Is(err, os.ErrNotExist) {
		if err := Bootstrap(ctx, o, res.Tarball); err != nil {
			return res, err
		}
		res.Outcome = Built
	} else if err != nil {
		return res, fmt.Errorf("base tarball %s: %w", res.Tarball, err)
	}
	fmt.Fprintf(o.Log, "importing %s as %s\n", res.Tarball, o.Tag)
	if err := Import(ctx, eng, res.Tarball, o.Tag); err != nil {
		return res, err
	}
	img, err := eng.ImageInspect(ctx, o.Tag)
	if err != nil {
		return res, fmt.Errorf("image %s after import: %w", o.Tag, err)
	}
	res.ImageID = img.ID
	return res, nil
}

// debootstrapPath finds debootstrap, which lives in /usr/sbin (often not in a
// user's PATH).
func debootstrapPath() (string, error) {
	if p, err := exec.LookPath("debootstrap"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/debootstrap"); err == nil {
		return "/usr/sbin/debootstrap", nil
	}
	return "", errors.New("debootstrap not found: install it with `apt-get install debootstrap` (it makes the Debian base image)")
}

// Bootstrap runs debootstrap into a scratch directory next to tarball, empties
// apt's caches, and writes the tree to tarball atomically (temporary file +
// rename). It needs root, as debootstrap does.
func Bootstrap(ctx context.Context, o Options, tarball string) error {
	if err := o.defaults(); err != nil {
		return err
	}
	deboot, err := debootstrapPath()
	if err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("debootstrap must run as root: run `sudo koala lab base` once (the tarball is cached for later runs)")
	}
	dir := filepath.Dir(tarball)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("base image cache: %w", err)
	}
	rootfs, err := os.MkdirTemp(dir, ".rootfs-")
	if err != nil {
		return fmt.Errorf("base image scratch directory: %w", err)
	}
	defer os.RemoveAll(rootfs)

	bctx, cancel := context.WithTimeout(ctx, bootstrapTimeout)
	defer cancel()
	fmt.Fprintf(o.Log, "debootstrap --variant=minbase %s from %s\n", o.Suite, o.Mirror)
	cmd := exec.CommandContext(bctx, deboot, "--variant=minbase", o.Suite, rootfs, o.Mirror)
	cmd.Stdout, cmd.Stderr = o.Log, o.Log
	if err := cmd.Run(); err != nil {
		if bctx.Err() != nil {
			err = fmt.Errorf("%w (gave up after %s)", bctx.Err(), bootstrapTimeout)
		}
		return fmt.Errorf("debootstrap %s from %s: %w (is the mirror reachable? see the output above)", o.Suite, o.Mirror, err)
	}
	for _, pattern := range []string{"var/cache/apt/archives/*.deb", "var/lib/apt/lists/*"} {
		matches, _ := filepath.Glob(filepath.Join(rootfs, pattern))
		for _, m := range matches {
			if err := os.RemoveAll(m); err != nil {
				return fmt.Errorf("empty apt caches in %s: %w", rootfs, err)
			}
		}
	}

	tmp, err := os.CreateTemp(dir, ".debian-*.tar")
	if err != nil {
		return fmt.Errorf("base tarball: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename this is a no-op
	// tar keeps device nodes, hard links, xattrs and numeric owners exactly.
	tarCmd := exec.CommandContext(bctx, "tar", "--numeric-owner", "--xattrs", "-C", rootfs, "-c", ".")
	tarCmd.Stdout = tmp
	tarCmd.Stderr = o.Log
	err = tarCmd.Run()
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("pack %s into %s: %w", rootfs, tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), tarball); err != nil {
		return fmt.Errorf("base tarball: %w", err)
	}
	return nil
}

// Import loads a root file system tarball into the engine as image ref.
func Import(ctx context.Context, eng Engine, tarball, ref string) error {
	f, err := os.Open(tarball)
	if err != nil {
		return fmt.Errorf("import base image: %w", err)
	}
	defer f.Close()
	ictx, cancel := context.WithTimeout(ctx, importTimeout)
	defer cancel()
	rc, err := eng.ImageImport(ictx, image.ImportSource{Source: f, SourceName: "-"}, ref, image.ImportOptions{})
	if err != nil {
		return fmt.Errorf("import %s as %s: %w", tarball, ref, err)
	}
	defer rc.Close()
	if err := streamError(rc); err != nil {
		return fmt.Errorf("import %s as %s: %w", tarball, ref, err)
	}
	return nil
}

// streamError reads a Docker JSON message stream to its end and returns the
// first error it reports.
func streamError(r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var m struct {
			Error       string `json:"error"`
			ErrorDetail struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&m); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("reading engine response: %w", err)
		}
		if m.ErrorDetail.Message != "" {
			return errors.New(m.ErrorDetail.Message)
		}
		if m.Error != "" {
			return errors.New(m.Error)
		}
	}
}
