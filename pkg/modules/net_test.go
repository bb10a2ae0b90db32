package modules

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestURI(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo":
			b, _ := io.ReadAll(r.Body)
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"method": r.Method, "body": string(b), "ct": r.Header.Get("Content-Type"), "x": r.Header.Get("X-Koala")})
		case "/redirect":
			http.Redirect(w, r, "/echo", http.StatusFound)
		default:
			http.Error(w, "nope", http.StatusNotFound)
		}
	}))
	defer srv.Close()
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			c := tg.conn
			r := run(t, c, "uri", map[string]any{"url": srv.URL + "/echo", "method": "POST", "body_format": "json",
				"body": map[string]any{"a": 1}, "headers": map[string]any{"X-Koala": "yes"}, "return_content": true})
			mustChanged(t, r, false)
			js, _ := r.Data["json"].(map[string]any)
			if r.Data["status"] != 200 || js["method"] != "POST" || js["body"] != `{"a":1}` || js["ct"] != "application/json" || js["x"] != "yes" {
				t.Errorf("POST: %v", r.Data)
			}
			if r.Data["content_type"] != "application/json" || !strings.Contains(r.Data["content"].(string), "POST") {
				t.Errorf("headers/content: %v", r.Data)
			}
			r = run(t, c, "uri", map[string]any{"url": srv.URL + "/redirect"})
			if r.Failed || r.Data["redirected"] != true || r.Data["content"] != nil {
				t.Errorf("redirect: %+v", r)
			}
			r = run(t, c, "uri", map[string]any{"url": srv.URL + "/missing"})
			if !r.Failed || r.Data["status"] != 404 || !strings.Contains(r.Msg, "404") || !strings.Contains(r.Msg, c.Host()) {
				t.Errorf("404: %+v", r)
			}
			mustChanged(t, run(t, c, "uri", map[string]any{"url": srv.URL + "/missing", "status_code": []any{200, 404}}), false)
			r = run(t, c, "uri", map[string]any{"url": srv.URL + "/echo", "method": "DELETE"}, check)
			if !r.Skipped {
				t.Errorf("DELETE in check mode: %+v", r)
			}
		})
	}
}

func TestWaitFor(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("SSH-2.0-fake\r\n"))
			c.Close()
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			c := tg.conn
			r := run(t, c, "wait_for", map[string]any{"port": port, "search_regex": "^SSH-", "timeout": 10})
			mustChanged(t, r, false)
			r = run(t, c, "wait_for", map[string]any{"port": closedPort, "state": "stopped", "timeout": 10})
			mustChanged(t, r, false)
			r = run(t, c, "wait_for", map[string]any{"port": closedPort, "timeout": 1, "sleep": 1})
			if !r.Failed || !strings.Contains(r.Msg, "127.0.0.1:"+strconv.Itoa(closedPort)) || !strings.Contains(r.Msg, c.Host()) {
				t.Errorf("timeout: %+v", r)
			}

			p := filepath.Join(tg.dir(t), "flag")
			go func() {
				time.Sleep(500 * time.Millisecond)
				os.WriteFile(p, []byte("ready now\n"), 0o644)
			}()
			mustChanged(t, run(t, c, "wait_for", map[string]any{"path": p, "search_regex": "ready", "timeout": 30}), false)
			r = run(t, c, "wait_for", map[string]any{"path": p, "state": "absent", "timeout": 1, "msg": "still there"})
			if !r.Failed || !strings.Contains(r.Msg, "still there") {
				t.Errorf("absent timeout: %+v", r)
			}
			mustChanged(t, run(t, c, "wait_for_connection", map[string]any{"timeout": 10}), false)
		})
	}
}

func TestGetURL(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path != "/key.asc" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("KEY\n"))
	}))
	defer srv.Close()
	sum := "sha256:" + fmt.Sprintf("%x", sha256.Sum256([]byte("KEY\n")))
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			c := tg.conn
			dir := tg.dir(t)
			a := map[string]any{"url": srv.URL + "/key.asc", "dest": dir + "/", "mode": "0644", "checksum": sum}
			mustChanged(t, run(t, c, "get_url", a, check), true)
			if _, err := os.Stat(filepath.Join(dir, "key.asc")); err == nil {
				t.Fatal("check mode downloaded")
			}
			r := run(t, c, "get_url", a)
			mustChanged(t, r, true)
			if got := readFile(t, filepath.Join(dir, "key.asc")); got != "KEY\n" || r.Data["dest"] != filepath.Join(dir, "key.asc") {
				t.Errorf("get_url: %q %v", got, r.Data)
			}
			before := hits.Load()
			mustChanged(t, run(t, c, "get_url", a), false)
			if hits.Load() != before {
				t.Error("a present file with the right checksum was downloaded again")
			}
			a["checksum"] = "sha256:" + strings.Repeat("0", 64)
			a["force"] = true
			r = run(t, c, "get_url", a)
			if !r.Failed || !strings.Contains(r.Msg, "checksum mismatch") {
				t.Errorf("bad checksum: %+v", r)
			}
			r = run(t, c, "get_url", map[string]any{"url": srv.URL + "/missing", "dest": dir + "/m"})
			if !r.Failed || !strings.Contains(r.Msg, "404") || !strings.Contains(r.Msg, c.Host()) {
				t.Errorf("404: %+v", r)
			}
		})
	}
}
