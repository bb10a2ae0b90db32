package modules

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

type uriModule struct{}

func init() { Register(uriModule{}, "uri") }

func (uriModule) Args() (accepted, required []string) {
	return []string{"url", "method", "body", "body_format", "headers", "status_code", "return_content", "timeout",
		"url_username", "user", "url_password", "password", "force_basic_auth", "follow_redirects",
		"validate_certs", "ca_path", "unix_socket"}, []string{"url"}
}

// maxBody bounds how much of a response is read.
const maxBody = 64 << 20

// Run makes the request from the host's side: every connection is dialled
// through the host's transport, so an address only the host can reach works.
// (With delegate_to: localhost the engine hands in a local Conn.)
func (uriModule) Run(ctx context.Context, t *Task) (Result, error) {
	a := newArgs(t.Args)
	rawURL := a.str("", "url")
	method := strings.ToUpper(a.str("GET", "method"))
	format := a.choice("raw", "body_format", "raw", "json", "form-urlencoded")
	returnContent := a.boolean(false, "return_content")
	timeout := a.integer(30, "timeout")
	user := a.str("", "url_username", "user")
	password := a.str("", "url_password", "password")
	a.boolean(false, "force_basic_auth")
	follow := a.str("safe", "follow_redirects")
	if b, err := parseBool(follow); err == nil && follow != "" {
		follow = map[bool]string{true: "all", false: "none"}[b]
	}
	validate := a.boolean(true, "validate_certs")
	caPaths := a.list("ca_path")
	socket := a.str("", "unix_socket")
	codes := []int{200}
	if a.has("status_code") {
		codes = nil
		for _, s := range a.list("status_code") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil {
				a.bad("status_code: %q is not a number", s)
			}
			codes = append(codes, n)
		}
	}
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
	var body []byte
	if v, _, ok := a.get("body"); ok {
		switch {
		case format == "json":
			if s, isStr := v.(string); isStr {
				body = []byte(s)
			} else if body, err = json.Marshal(v); err != nil {
				a.bad("body: %v", err)
			}
			setDefault(headers, "Content-Type", "application/json")
		case format == "form-urlencoded":
			if m, isMap := v.(map[string]any); isMap {
				vals := url.Values{}
				for k, x := range m {
					vals.Set(k, fmt.Sprint(x))
				}
				body = []byte(vals.Encode())
			} else {
				body = []byte(fmt.Sprint(v))
			}
			setDefault(headers, "Content-Type", "application/x-www-form-urlencoded")
		default:
			body = []byte(fmt.Sprint(v))
		}
	}
	roots, err := caPool(caPaths)
	if err != nil {
		a.bad("ca_path: %v", err)
	}
	if err := a.err("uri"); err != nil {
		return Result{}, err
	}
	if method != "GET" && method != "HEAD" {
		if skip, ok := t.unpredictable("uri: " + method + " skipped in check mode"); !ok {
			return skip, nil
		}
	}

	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if socket != "" {
				return t.Conn.Dial(ctx, "unix", socket)
			}
			return t.Conn.Dial(ctx, "tcp", addr)
		},
		TLSClientConfig:       &tls.Config{InsecureSkipVerify: !validate, RootCAs: roots},
		TLSHandshakeTimeout:   seconds(timeout),
		ResponseHeaderTimeout: seconds(timeout),
		DisableKeepAlives:     true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: seconds(timeout),
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			switch {
			case follow == "none":
				return http.ErrUseLastResponse
			case follow == "safe" && req.Method != "GET" && req.Method != "HEAD":
				return http.ErrUseLastResponse
			case len(via) >= 10:
				return fmt.Errorf("stopped after 10 redirects")
			}
			return nil
		}}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, bytes.NewReader(body))
	if err != nil {
		return Result{}, fmt.Errorf("uri %s: %w", rawURL, err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	// Ansible without force_basic_auth answers a 401 challenge with the
	// same header; sending it at once saves that round trip.
	if user != "" || password != "" {
		req.SetBasicAuth(user, password)
	}
	start := time.Now()
	resp, err := client.Do(req)
	data := map[string]any{"url": rawURL, "status": -1, "redirected": false}
	if err != nil {
		data["elapsed"] = int(time.Since(start).Seconds())
		return Result{Failed: true, Data: data, Msg: fmt.Sprintf("host %s: Status code was -1 and not %v: request to %s failed: %v", t.Host, codes, rawURL, err)}, nil
	}
	defer resp.Body.Close()
	content, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return Result{}, fmt.Errorf("host %s: uri %s: read response: %w", t.Host, rawURL, err)
	}
	data["status"] = resp.StatusCode
	data["url"] = resp.Request.URL.String()
	data["redirected"] = resp.Request.URL.String() != rawURL
	data["elapsed"] = int(time.Since(start).Seconds())
	for k, v := range resp.Header {
		data[strings.ReplaceAll(strings.ToLower(k), "-", "_")] = strings.Join(v, ", ")
	}
	if strings.Contains(resp.Header.Get("Content-Type"), "json") && len(content) > 0 {
		var js any
		if json.Unmarshal(content, &js) == nil {
			data["json"] = js
		}
	}
	if returnContent {
		data["content"] = string(content)
	}
	r := Result{Data: data, Msg: fmt.Sprintf("OK (%d bytes)", len(content))}
	ok := false
	for _, c := range codes {
		ok = ok || c == resp.StatusCode
	}
	if !ok {
		r.Failed = true
		r.Msg = fmt.Sprintf("host %s: Status code was %d and not %v: %s %s", t.Host, resp.StatusCode, codes, method, rawURL)
		// The body usually says why.
		data["content"] = string(content)
	}
	return r, nil
}

func setDefault(h map[string]string, k, v string) {
	for hk := range h {
		if strings.EqualFold(hk, k) {
			return
		}
	}
	h[k] = v
}
