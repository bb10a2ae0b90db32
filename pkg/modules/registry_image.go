package modules

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/distribution/reference"
)

// registryImageModule asks the registry an image reference names whether it
// holds the image (Docker Registry HTTP API v2: HEAD
// /v2/<name>/manifests/<tag>), dialled through the host's connection, so the
// registry is the one the nodes will pull from, at the address they use. It
// changes nothing and fails with every missing reference at once: a deploy
// runs it before the first container is touched.
type registryImageModule struct{}

func init() { Register(registryImageModule{}, "registry_image") }

func (registryImageModule) Args() (accepted, required []string) {
	return []string{"images", "insecure", "username", "password", "timeout"}, []string{"images"}
}

// manifestTypes are the manifests a pull accepts: Docker's and OCI's, single
// and multi-platform.
var manifestTypes = strings.Join([]string{
	"application/vnd.docker.distribution.manifest.v2+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.oci.image.index.v1+json",
}, ", ")

func (registryImageModule) Run(ctx context.Context, t *Task) (Result, error) {
	a := newArgs(t.Args)
	images := a.list("images")
	insecure := a.boolean(false, "insecure")
	user := a.str("", "username")
	password := a.str("", "password")
	timeout := a.integer(30, "timeout")
	if err := a.err("registry_image"); err != nil {
		return Result{}, err
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return t.Conn.Dial(ctx, "tcp", addr)
		},
		TLSHandshakeTimeout:   seconds(timeout),
		ResponseHeaderTimeout: seconds(timeout),
	}
	defer tr.CloseIdleConnections()
	c := &registryClient{http: &http.Client{Transport: tr, Timeout: seconds(timeout)}, insecure: insecure, user: user, password: password}
	var missing, found []string
	for _, img := range uniqueSorted(images) {
		ok, err := c.hasManifest(ctx, img)
		if err != nil {
			// Images already on every host need no registry: say how to
			// skip the check then.
			return Result{Failed: true, Msg: fmt.Sprintf("host %s: %v (when the images are already on the hosts, `-e koala_check_images=false` skips this check)", t.Host, err),
				Data: map[string]any{"missing": toAnyList(missing), "found": toAnyList(found)}}, nil
		}
		if ok {
			found = append(found, img)
		} else {
			missing = append(missing, img)
		}
	}
	data := map[string]any{"missing": toAnyList(missing), "found": toAnyList(found)}
	if len(missing) > 0 {
		return Result{Failed: true, Data: data, Msg: fmt.Sprintf(
			"%d image(s) not in the registry (as seen from %s): %s. Build and push them (koala build-images --push --registry ...) or fix docker_registry, docker_namespace or openstack_tag in globals.yml",
			len(missing), t.Host, strings.Join(missing, ", "))}, nil
	}
	return Result{Data: data, Msg: fmt.Sprintf("%d image(s) found", len(found))}, nil
}

func uniqueSorted(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

func toAnyList(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// imageRef is a parsed image reference.
type imageRef struct {
	registry string // host[:port]; Docker Hub is registry-1.docker.io
	name     string // repository path
	ref      string // tag or digest
}

// parseImageRef splits an image reference as Docker does
// (github.com/distribution/reference, the parser the Docker client uses).
func parseImageRef(s string) (imageRef, error) {
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return imageRef{}, fmt.Errorf("%q is not an image reference (registry/namespace/name:tag): %w", s, err)
	}
	r := imageRef{registry: reference.Domain(named), name: reference.Path(named)}
	if r.registry == "docker.io" {
		r.registry = "registry-1.docker.io"
	}
	if d, ok := named.(reference.Digested); ok {
		r.ref = d.Digest().String()
	} else {
		r.ref = reference.TagNameOnly(named).(reference.Tagged).Tag()
	}
	return r, nil
}

type registryClient struct {
	http           *http.Client
	insecure       bool
	user, password string
}

// hasManifest reports whether the registry holds img.
func (c *registryClient) hasManifest(ctx context.Context, img string) (bool, error) {
	r, err := parseImageRef(img)
	if err != nil {
		return false, err
	}
	scheme := "https"
	if c.insecure {
		scheme = "http"
	}
	u := fmt.Sprintf("%s://%s/v2/%s/manifests/%s", scheme, r.registry, r.name, r.ref)
	resp, err := c.head(ctx, u, "")
	if err != nil {
		return false, fmt.Errorf("registry %s (checking %s): %w", r.registry, img, err)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		auth, err := c.authorize(ctx, resp.Header.Get("WWW-Authenticate"))
		if err != nil {
			return false, fmt.Errorf("registry %s (checking %s): %w", r.registry, img, err)
		}
		if resp, err = c.head(ctx, u, auth); err != nil {
			return false, fmt.Errorf("registry %s (checking %s): %w", r.registry, img, err)
		}
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	case http.StatusUnauthorized, http.StatusForbidden:
		return false, fmt.Errorf("registry %s refused %s (HTTP %d): check docker_registry_username and docker_registry_password", r.registry, img, resp.StatusCode)
	}
	return false, fmt.Errorf("registry %s answered HTTP %d for %s", r.registry, resp.StatusCode, u)
}

func (c *registryClient) head(ctx context.Context, u, auth string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", manifestTypes)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	return resp, nil
}

// authorize answers a 401 challenge: Basic with the credentials, Bearer with
// a token from the challenge's realm (anonymous without credentials), as
// docker pull does.
func (c *registryClient) authorize(ctx context.Context, challenge string) (string, error) {
	scheme, params := parseChallenge(challenge)
	switch strings.ToLower(scheme) {
	case "basic":
		if c.user == "" {
			return "", fmt.Errorf("the registry asks for a login: set docker_registry_username and docker_registry_password")
		}
		req, _ := http.NewRequest(http.MethodGet, "http://x", nil)
		req.SetBasicAuth(c.user, c.password)
		return req.Header.Get("Authorization"), nil
	case "bearer":
		q := url.Values{}
		if params["service"] != "" {
			q.Set("service", params["service"])
		}
		if params["scope"] != "" {
			q.Set("scope", params["scope"])
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, params["realm"]+"?"+q.Encode(), nil)
		if err != nil {
			return "", fmt.Errorf("token realm %q: %w", params["realm"], err)
		}
		if c.user != "" {
			req.SetBasicAuth(c.user, c.password)
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return "", fmt.Errorf("token from %s: %w", params["realm"], err)
		}
		defer resp.Body.Close()
		var tok struct {
			Token       string `json:"token"`
			AccessToken string `json:"access_token"`
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &tok) != nil {
			return "", fmt.Errorf("token from %s: HTTP %d", params["realm"], resp.StatusCode)
		}
		if tok.Token == "" {
			tok.Token = tok.AccessToken
		}
		return "Bearer " + tok.Token, nil
	}
	return "", fmt.Errorf("the registry asks for %q authentication, which koala does not speak", scheme)
}

// parseChallenge reads `Bearer realm="...",service="...",scope="..."`.
func parseChallenge(h string) (string, map[string]string) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	params := map[string]string{}
	for rest != "" {
		var kv string
		rest = strings.TrimLeft(rest, " ,")
		k, v, ok := strings.Cut(rest, "=")
		if !ok {
			break
		}
		if strings.HasPrefix(v, `"`) {
			end := strings.IndexByte(v[1:], '"')
			if end < 0 {
				kv, rest = v[1:], ""
			} else {
				kv, rest = v[1:end+1], v[end+2:]
			}
		} else {
			kv, rest, _ = strings.Cut(v, ",")
		}
		params[strings.ToLower(strings.TrimSpace(k))] = kv
	}
	return scheme, params
}
