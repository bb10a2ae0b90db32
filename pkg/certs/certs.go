// Package certs makes what `koala certificates` (kolla-ansible's certificates
// role) leaves in kolla_certificates_dir: a private root CA and, signed by it,
// the haproxy certificates of the external and internal VIPs, each a PEM file
// with the certificate and its key as haproxy's `ssl crt` wants it.
//
// Layout, as kolla-ansible's: private/root/root.key and root.crt (the CA),
// ca/root.crt (the CA certificate alone: what kolla_copy_ca_into_containers
// ships and clients trust), and the two PEM files at kolla_external_fqdn_cert
// and kolla_internal_fqdn_cert. A file that exists is never overwritten: an
// operator's own certificate (or CA) is used as it is, and is only checked.
package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Validity, as kolla-ansible's role: the CA 1024 days, server certificates 365.
const (
	CADays     = 1024
	ServerDays = 365
	// expiringSoon is when a kept certificate gets a warning.
	expiringSoon = 30 * 24 * time.Hour
)

// Request says what to make. Names are IP addresses or DNS names; each
// becomes a subjectAltName of its kind.
type Request struct {
	Dir           string // kolla_certificates_dir
	External      bool   // kolla_enable_tls_external
	Internal      bool   // kolla_enable_tls_internal
	ExternalPEM   string // kolla_external_fqdn_cert
	InternalPEM   string // kolla_internal_fqdn_cert
	ExternalNames []string
	InternalNames []string
	// SameVIP (kolla_same_external_internal_vip): haproxy serves both
	// interfaces on one address, so one certificate, valid for every name of
	// both, is written to both files.
	SameVIP bool
	// Write writes each new file (nil: WriteNew). The kolla_certificates
	// module passes its check-mode gate, which reports and writes nothing.
	Write func(path string, data []byte, mode fs.FileMode) error
	Now   time.Time // zero: time.Now()
}

// Result lists what Generate made and what it found in place.
type Result struct {
	Created  []string // files written (in check mode: that would be)
	Kept     []string // files that existed and were left alone
	Warnings []string // kept certificates that do not fit the request
}

// Changed reports whether anything was (or would be) written.
func (r *Result) Changed() bool { return len(r.Created) > 0 }

// Paths of the CA under Request.Dir.
func (r Request) caKeyPath() string  { return filepath.Join(r.Dir, "private", "root", "root.key") }
func (r Request) caCertPath() string { return filepath.Join(r.Dir, "private", "root", "root.crt") }

// CACertPath is the CA certificate clients trust (ca/root.crt).
func CACertPath(dir string) string { return filepath.Join(dir, "ca", "root.crt") }

type server struct {
	path  string
	names []string
	what  string // for messages: "external", "internal"
}

// Generate makes whatever of the request is missing; see the package doc.
func Generate(req Request) (*Result, error) {
	if req.Dir == "" {
		return nil, errors.New("certificates: no certificates directory (kolla_certificates_dir)")
	}
	if req.Now.IsZero() {
		req.Now = time.Now()
	}
	var servers []server
	if req.External {
		names := req.ExternalNames
		if req.SameVIP {
			names = append(slices.Clone(names), req.InternalNames...)
		}
		servers = append(servers, server{req.ExternalPEM, names, "external"})
	}
	if req.Internal {
		names := req.InternalNames
		if req.SameVIP {
			names = append(slices.Clone(req.ExternalNames), names...)
		}
		servers = append(servers, server{req.InternalPEM, names, "internal"})
	}
	res := &Result{}
	var missing []server
	for _, s := range servers {
		if s.path == "" {
			return nil, fmt.Errorf("certificates: no path for the %s certificate (kolla_%s_fqdn_cert)", s.what, s.what)
		}
		if len(dedupe(s.names)) == 0 {
			return nil, fmt.Errorf("certificates: no address or name for the %s certificate (kolla_%s_vip_address, kolla_%s_fqdn)", s.what, s.what, s.what)
		}
		ok, err := exists(s.path)
		if err != nil {
			return nil, err
		}
		if !ok {
			missing = append(missing, s)
			continue
		}
		if slices.Contains(res.Kept, s.path) {
			continue
		}
		res.Kept = append(res.Kept, s.path)
		w, err := checkServerPEM(s.path, dedupe(s.names), req.Now)
		if err != nil {
			return nil, err
		}
		res.Warnings = append(res.Warnings, w...)
	}
	if len(missing) == 0 {
		return res, nil
	}
	// One VIP: the certificate kept for one interface serves the other too,
	// as kolla-ansible copies haproxy.pem to haproxy-internal.pem.
	if req.SameVIP && len(servers) == 2 && len(missing) == 1 {
		other := servers[0].path
		if other == missing[0].path {
			other = servers[1].path
		}
		data, err := os.ReadFile(other)
		if err != nil {
			return nil, fmt.Errorf("certificates: %w", err)
		}
		if err := req.write(missing[0].path, data, 0o600); err != nil {
			return nil, err
		}
		res.Created = append(res.Created, missing[0].path)
		return res, nil
	}

	ca, err := loadOrMakeCA(req, res)
	if err != nil {
		return nil, err
	}
	// One key and certificate per distinct file; with SameVIP both files get
	// the same one (kolla-ansible copies haproxy.pem to haproxy-internal.pem).
	var made []byte
	for _, s := range missing {
		if made == nil || !req.SameVIP {
			made, err = ca.sign(dedupe(s.names), req.Now)
			if err != nil {
				return nil, fmt.Errorf("certificates: %s certificate: %w", s.what, err)
			}
		}
		if slices.Contains(res.Created, s.path) {
			continue
		}
		if err := req.write(s.path, made, 0o600); err != nil {
			return nil, err
		}
		res.Created = append(res.Created, s.path)
	}
	return res, nil
}

// authority is the CA that signs (in check mode possibly one made only in
// memory).
type authority struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func loadOrMakeCA(req Request, res *Result) (*authority, error) {
	keyPath, certPath, pubPath := req.caKeyPath(), req.caCertPath(), CACertPath(req.Dir)
	haveKey, err := exists(keyPath)
	if err != nil {
		return nil, err
	}
	haveCert, err := exists(certPath)
	if err != nil {
		return nil, err
	}
	ca := &authority{}
	switch {
	case haveKey && haveCert:
		if ca.key, err = readKey(keyPath); err != nil {
			return nil, err
		}
		certs, err := readCerts(certPath)
		if err != nil {
			return nil, err
		}
		if len(certs) == 0 {
			return nil, fmt.Errorf("certificates: %s holds no certificate", certPath)
		}
		ca.cert = certs[0]
		if !samePublicKey(ca.cert.PublicKey, ca.key.Public()) {
			return nil, fmt.Errorf("certificates: the CA certificate %s does not belong to the key %s", certPath, keyPath)
		}
		if !ca.cert.IsCA {
			return nil, fmt.Errorf("certificates: %s is not a CA certificate (basicConstraints CA:FALSE)", certPath)
		}
		if req.Now.After(ca.cert.NotAfter) {
			return nil, fmt.Errorf("certificates: the CA %s expired on %s: move private/root/ and ca/ away to make a new one", certPath, ca.cert.NotAfter.Format(time.DateOnly))
		}
		res.Kept = append(res.Kept, keyPath, certPath)
	case haveCert && !haveKey:
		return nil, fmt.Errorf("certificates: the CA certificate %s exists but its key %s does not: put the key there, or provide the certificates (kolla_external_fqdn_cert, kolla_internal_fqdn_cert) yourself", certPath, keyPath)
	default:
		if haveKey {
			if ca.key, err = readKey(keyPath); err != nil {
				return nil, err
			}
			res.Kept = append(res.Kept, keyPath)
		} else {
			k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				return nil, err
			}
			ca.key = k
			der, err := x509.MarshalPKCS8PrivateKey(k)
			if err != nil {
				return nil, err
			}
			if err := req.write(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
				return nil, err
			}
			res.Created = append(res.Created, keyPath)
		}
		tmpl := &x509.Certificate{
			SerialNumber:          serial(),
			Subject:               pkix.Name{CommonName: "KollaTestCA", Organization: []string{"koala"}},
			NotBefore:             req.Now.Add(-time.Hour),
			NotAfter:              req.Now.Add(CADays * 24 * time.Hour),
			IsCA:                  true,
			BasicConstraintsValid: true,
			MaxPathLenZero:        true,
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, ca.key.Public(), ca.key)
		if err != nil {
			return nil, fmt.Errorf("certificates: make the CA: %w", err)
		}
		if ca.cert, err = x509.ParseCertificate(der); err != nil {
			return nil, err
		}
		if err := req.write(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
			return nil, err
		}
		res.Created = append(res.Created, certPath)
	}
	// ca/root.crt: what clients and containers trust. Left alone when there
	// (the operator may keep more CAs in that directory).
	havePub, err := exists(pubPath)
	if err != nil {
		return nil, err
	}
	if havePub {
		res.Kept = append(res.Kept, pubPath)
	} else {
		if err := req.write(pubPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}), 0o644); err != nil {
			return nil, err
		}
		res.Created = append(res.Created, pubPath)
	}
	return ca, nil
}

// sign makes a server key and certificate for names and returns them as one
// PEM: certificate, then key.
func (ca *authority) sign(names []string, now time.Time) ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: names[0], Organization: []string{"koala"}, OrganizationalUnit: []string{"kolla"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(ServerDays * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})...), nil
}

// checkServerPEM reads a kept haproxy PEM: an error when haproxy could not
// load it (no certificate, no key, a key of another certificate), warnings
// when it does not fit (a name missing, expired or expiring).
func checkServerPEM(path string, names []string, now time.Time) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("certificates: %w", err)
	}
	var cert *x509.Certificate
	var key crypto.Signer
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch {
		case b.Type == "CERTIFICATE" && cert == nil:
			if cert, err = x509.ParseCertificate(b.Bytes); err != nil {
				return nil, fmt.Errorf("certificates: %s: the first certificate does not parse: %w", path, err)
			}
		case b.Type == "PRIVATE KEY" || b.Type == "RSA PRIVATE KEY" || b.Type == "EC PRIVATE KEY":
			if key, err = parseKey(b); err != nil {
				return nil, fmt.Errorf("certificates: %s: %w", path, err)
			}
		}
	}
	const want = "haproxy wants the certificate, its chain and its key in one PEM file"
	if cert == nil {
		return nil, fmt.Errorf("certificates: %s holds no certificate (%s)", path, want)
	}
	if key == nil {
		return nil, fmt.Errorf("certificates: %s holds no private key (%s)", path, want)
	}
	if !samePublicKey(cert.PublicKey, key.Public()) {
		return nil, fmt.Errorf("certificates: in %s the key does not belong to the first certificate (%s, the server's certificate first)", path, want)
	}
	var warn []string
	for _, n := range names {
		if err := cert.VerifyHostname(n); err != nil {
			warn = append(warn, fmt.Sprintf("%s is not valid for %s (its names: %s); remove it and run koala certificates again, or replace it", path, n, certNames(cert)))
		}
	}
	switch {
	case now.After(cert.NotAfter):
		warn = append(warn, fmt.Sprintf("%s expired on %s", path, cert.NotAfter.Format(time.DateOnly)))
	case cert.NotAfter.Sub(now) < expiringSoon:
		warn = append(warn, fmt.Sprintf("%s expires on %s", path, cert.NotAfter.Format(time.DateOnly)))
	}
	return warn, nil
}

func certNames(c *x509.Certificate) string {
	var s []string
	for _, ip := range c.IPAddresses {
		s = append(s, ip.String())
	}
	s = append(s, c.DNSNames...)
	if len(s) == 0 {
		return "none"
	}
	return fmt.Sprint(s)
}

func readCerts(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("certificates: %w", err)
	}
	var out []*x509.Certificate
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return out, nil
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificates: %s: %w", path, err)
		}
		out = append(out, c)
	}
}

func readKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("certificates: %w", err)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, fmt.Errorf("certificates: %s is not a PEM private key", path)
	}
	k, err := parseKey(b)
	if err != nil {
		return nil, fmt.Errorf("certificates: %s: %w", path, err)
	}
	return k, nil
}

// parseKey reads PKCS#8, PKCS#1 (RSA) and SEC 1 (EC) keys: what openssl
// genrsa/genpkey and kolla-ansible's role write.
func parseKey(b *pem.Block) (crypto.Signer, error) {
	var k any
	var err error
	switch b.Type {
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(b.Bytes)
	default:
		k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("private key does not parse: %w", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key type %T", k)
	}
	return s, nil
}

func samePublicKey(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	switch k := a.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		return k.(equaler).Equal(b)
	}
	return false
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return n.Add(n, big.NewInt(1))
}

func dedupe(names []string) []string {
	var out []string
	for _, n := range names {
		if n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("certificates: %w", err)
}

func (req Request) write(path string, data []byte, mode fs.FileMode) error {
	if req.Write != nil {
		return req.Write(path, data, mode)
	}
	return WriteNew(path, data, mode)
}

// WriteNew writes a file that must not exist yet: the data goes to a temporary
// file that is hard-linked into place, so a file that appeared meanwhile is
// not replaced and no reader sees half a key. Directories are made 0700
// (private/) or 0755.
func WriteNew(path string, data []byte, mode fs.FileMode) error {
	dir := filepath.Dir(path)
	dirMode := fs.FileMode(0o755)
	if mode&0o077 == 0 {
		dirMode = 0o700
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("certificates: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("certificates: write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("certificates: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("certificates: write %s: %w", path, err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("certificates: %s appeared while it was being made; it is left as it is", path)
		}
		return fmt.Errorf("certificates: %w", err)
	}
	return nil
}
