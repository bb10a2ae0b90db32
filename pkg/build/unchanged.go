package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/docker/docker/errdefs"
)

// InputsLabel is the label carrying the hash of everything an image was built
// from (inputsHash). A rebuild whose inputs hash to the label of the image
// already in the engine (or, with --push, in the registry) is skipped without
// a BuildKit solve: that is what makes a no-change rebuild of the whole tree a
// few local API calls instead of one solve per image.
const InputsLabel = "koala.build.inputs"

// volatileLabels describe when and by which koala an image was built, not what
// it is made of: they stay out of the hash, and a skipped image keeps the ones
// it was built with.
var volatileLabels = map[string]bool{
	"org.opencontainers.image.created":  true,
	"build-date":                        true,
	"org.opencontainers.image.revision": true,
}

// unhashableRE finds what a Dockerfile can pull in that the context does not
// hold: another stage or image (COPY --from, a second FROM, RUN
// --mount=from=) or a URL. Such an image is always solved.
var (
	unhashableRE = regexp.MustCompile(`(?im)--from=|--mount=[^\s]*from=|^\s*ADD\s+(?:--\S+\s+)*https?://`)
	fromRE       = regexp.MustCompile(`(?im)^\s*FROM\s`)
)

// inputsHash hashes an image's inputs: its build context directory (the
// rendered Dockerfile is in it; every file's path, mode and content), the
// identity of the image it starts FROM (an image ID / config digest), its
// build arguments and its non-volatile labels. It returns "" when the image
// cannot be judged unchanged by its inputs (see unhashableRE, or no parent
// identity).
func inputsHash(dir string, dockerfile []byte, parentID string, labels, args map[string]string) (string, error) {
	if parentID == "" || unhashableRE.Match(dockerfile) || len(fromRE.FindAll(dockerfile, 2)) > 1 {
		return "", nil
	}
	h := sha256.New()
	field := func(parts ...string) {
		for _, p := range parts {
			fmt.Fprintf(h, "%d:%s", len(p), p)
		}
	}
	field("koala-inputs-v1", "parent", parentID)
	for _, k := range sortedKeys(labels) {
		if !volatileLabels[k] && k != InputsLabel {
			field("label", k, labels[k])
		}
	}
	for _, k := range sortedKeys(args) {
		field("arg", k, args[k])
	}
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			field("link", filepath.ToSlash(rel), target)
			return nil
		}
		field("entry", filepath.ToSlash(rel), info.Mode().String())
		if d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hashing the build context %s: %w", dir, err)
	}
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			return "", fmt.Errorf("hashing the build context: %w", err)
		}
		rel, _ := filepath.Rel(dir, p)
		field("file", filepath.ToSlash(rel))
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", fmt.Errorf("hashing %s: %w", p, err)
		}
		h.Write([]byte{0})
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// found is an image that exists under a reference: its identity (image ID,
// i.e. config digest) and its labels.
type found struct {
	ID     string
	Labels map[string]string
}

// lookupEngine inspects ref in the Docker engine; nil, nil when it has none.
func (b *Builder) lookupEngine(ctx context.Context, ref string) (*found, error) {
	if b.docker == nil {
		return nil, nil
	}
	ii, err := b.docker.ImageInspect(ctx, ref)
	if errdefs.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("inspect %s in the engine: %w", ref, err)
	}
	f := &found{ID: ii.ID}
	if ii.Config != nil {
		f.Labels = ii.Config.Labels
	}
	return f, nil
}

// manifestTypes are the single-image manifests a push of ours produces.
const manifestTypes = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"

// lookupRegistry reads ref's manifest and config from its registry (anonymous,
// as the engine's push is; plain HTTP for a loopback registry or with
// insecure); nil, nil when the registry does not have it.
func lookupRegistry(ctx context.Context, ref string, insecure bool) (*found, error) {
	host, repo, tag, ok := splitRef(ref)
	if !ok {
		return nil, nil
	}
	scheme := "https"
	if h, _, err := net.SplitHostPort(host); insecure || host == "localhost" || isLoopback(host) || (err == nil && (h == "localhost" || isLoopback(h))) {
		scheme = "http"
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	base := scheme + "://" + host + "/v2/" + repo
	var m struct {
		Config struct {
			Digest string `json:"digest"`
		} `json:"config"`
	}
	if ok, err := registryGet(ctx, base+"/manifests/"+tag, manifestTypes, &m); err != nil || !ok {
		return nil, err
	}
	if m.Config.Digest == "" {
		return nil, nil // an index or an old schema: not what our push makes
	}
	var c struct {
		Config struct {
			Labels map[string]string `json:"Labels"`
		} `json:"config"`
	}
	if ok, err := registryGet(ctx, base+"/blobs/"+m.Config.Digest, "", &c); err != nil || !ok {
		return nil, err
	}
	return &found{ID: m.Config.Digest, Labels: c.Config.Labels}, nil
}

func registryGet(ctx context.Context, u, accept string, into any) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, fmt.Errorf("registry: %w", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return false, nil
	default:
		return false, fmt.Errorf("registry: GET %s: HTTP %d", u, resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(into); err != nil {
		return false, fmt.Errorf("registry: GET %s: %w", u, err)
	}
	return true, nil
}

// splitRef splits host/repo:tag; ok is false for a reference without a
// registry host (Docker Hub's short names are not looked up).
func splitRef(ref string) (host, repo, tag string, ok bool) {
	host, rest, found := strings.Cut(ref, "/")
	if !found || !strings.ContainsAny(host, ".:") && host != "localhost" {
		return "", "", "", false
	}
	i := strings.LastIndex(rest, ":")
	if i < 0 || strings.Contains(rest[i:], "/") {
		return host, rest, "latest", true
	}
	return host, rest[:i], rest[i+1:], true
}

func isLoopback(h string) bool {
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
