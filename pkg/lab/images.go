package lab

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"

	"github.com/koala-stack/koala/pkg/build"
)

//go:embed images
var imageFiles embed.FS

// buildTimeout bounds building one lab image (apt-get from the mirror).
const buildTimeout = 30 * time.Minute

// labImage is one of the lab's images and the directory of images/ it comes from.
type labImage struct{ tag, dir string }

func labImages(p *Plan) []labImage {
	return []labImage{{p.NodeImage(), "node"}, {p.RegistryImage(), "registry"}}
}

// ErrNoBaseImage says the base OS image is missing.
var ErrNoBaseImage = errors.New("base image missing")

// ensureImages builds the node and registry images (in parallel) unless the
// engine has them built from the same files and base image. It returns what it
// built.
func ensureImages(ctx context.Context, eng client.APIClient, p *Plan) ([]string, error) {
	base, err := eng.ImageInspect(ctx, p.BaseImage)
	if errdefs.IsNotFound(err) {
		return nil, fmt.Errorf("%w: %s is not in the engine; make it with `koala lab base` (debootstrap from deb.debian.org, about a minute)", ErrNoBaseImage, p.BaseImage)
	} else if err != nil {
		return nil, fmt.Errorf("look for base image %s: %w", p.BaseImage, err)
	}
	var todo []labImage
	hashes := map[string]string{}
	for _, li := range labImages(p) {
		h, err := imageHash(li.dir, base.ID)
		if err != nil {
			return nil, err
		}
		hashes[li.tag] = h
		img, err := eng.ImageInspect(ctx, li.tag)
		if err == nil && img.Config != nil && img.Config.Labels[labelImage] == h {
			continue
		}
		if err != nil && !errdefs.IsNotFound(err) {
			return nil, fmt.Errorf("look for image %s: %w", li.tag, err)
		}
		todo = append(todo, li)
	}
	if len(todo) == 0 {
		return nil, nil
	}
	b, err := build.NewBuilder(ctx, build.BuilderOptions{Addr: p.BuildKit})
	if err != nil {
		return nil, fmt.Errorf("build lab images: %w", err)
	}
	defer b.Close()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		made []string
	)
	for _, li := range todo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fmt.Fprintf(p.Log, "building %s from %s\n", li.tag, p.BaseImage)
			err := buildImage(ctx, b, li, p, hashes[li.tag])
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			made = append(made, li.tag)
		}()
	}
	wg.Wait()
	sort.Strings(made)
	return made, errors.Join(errs...)
}

// buildImage builds one lab image; BuildKit's progress goes to
// <lab dir>/build-<image>.log.
func buildImage(ctx context.Context, b *build.Builder, li labImage, p *Plan, hash string) error {
	dir, err := os.MkdirTemp("", "koala-lab-"+li.dir+"-")
	if err != nil {
		return fmt.Errorf("build %s: %w", li.tag, err)
	}
	defer os.RemoveAll(dir)
	var dockerfile []byte
	err = walkImage(li.dir, func(name string, data []byte) error {
		if name == "Dockerfile" {
			dockerfile = []byte(strings.ReplaceAll(string(data), "{{BASE}}", p.BaseImage))
			return nil
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(name, "koala-") {
			mode = 0o755
		}
		return os.WriteFile(filepath.Join(dir, name), data, mode)
	})
	if err != nil {
		return fmt.Errorf("build %s: %w", li.tag, err)
	}
	bctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		return fmt.Errorf("lab directory: %w", err)
	}
	logPath := filepath.Join(p.Dir, "build-"+li.dir+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("build %s: %w", li.tag, err)
	}
	defer logf.Close()
	start := time.Now()
	err = b.Build(bctx, build.Spec{
		Name:       "lab-" + li.dir,
		ContextDir: dir,
		Dockerfile: dockerfile,
		Tags:       []string{li.tag},
		Labels:     map[string]string{labelImage: hash, "org.opencontainers.image.title": "koala-lab-" + li.dir},
		Progress:   logf,
	})
	if err != nil {
		out, _ := os.ReadFile(logPath)
		return fmt.Errorf("build %s: %w\n%s\n(full log: %s)", li.tag, err, tail(string(out), 30), logPath)
	}
	fmt.Fprintf(p.Log, "built %s in %s (log: %s)\n", li.tag, time.Since(start).Round(time.Second), logPath)
	return nil
}

// walkImage calls fn for every file of images/<dir>, in name order.
func walkImage(dir string, fn func(name string, data []byte) error) error {
	entries, err := imageFiles.ReadDir(path.Join("images", dir))
	if err != nil {
		return err
	}
	for _, e := range entries {
		data, err := fs.ReadFile(imageFiles, path.Join("images", dir, e.Name()))
		if err != nil {
			return err
		}
		if err := fn(e.Name(), data); err != nil {
			return err
		}
	}
	return nil
}

// imageHash identifies an image's inputs: its files and the base image.
func imageHash(dir, baseID string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "base %s\n", baseID)
	err := walkImage(dir, func(name string, data []byte) error {
		fmt.Fprintf(h, "%s %d\n", name, len(data))
		h.Write(data)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)), err
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
