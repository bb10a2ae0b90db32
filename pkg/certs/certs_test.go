package certs

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func request(dir string) Request {
	return Request{
		Dir: dir, External: true, Internal: true,
		ExternalPEM:   filepath.Join(dir, "haproxy.pem"),
		InternalPEM:   filepath.Join(dir, "haproxy-internal.pem"),
		ExternalNames: []string{"203.0.113.10", "api.example.org"},
		InternalNames: []string{"10.95.0.10", "api-int.example.org"},
	}
}

func mustGenerate(t *testing.T, req Request) *Result {
	t.Helper()
	res, err := Generate(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func pool(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	data, err := os.ReadFile(CACertPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(data) {
		t.Fatalf("%s holds no certificate", CACertPath(dir))
	}
	return p
}

func leaf(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(path, path)
	if err != nil {
		t.Fatalf("%s is not a certificate+key PEM: %v", path, err)
	}
	c, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestGenerateFresh(t *testing.T) {
	dir := t.TempDir()
	req := request(dir)
	res := mustGenerate(t, req)
	want := []string{req.caKeyPath(), req.caCertPath(), CACertPath(dir), req.ExternalPEM, req.InternalPEM}
	for _, p := range want {
		if !slices.Contains(res.Created, p) {
			t.Errorf("%s not created (created: %v)", p, res.Created)
		}
	}
	for path, m := range map[string]os.FileMode{req.caKeyPath(): 0o600, req.ExternalPEM: 0o600, req.InternalPEM: 0o600, CACertPath(dir): 0o644} {
		if got := mode(t, path); got != m {
			t.Errorf("%s: mode %o, want %o", path, got, m)
		}
	}
	if got := mode(t, filepath.Join(dir, "private")); got&0o077 != 0 {
		t.Errorf("private/ is mode %o, readable by others", got)
	}

	// The CA is a CA, self-signed, and the same in private/root and ca/.
	pub, _ := os.ReadFile(CACertPath(dir))
	priv, _ := os.ReadFile(req.caCertPath())
	if !bytes.Equal(pub, priv) {
		t.Error("ca/root.crt differs from private/root/root.crt")
	}
	b, _ := pem.Decode(pub)
	root, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !root.IsCA || !root.BasicConstraintsValid || root.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("root is not a signing CA: IsCA %v, usage %b", root.IsCA, root.KeyUsage)
	}
	if err := root.CheckSignatureFrom(root); err != nil {
		t.Errorf("root is not self-signed: %v", err)
	}

	roots := pool(t, dir)
	for path, names := range map[string][]string{req.ExternalPEM: req.ExternalNames, req.InternalPEM: req.InternalNames} {
		c := leaf(t, path)
		for _, n := range names {
			if _, err := c.Verify(x509.VerifyOptions{Roots: roots, DNSName: n, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
				t.Errorf("%s does not verify for %s: %v", path, n, err)
			}
		}
		if d := c.NotAfter.Sub(time.Now()); d < 364*24*time.Hour || d > 366*24*time.Hour {
			t.Errorf("%s valid for %v, want a year", path, d)
		}
	}
	// Two VIPs: each certificate names its own interface only.
	if err := leaf(t, req.ExternalPEM).VerifyHostname("10.95.0.10"); err == nil {
		t.Error("the external certificate is valid for the internal VIP")
	}
	ip := leaf(t, req.InternalPEM).IPAddresses
	if len(ip) != 1 || !ip[0].Equal(net.ParseIP("10.95.0.10")) {
		t.Errorf("internal certificate IP SANs %v, want [10.95.0.10]", ip)
	}
}

func TestGenerateIdempotent(t *testing.T) {
	dir := t.TempDir()
	req := request(dir)
	mustGenerate(t, req)
	before := snapshot(t, dir)
	res := mustGenerate(t, req)
	if res.Changed() {
		t.Errorf("second run created %v", res.Created)
	}
	if len(res.Warnings) > 0 {
		t.Errorf("second run warned: %v", res.Warnings)
	}
	if after := snapshot(t, dir); !equalMaps(before, after) {
		t.Error("second run changed files")
	}

	// A removed server certificate is made again by the same CA; the other
	// files stay as they are.
	if err := os.Remove(req.InternalPEM); err != nil {
		t.Fatal(err)
	}
	res = mustGenerate(t, req)
	if !slices.Equal(res.Created, []string{req.InternalPEM}) {
		t.Errorf("created %v, want only %s", res.Created, req.InternalPEM)
	}
	if _, err := leaf(t, req.InternalPEM).Verify(x509.VerifyOptions{Roots: pool(t, dir), DNSName: "10.95.0.10"}); err != nil {
		t.Errorf("the new internal certificate is not signed by the existing CA: %v", err)
	}
	after := snapshot(t, dir)
	for p, data := range before {
		if p != req.InternalPEM && !bytes.Equal(after[p], data) {
			t.Errorf("%s changed", p)
		}
	}
}

func TestGenerateSameVIP(t *testing.T) {
	dir := t.TempDir()
	req := request(dir)
	req.SameVIP = true
	req.ExternalNames = []string{"10.95.0.10", "api.example.org"}
	req.InternalNames = []string{"10.95.0.10", "api-int.example.org"}
	mustGenerate(t, req)
	ext, _ := os.ReadFile(req.ExternalPEM)
	in, _ := os.ReadFile(req.InternalPEM)
	if !bytes.Equal(ext, in) {
		t.Error("one VIP: haproxy.pem and haproxy-internal.pem differ")
	}
	c := leaf(t, req.InternalPEM)
	for _, n := range []string{"10.95.0.10", "api.example.org", "api-int.example.org"} {
		if err := c.VerifyHostname(n); err != nil {
			t.Errorf("not valid for %s: %v", n, err)
		}
	}
	if len(c.IPAddresses) != 1 {
		t.Errorf("IP SANs %v: the VIP should appear once", c.IPAddresses)
	}
}

// An operator's certificate is used as it is: not rewritten, no CA made for
// it, and with one VIP it serves the other interface too.
func TestGenerateKeepsUserCertificate(t *testing.T) {
	// The operator's certificate comes from another CA (made in another dir).
	other := t.TempDir()
	oreq := request(other)
	oreq.Internal = false
	oreq.ExternalNames = []string{"10.95.0.10", "cloud.example.org"}
	mustGenerate(t, oreq)
	userPEM, _ := os.ReadFile(oreq.ExternalPEM)

	dir := t.TempDir()
	req := request(dir)
	req.SameVIP = true
	req.ExternalNames = []string{"10.95.0.10"}
	req.InternalNames = []string{"10.95.0.10"}
	if err := os.WriteFile(req.ExternalPEM, userPEM, 0o640); err != nil {
		t.Fatal(err)
	}
	res := mustGenerate(t, req)
	if got, _ := os.ReadFile(req.ExternalPEM); !bytes.Equal(got, userPEM) {
		t.Error("the operator's haproxy.pem was rewritten")
	}
	if m := mode(t, req.ExternalPEM); m != 0o640 {
		t.Errorf("the operator's file mode changed to %o", m)
	}
	if got, _ := os.ReadFile(req.InternalPEM); !bytes.Equal(got, userPEM) {
		t.Error("one VIP: haproxy-internal.pem is not the operator's certificate")
	}
	if _, err := os.Stat(filepath.Join(dir, "private")); !os.IsNotExist(err) {
		t.Errorf("a CA was made although no certificate needed signing (%v)", err)
	}
	if !slices.Equal(res.Kept, []string{req.ExternalPEM}) || !slices.Equal(res.Created, []string{req.InternalPEM}) {
		t.Errorf("kept %v created %v", res.Kept, res.Created)
	}

	// The same certificate for a request it does not cover: kept, with a warning.
	req.ExternalNames = []string{"10.95.0.99"}
	req.InternalNames = []string{"10.95.0.99"}
	res = mustGenerate(t, req)
	if res.Changed() || len(res.Warnings) != 2 {
		t.Errorf("changed %v, warnings %v (want one per file)", res.Created, res.Warnings)
	}
	for _, w := range res.Warnings {
		if !strings.Contains(w, "not valid for 10.95.0.99") {
			t.Errorf("warning %q does not name the missing address", w)
		}
	}
}

func TestGenerateBadInput(t *testing.T) {
	dir := t.TempDir()
	req := request(dir)
	// A PEM with no key would stop haproxy: refused before anything is made.
	c := certOnlyPEM(t)
	if err := os.WriteFile(req.ExternalPEM, c, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(req); err == nil || !strings.Contains(err.Error(), "no private key") {
		t.Errorf("a PEM without key: %v", err)
	}
	if _, err := os.Stat(req.InternalPEM); !os.IsNotExist(err) {
		t.Error("the internal certificate was made although the external one is unusable")
	}

	// A CA certificate without its key cannot sign.
	dir = t.TempDir()
	req = request(dir)
	if err := os.MkdirAll(filepath.Join(dir, "private", "root"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(req.caCertPath(), certOnlyPEM(t), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(req); err == nil || !strings.Contains(err.Error(), "its key") {
		t.Errorf("CA without key: %v", err)
	}

	if _, err := Generate(Request{Dir: dir, External: true, ExternalPEM: filepath.Join(dir, "x.pem")}); err == nil || !strings.Contains(err.Error(), "no address or name") {
		t.Errorf("no names: %v", err)
	}
}

// A Write that writes nothing (the module's check mode) is asked for every
// file, and Generate still reports each as made.
func TestGenerateWithoutWriting(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certificates")
	req := request(dir)
	var asked []string
	req.Write = func(path string, _ []byte, _ fs.FileMode) error { asked = append(asked, path); return nil }
	res := mustGenerate(t, req)
	if !reflect.DeepEqual(asked, res.Created) {
		t.Errorf("Write asked for %v, Created %v", asked, res.Created)
	}
	if len(res.Created) != 5 {
		t.Errorf("check mode reports %v, want the 5 files", res.Created)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("check mode wrote %s", dir)
	}
}

// TestHandshake serves each PEM over real TLS and connects with the CA of
// ca/root.crt: Go's client, then OpenSSL and Python's ssl (what
// python-openstackclient uses) when installed.
func TestHandshake(t *testing.T) {
	dir := t.TempDir()
	req := request(dir)
	req.SameVIP = true
	req.ExternalNames = []string{"127.0.0.1", "localhost"}
	req.InternalNames = []string{"127.0.0.1"}
	mustGenerate(t, req)
	pair, err := tls.LoadX509KeyPair(req.InternalPEM, req.InternalPEM)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.(*tls.Conn).Handshake()
				_, _ = c.Write([]byte("ok\n"))
			}()
		}
	}()
	addr := ln.Addr().String()
	_, port, _ := net.SplitHostPort(addr)

	for _, name := range []string{"127.0.0.1", "localhost"} {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool(t, dir), ServerName: name})
		if err != nil {
			t.Errorf("Go client, server name %s: %v", name, err)
			continue
		}
		c.Close()
	}
	if c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool(t, dir), ServerName: "other.example.org"}); err == nil {
		c.Close()
		t.Error("a name not in the certificate was accepted")
	}

	if _, err := exec.LookPath("openssl"); err == nil {
		out, err := exec.Command("openssl", "s_client", "-connect", addr, "-CAfile", CACertPath(dir),
			"-verify_return_error", "-verify_ip", "127.0.0.1", "-brief").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Verification: OK") {
			t.Errorf("openssl s_client: %v\n%s", err, out)
		}
	} else {
		t.Log("openssl not installed: skipped its check")
	}
	if py, err := exec.LookPath("python3"); err == nil {
		script := `import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
with socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=10) as s:
    with ctx.wrap_socket(s, server_hostname=sys.argv[3]) as t:
        print(t.version())
`
		for _, name := range []string{"127.0.0.1", "localhost"} {
			out, err := exec.Command(py, "-c", script, CACertPath(dir), port, name).CombinedOutput()
			if err != nil {
				t.Errorf("python ssl, server name %s: %v\n%s", name, err, out)
			}
		}
	} else {
		t.Log("python3 not installed: skipped its check")
	}
}

func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		m[p] = append(data, fi.ModTime().String()...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func equalMaps(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}

// certOnlyPEM is a certificate without its key, as an operator might
// mistakenly provide.
func certOnlyPEM(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	req := request(dir)
	req.Internal = false
	mustGenerate(t, req)
	data, err := os.ReadFile(CACertPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	return data
}
