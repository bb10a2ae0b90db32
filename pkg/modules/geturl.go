package modules

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
)

type getURLModule struct{}

func init() { Register(getURLModule{}, "get_url") }

func (getURLModule) Args() (accepted, required []string) {
	return []string{"url", "dest", "mode", "owner", "group", "checksum", "force", "headers", "timeout", "validate_certs",
		"url_username", "url_password", "force_basic_auth", "backup"}, []string{"url", "dest"}
}

// maxDownload bounds a get_url download, which is held in memory.
const maxDownload = 512 << 20

// Run downloads from the host's side (connections dialled through its
// transport) and writes dest like copy: only when the content differs. With
// force=false (the default) an existing dest is left alone, unless checksum
// says it is wrong.
func (getURLModule) Run(ctx context.Context, t *Task) (Result, error) {
	a := newArgs(t.Args)
	rawURL := a.str("", "url")
	spec := putSpec{dest: a.str("", "dest"), owner: a.str("", "owner"), group: a.str("", "group"),
		backup: a.boolean(false, "backup"), force: true}
	spec.mode, spec.hasMode = a.mode("mode")
	checksum := a.str("", "checksum")
	force := a.boolean(false, "force")
	timeout := a.integer(10, "timeout")
	validate := a.boolean(true, "validate_certs")
	user, password := a.str("", "url_username"), a.str("", "url_password")
	a.boolean(false, "force_basic_auth")
	headers := map[string]string{}
	if h, _, ok := a.get("headers"); ok {
		m, isMap := h.(map[string]any)
		if !isMap {
			a.bad("headers: want a mapping, got %T", h)
		}
		for k, v := range m {
			headers[k] = fmt.Sprint(v)
		}
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		a.bad("url %q is not an http(s) URL", rawURL)
	}
	if !strings.HasPrefix(spec.dest, "/") {
		a.bad("dest %q must be an absolute path", spec.dest)
	}
	var algo, want string
	var newHash func() hash.Hash
	if checksum != "" {
		algo, want, _ = strings.Cut(checksum, ":")
		want = strings.ToLower(want)
		newHash = map[string]func() hash.Hash{"sha1": sha1.New, "sha256": sha256.New, "sha512": sha512.New}[algo]
		if newHash == nil || want == "" {
			a.bad("checksum %q: want sha1:, sha256: or sha512: followed by the hex digest", checksum)
		}
	}
	if err := a.err("get_url"); err != nil {
		return Result{}, err
	}
	// A URL path's last element names the file when dest is a directory.
	spec.srcBase = path.Base(u.Path)
	if spec.srcBase == "/" || spec.srcBase == "." {
		spec.srcBase = "index.html"
	}
	rf, err := t.inspect(ctx, spec.dest, spec.srcBase, 0)
	if err != nil {
		return Result{}, err
	}
	data := map[string]any{"url": rawURL, "dest": rf.path}
	if rf.exists && !rf.dir && !force && (checksum == "" || algo == "sha256" && rf.sha256 == want) {
		// Present and, as far as the host's sha256 tells, right.
		return t.attrsOnly(ctx, spec, rf, data)
	}
	body, err := download(ctx, t, rawURL, headers, user, password, timeout, validate)
	if err != nil {
		return Result{Failed: true, Data: data, Msg: fmt.Sprintf("host %s: get_url %s: %v", t.Host, rawURL, err)}, nil
	}
	if newHash != nil {
		h := newHash()
		h.Write(body)
		if got := hex.EncodeToString(h.Sum(nil)); got != want {
			return Result{Failed: true, Data: data, Msg: fmt.Sprintf("host %s: get_url %s: %s checksum mismatch: got %s, want %s", t.Host, rawURL, algo, got, want)}, nil
		}
	}
	spec.content = body
	r, err := t.write(ctx, spec, rf)
	if err != nil || r.Failed {
		return r, err
	}
	r.Data["url"] = rawURL
	if r.Changed {
		r.Msg = fmt.Sprintf("OK (%d bytes)", len(body))
	}
	return r, nil
}

// attrsOnly applies mode/owner/group to an existing file whose content is
// kept; write with the file's own content does exactly that.
func (t *Task) attrsOnly(ctx context.Context, spec putSpec, rf remoteFile, data map[string]any) (Result, error) {
	if !spec.hasMode && spec.owner == "" && spec.group == "" {
		return Result{Data: data, Msg: "file already exists"}, nil
	}
	content, _, err := t.readRemote(ctx, rf.path)
	if err != nil {
		return Result{}, err
	}
	spec.content = content
	return t.write(ctx, spec, rf)
}

// download fetches rawURL through t's host.
func download(ctx context.Context, t *Task, rawURL string, headers map[string]string, user, password string, timeout int, validate bool) ([]byte, error) {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return t.Conn.Dial(ctx, "tcp", addr)
		},
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: !validate},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: seconds(timeout)}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if user != "" || password != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDownload+1))
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	if len(body) > maxDownload {
		return nil, fmt.Errorf("larger than %d MiB; koala holds downloads in memory", maxDownload>>20)
	}
	return body, nil
}
