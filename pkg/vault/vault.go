// Package vault reads and writes ansible-vault's AES256 format (1.1 and 1.2,
// with a vault ID), whole files and inline `!vault` YAML values, so that an
// operator's encrypted passwords.yml, globals.yml, vars files and inventories
// work unchanged.
//
// The format (ansible/parsing/vault): a header line
// `$ANSIBLE_VAULT;1.1;AES256` (1.2 adds `;ID`), then the hex of
// "hex(salt)\nhex(hmac)\nhex(ciphertext)" in lines of 80. From the password
// and the 32-byte salt, PBKDF2-HMAC-SHA256 (10000 rounds) derives 80 bytes:
// the AES-256 key, the HMAC-SHA256 key and the CTR IV. The plaintext is
// PKCS#7-padded, encrypted with AES-256-CTR, and the HMAC covers the ciphertext.
package vault

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Header starts every vault text.
const Header = "$ANSIBLE_VAULT"

const (
	saltLen    = 32
	keyLen     = 32
	ivLen      = 16
	iterations = 10000
	lineLen    = 80
)

var (
	// ErrNoSecret: encrypted data and no vault password given.
	ErrNoSecret = errors.New("encrypted with ansible-vault and no vault password was given: pass --ask-vault-pass, --vault-password-file FILE or --vault-id [ID@]FILE")
	// ErrDecrypt: none of the given vault passwords opens the data.
	ErrDecrypt = errors.New("no vault password given decrypts it (a wrong password?)")
)

// Secret is one vault password with its vault ID ("default" when none).
type Secret struct {
	ID       string
	Password []byte
}

// IsEncrypted reports whether data is a vault text.
func IsEncrypted(data []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte(Header+";"))
}

// Keyring holds the vault passwords of a run and every value they revealed,
// so that those can be starred wherever koala prints.
type Keyring struct {
	secrets []Secret

	mu       sync.Mutex
	revealed []string
}

// NewKeyring returns a keyring with secrets, tried in order.
func NewKeyring(secrets ...Secret) *Keyring { return &Keyring{secrets: secrets} }

// Empty reports whether the keyring has no password.
func (k *Keyring) Empty() bool { return k == nil || len(k.secrets) == 0 }

// Revealed returns the plaintexts decrypted so far (secrets for redaction).
func (k *Keyring) Revealed() []string {
	if k == nil {
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.revealed...)
}

// Decrypt opens a vault text. Like Ansible, a 1.2 text is tried with the
// secrets of its vault ID first, then with the others.
func (k *Keyring) Decrypt(vaulttext []byte) ([]byte, error) {
	body, id, err := parseEnvelope(vaulttext)
	if err != nil {
		return nil, err
	}
	if k.Empty() {
		return nil, ErrNoSecret
	}
	order := make([]Secret, 0, len(k.secrets))
	for _, s := range k.secrets {
		if id != "" && s.ID == id {
			order = append(order, s)
		}
	}
	for _, s := range k.secrets {
		if id == "" || s.ID != id {
			order = append(order, s)
		}
	}
	for _, s := range order {
		if plain, ok := decryptBody(body, s.Password); ok {
			k.mu.Lock()
			k.revealed = append(k.revealed, string(plain))
			k.mu.Unlock()
			return plain, nil
		}
	}
	return nil, ErrDecrypt
}

// Encrypt makes a vault text with the keyring's first secret: format 1.1,
// or 1.2 when its ID is not "default", as ansible-vault writes them.
func (k *Keyring) Encrypt(plain []byte) ([]byte, error) {
	if k.Empty() {
		return nil, ErrNoSecret
	}
	return Encrypt(plain, k.secrets[0])
}

// Reencrypt encrypts plain with the secret that opens original (a vault
// text), so that a file rewritten stays readable with the same password and
// keeps its vault ID.
func (k *Keyring) Reencrypt(original, plain []byte) ([]byte, error) {
	body, _, err := parseEnvelope(original)
	if err != nil {
		return nil, err
	}
	if k.Empty() {
		return nil, ErrNoSecret
	}
	for _, s := range k.secrets {
		if _, ok := decryptBody(body, s.Password); ok {
			return Encrypt(plain, s)
		}
	}
	return nil, ErrDecrypt
}

// Encrypt makes a vault text of plain with s.
func Encrypt(plain []byte, s Secret) ([]byte, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	key1, key2, iv, err := deriveKeys(s.Password, salt)
	if err != nil {
		return nil, err
	}
	pad := aes.BlockSize - len(plain)%aes.BlockSize
	padded := append(bytes.Clone(plain), bytes.Repeat([]byte{byte(pad)}, pad)...)
	block, err := aes.NewCipher(key1)
	if err != nil {
		return nil, err
	}
	ct := make([]byte, len(padded))
	cipher.NewCTR(block, iv).XORKeyStream(ct, padded)
	mac := hmac.New(sha256.New, key2)
	mac.Write(ct)
	inner := strings.Join([]string{hex.EncodeToString(salt), hex.EncodeToString(mac.Sum(nil)), hex.EncodeToString(ct)}, "\n")
	body := hex.EncodeToString([]byte(inner))
	var out strings.Builder
	if s.ID == "" || s.ID == "default" {
		out.WriteString(Header + ";1.1;AES256\n")
	} else {
		out.WriteString(Header + ";1.2;AES256;" + s.ID + "\n")
	}
	for len(body) > lineLen {
		out.WriteString(body[:lineLen] + "\n")
		body = body[lineLen:]
	}
	out.WriteString(body + "\n")
	return []byte(out.String()), nil
}

// parseEnvelope returns the hex body and the vault ID ("" for 1.1).
func parseEnvelope(vaulttext []byte) (body []byte, id string, err error) {
	lines := strings.Split(strings.TrimSpace(string(vaulttext)), "\n")
	header := strings.Split(strings.TrimSpace(lines[0]), ";")
	if len(header) < 3 || header[0] != Header {
		return nil, "", errors.New("not an ansible-vault text (no $ANSIBLE_VAULT header)")
	}
	if v := strings.TrimSpace(header[1]); v != "1.1" && v != "1.2" {
		return nil, "", fmt.Errorf("ansible-vault format %s is not supported (1.1 and 1.2 are)", v)
	}
	if c := strings.TrimSpace(header[2]); c != "AES256" {
		return nil, "", fmt.Errorf("ansible-vault cipher %s is not supported (AES256 is)", c)
	}
	if len(header) >= 4 {
		id = strings.TrimSpace(header[3])
	}
	var b strings.Builder
	for _, l := range lines[1:] {
		b.WriteString(strings.TrimSpace(l))
	}
	return []byte(b.String()), id, nil
}

// decryptBody reports false for a wrong password (the HMAC does not match)
// or a damaged body.
func decryptBody(body, password []byte) ([]byte, bool) {
	inner, err := hex.DecodeString(string(body))
	if err != nil {
		return nil, false
	}
	parts := bytes.SplitN(inner, []byte("\n"), 3)
	if len(parts) != 3 {
		return nil, false
	}
	salt, err1 := hex.DecodeString(string(parts[0]))
	want, err2 := hex.DecodeString(string(parts[1]))
	ct, err3 := hex.DecodeString(string(parts[2]))
	if err1 != nil || err2 != nil || err3 != nil || len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return nil, false
	}
	key1, key2, iv, err := deriveKeys(password, salt)
	if err != nil {
		return nil, false
	}
	mac := hmac.New(sha256.New, key2)
	mac.Write(ct)
	if !hmac.Equal(mac.Sum(nil), want) {
		return nil, false
	}
	block, err := aes.NewCipher(key1)
	if err != nil {
		return nil, false
	}
	plain := make([]byte, len(ct))
	cipher.NewCTR(block, iv).XORKeyStream(plain, ct)
	pad := int(plain[len(plain)-1])
	if pad < 1 || pad > aes.BlockSize || !bytes.Equal(plain[len(plain)-pad:], bytes.Repeat([]byte{byte(pad)}, pad)) {
		return nil, false
	}
	return plain[:len(plain)-pad], true
}

func deriveKeys(password, salt []byte) (key1, key2, iv []byte, err error) {
	dk, err := pbkdf2.Key(sha256.New, string(password), salt, iterations, 2*keyLen+ivLen)
	if err != nil {
		return nil, nil, nil, err
	}
	return dk[:keyLen], dk[keyLen : 2*keyLen], dk[2*keyLen:], nil
}
