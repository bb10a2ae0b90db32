package lab

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// keys are the lab's SSH keys, kept in the lab directory so that they stay the
// same across `down` and `up` (no "host key changed" on a recreated lab).
type keys struct {
	clientPub []byte // authorized_keys line
	hostPriv  []byte // PEM, OpenSSH format
	hostPub   []byte // authorized_keys format
}

// ensureKeys reads the lab's client and host key pairs, making missing ones.
func ensureKeys(p *Plan) (*keys, error) {
	if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("lab directory %s: %w", p.Dir, err)
	}
	var k keys
	var err error
	if k.clientPub, _, err = ensureKey(p.KeyFile(), "koala-lab-"+p.Name); err != nil {
		return nil, err
	}
	if k.hostPub, k.hostPriv, err = ensureKey(filepath.Join(p.Dir, "ssh_host_ed25519_key"), "koala-lab-"+p.Name+"-host"); err != nil {
		return nil, err
	}
	return &k, nil
}

// ensureKey returns the public (authorized_keys line) and private (PEM) halves
// of the ed25519 key at path (private) and path.pub, generating them if absent.
func ensureKey(path, comment string) (pub, priv []byte, err error) {
	priv, err = os.ReadFile(path)
	if err == nil {
		signer, perr := ssh.ParsePrivateKey(priv)
		if perr != nil {
			return nil, nil, fmt.Errorf("lab key %s: %w (remove it to make a new one)", path, perr)
		}
		return ssh.MarshalAuthorizedKey(signer.PublicKey()), priv, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("lab key: %w", err)
	}
	pk, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate lab key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(sk, comment)
	if err != nil {
		return nil, nil, fmt.Errorf("encode lab key: %w", err)
	}
	sshPub, err := ssh.NewPublicKey(pk)
	if err != nil {
		return nil, nil, fmt.Errorf("encode lab key: %w", err)
	}
	priv = pem.EncodeToMemory(block)
	pub = ssh.MarshalAuthorizedKey(sshPub)
	if _, err := writeIfChanged(path, priv, 0o600); err != nil {
		return nil, nil, err
	}
	line := strings.TrimSuffix(string(pub), "\n") + " " + comment + "\n"
	if _, err := writeIfChanged(path+".pub", []byte(line), 0o644); err != nil {
		return nil, nil, err
	}
	return pub, priv, nil
}

// knownHosts renders a known_hosts file naming every node by address and
// hostname with the lab's host key.
func knownHosts(p *Plan, hostPub []byte) ([]byte, error) {
	key, _, _, _, err := ssh.ParseAuthorizedKey(hostPub)
	if err != nil {
		return nil, fmt.Errorf("lab host key: %w", err)
	}
	var b strings.Builder
	for _, n := range p.Nodes {
		b.WriteString(knownhosts.Line([]string{n.Addr.String(), n.Hostname}, key))
		b.WriteByte('\n')
	}
	return []byte(b.String()), nil
}

// writeIfChanged writes data to path through a temporary file and a rename,
// leaving path untouched when the content is already the same. It reports
// whether it wrote.
func writeIfChanged(path string, data []byte, mode os.FileMode) (bool, error) {
	if old, err := os.ReadFile(path); err == nil && string(old) == string(data) {
		return false, nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	return true, nil
}
