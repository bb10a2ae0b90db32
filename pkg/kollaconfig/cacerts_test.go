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

// TestCopyCACerts installs a shipped CA into a KOLLA_ROOT: the file and the
// bundle hold it, a restart changes nothing, a later start without it takes it
// out again and leaves the system's and the operator's CAs alone. Then the
// bundle is checked by a real client (openssl verify, when installed).
func TestCopyCACerts(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{CACertsSource, LocalCACerts, "/etc/ssl/certs"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	system := testCA(t, "system CA")
	bundlePath := filepath.Join(root, CABundle)
	if err := os.WriteFile(bundlePath, system, 0o644); err != nil {
		t.Fatal(err)
	}
	ca := testCA(t, "koala test CA")
	if err := os.WriteFile(filepath.Join(root, CACertsSource, "root.crt"), ca, 0o644); err != nil {
		t.Fatal(err)
	}
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
	copyCA := func(wantChange bool) {
		t.Helper()
		var out, errs bytes.Buffer
		if code := CopyCACerts(env, &out, &errs); code != 0 {
			t.Fatalf("exit %d: %s%s", code, out.String(), errs.String())
		}
		if got := strings.Contains(out.String(), "updated"); got != wantChange {
			t.Fatalf("changed %v, want %v (output %q)", got, wantChange, out.String())
		}
	}

	copyCA(true)
	installed := filepath.Join(root, LocalCACerts, "kolla-customca-root.crt")
	if got, err := os.ReadFile(installed); err != nil || !bytes.Equal(got, ca) {
		t.Fatalf("installed CA: %v, same content %v", err, bytes.Equal(got, ca))
	}
	bundle, _ := os.ReadFile(bundlePath)
	if !bytes.Equal(bundle, append(append([]byte{}, system...), ca...)) {
		t.Fatalf("bundle is not the system's CA then the shipped one:\n%s", bundle)
	}
	if _, err := exec.LookPath("openssl"); err == nil {
		leafPath := filepath.Join(t.TempDir(), "ca.pem")
		os.WriteFile(leafPath, ca, 0o644)
		if out, err := exec.Command("openssl", "verify", "-CAfile", bundlePath, leafPath).CombinedOutput(); err != nil {
			t.Errorf("openssl does not trust the CA through the bundle: %v\n%s", err, out)
		}
	}

	// A restart with the same CA writes nothing.
	fi, _ := os.Stat(bundlePath)
	copyCA(false)
	if fi2, _ := os.Stat(bundlePath); !fi2.ModTime().Equal(fi.ModTime()) {
		t.Error("a restart rewrote the bundle")
	}

	// Restart without CAs: kolla's copy goes, the operator's and the system's stay.
	if err := os.Remove(filepath.Join(root, CACertsSource, "root.crt")); err != nil {
		t.Fatal(err)
	}
	copyCA(true)
	if _, err := os.Stat(installed); !os.IsNotExist(err) {
		t.Fatalf("the removed CA is still installed: %v", err)
	}
	if _, err := os.Stat(own); err != nil {
		t.Fatalf("the operator's CA was removed: %v", err)
	}
	if bundle, _ = os.ReadFile(bundlePath); !bytes.Equal(bundle, system) {
		t.Fatalf("the bundle is not the system's again:\n%s", bundle)
	}
	copyCA(false)

	// Something that is not a certificate is refused, naming it.
	if err := os.WriteFile(filepath.Join(root, CACertsSource, "junk.crt"), []byte("junk\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errs bytes.Buffer
	if code := CopyCACerts(env, &out, &errs); code == 0 || !strings.Contains(errs.String(), "junk.crt holds no PEM certificate") {
		t.Fatalf("junk: exit %d, %q", code, errs.String())
	}
}
