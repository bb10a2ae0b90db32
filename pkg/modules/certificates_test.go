package modules

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/koala-stack/koala/pkg/certs"
	"github.com/koala-stack/koala/pkg/transport"
)

func certArgs(dir string) map[string]any {
	return map[string]any{
		"dir": dir, "external": "yes", "internal": true,
		"external_cert":  filepath.Join(dir, "haproxy.pem"),
		"internal_cert":  filepath.Join(dir, "haproxy-internal.pem"),
		"external_names": []any{"127.0.0.1", "localhost"},
		"internal_names": []any{"127.0.0.1"},
		"same_vip":       true,
	}
}

func TestKollaCertificates(t *testing.T) {
	t.Parallel()
	local := transport.Local("localhost")
	dir := filepath.Join(t.TempDir(), "certificates")

	r := run(t, local, "kolla_certificates", certArgs(dir), check)
	mustChanged(t, r, true)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("check mode made %s", dir)
	}
	r = run(t, local, "kolla_certificates", certArgs(dir))
	mustChanged(t, r, true)
	if created, _ := r.Data["created"].([]any); len(created) != 5 {
		t.Errorf("created %v, want the CA key and certificate, ca/root.crt and two PEMs", r.Data["created"])
	}
	r = run(t, local, "kolla_certificates", certArgs(dir))
	mustChanged(t, r, false)

	off := certArgs(t.TempDir())
	off["external"], off["internal"] = false, "no"
	r = run(t, local, "kolla_certificates", off)
	mustChanged(t, r, false)
	if !strings.Contains(r.Msg, "TLS is off") {
		t.Errorf("TLS off: %q", r.Msg)
	}

	// An unusable certificate of the operator's fails the task, naming it.
	bad := certArgs(t.TempDir())
	if err := os.WriteFile(bad["external_cert"].(string), []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = run(t, local, "kolla_certificates", bad)
	if !r.Failed || !strings.Contains(r.Msg, "haproxy.pem holds no certificate") {
		t.Errorf("bad operator certificate: %+v", r)
	}
}

// TestURICAPath serves HTTPS with a koala certificate and reaches it through
// uri: refused without the CA, accepted with the CA file or its directory.
func TestURICAPath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	run(t, transport.Local("localhost"), "kolla_certificates", certArgs(dir))
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "haproxy.pem"), filepath.Join(dir, "haproxy.pem"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	srv.StartTLS()
	defer srv.Close()
	local := transport.Local("localhost")

	r := run(t, local, "uri", map[string]any{"url": srv.URL})
	if !r.Failed || !strings.Contains(r.Msg, "unknown authority") {
		t.Errorf("without the CA: %+v", r)
	}
	for _, ca := range []any{certs.CACertPath(dir), filepath.Join(dir, "ca") + "/", []any{"", filepath.Join(dir, "nothing") + "/", certs.CACertPath(dir)}} {
		if r := run(t, local, "uri", map[string]any{"url": srv.URL, "ca_path": ca}); r.Failed {
			t.Errorf("ca_path %v: %s", ca, r.Msg)
		}
	}
	if _, err := runErr(t, local, "uri", map[string]any{"url": srv.URL, "ca_path": filepath.Join(dir, "missing.crt")}); err == nil || !strings.Contains(err.Error(), "missing.crt") {
		t.Errorf("a missing CA file: %v", err)
	}
	if _, err := runErr(t, local, "uri", map[string]any{"url": srv.URL, "ca_path": filepath.Join(dir, "ca")}); err == nil || !strings.Contains(err.Error(), "trailing /") {
		t.Errorf("a directory without /: %v", err)
	}
}
