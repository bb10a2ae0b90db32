package kollaconfig

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testCA(t *testing.T, cn string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestCopyCACerts runs Debian's real update-ca-certificates inside a KOLLA_ROOT:
// the shipped CA lands in the bundle, and a later start without it takes it out.
func TestCopyCACerts(t *testing.T) {
	if _, err := exec.LookPath("update-ca-certificates"); err != nil {
		t.Skip("update-ca-certificates not installed (Debian's ca-certificates package)")
	}
	root := t.TempDir()
	for _, d := range []string{CACertsSource, LocalCACerts, "/etc/ssl/certs", "/etc/ca-certificates/update.d"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "/etc/ca-certificates.conf"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ca := testCA(t, "koala test CA")
	if err := os.WriteFile(filepath.Join(root, CACertsSource, "root.crt"), ca, 0o644); err != nil {
		t.Fatal(err)
	}
	// An operator's own file that is not kolla's must survive.
	own := filepath.Join(root, LocalCACerts, "site.crt")
	if err := os.WriteFile(own, testCA(t, "site CA"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := func(k string) string {
		if k == "KOLLA_ROOT" {
			return root
		}
		return ""
	}
	var out, errs bytes.Buffer
	if code := CopyCACerts(env, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s%s", code, out.String(), errs.String())
	}
	installed := filepath.Join(root, LocalCACerts, "kolla-customca-root.crt")
	if got, err := os.ReadFile(installed); err != nil || !bytes.Equal(got, ca) {
		t.Fatalf("installed CA: %v, same content %v", err, bytes.Equal(got, ca))
	}
	bundle, err := os.ReadFile(filepath.Join(root, "/etc/ssl/certs/ca-certificates.crt"))
	if err != nil {
		t.Fatalf("no bundle: %v (%s%s)", err, out.String(), errs.String())
	}
	if !bytes.Contains(bundle, bytes.TrimSpace(ca)) {
		t.Fatalf("the bundle does not hold the shipped CA:\n%s", bundle)
	}

	// Restart without CAs: kolla's copy goes, the operator's stays.
	if err := os.Remove(filepath.Join(root, CACertsSource, "root.crt")); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errs.Reset()
	if code := CopyCACerts(env, &out, &errs); code != 0 {
		t.Fatalf("second run exit %d: %s%s", code, out.String(), errs.String())
	}
	if _, err := os.Stat(installed); !os.IsNotExist(err) {
		t.Fatalf("the removed CA is still installed: %v", err)
	}
	if _, err := os.Stat(own); err != nil {
		t.Fatalf("the operator's CA was removed: %v", err)
	}
	bundle, _ = os.ReadFile(filepath.Join(root, "/etc/ssl/certs/ca-certificates.crt"))
	if bytes.Contains(bundle, bytes.TrimSpace(ca)) {
		t.Fatal("the bundle still holds the removed CA")
	}

	// Nothing shipped and nothing installed: update-ca-certificates is not run.
	out.Reset()
	if code := CopyCACerts(env, &out, &errs); code != 0 || strings.Contains(out.String(), "Updating") {
		t.Fatalf("third run: exit %d, output %q", code, out.String())
	}
}
