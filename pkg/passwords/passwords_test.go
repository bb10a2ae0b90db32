package passwords

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/uuid"
	"golang.org/x/crypto/ssh"
	"gopkg.in/yaml.v3"
)

// compatFile is kolla-ansible's own passwords.yml, unchanged from upstream.
const compatFile = "../../templates/etc/kolla/passwords.yml"

func readYAML(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

var (
	passwordRE = regexp.MustCompile(`^[A-Za-z0-9]{40}$`)
	hexRE      = regexp.MustCompile(`^[0-9a-f]{32}$`)
	// ansible.utils.encrypt.random_salt(22), what genpwd.py writes.
	bcryptSaltRE = regexp.MustCompile(`^[A-Za-z0-9./]{22}$`)
)

func TestGenerateCompatFile(t *testing.T) {
	src, err := os.ReadFile(compatFile)
	if err != nil {
		t.Fatal(err)
	}
	upstream := readYAML(t, compatFile)
	if len(upstream) != 106 {
		t.Fatalf("compat file has %d keys, want 106", len(upstream))
	}
	// Values an operator already set must survive, including a half-filled
	// SSH key (upstream regenerates a pair only when both halves are empty).
	text := string(src)
	for old, repl := range map[string]string{
		"\ndatabase_password:\n":            "\ndatabase_password: keep-me\n",
		"\nmetadata_secret:\n":              "\nmetadata_secret: 12345\n",
		"\nnova_ssh_key:\n  private_key:\n": "\nnova_ssh_key:\n  private_key: PRIVATE\n",
		"\nrbd_secret_uuid:\n":              "\nrbd_secret_uuid: 00000000-0000-0000-0000-000000000001\n",
		"\ndocker_registry_password:\n":     "\ndocker_registry_password:\n",
		"\nkeystone_admin_password:\n":      "\nkeystone_admin_password: ''\n",
	} {
		if !strings.Contains(text, old) {
			t.Fatalf("compat file lacks %q", old)
		}
		text = strings.Replace(text, old, repl, 1)
	}
	path := filepath.Join(t.TempDir(), "passwords.yml")
	writeFile(t, path, text, 0o644)

	var warn bytes.Buffer
	filled, err := Generate(path, &warn)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(warn.String(), "world-readable") {
		t.Errorf("no warning about the world-readable file: %q", warn.String())
	}
	// 106 keys less the blank one and the five set above.
	if len(filled) != 100 {
		t.Errorf("filled %d keys, want 100", len(filled))
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", info.Mode().Perm())
	}

	got := readYAML(t, path)
	if len(got) != len(upstream) {
		t.Errorf("%d keys after genpwd, want %d", len(got), len(upstream))
	}
	kept := map[string]any{
		"database_password":       "keep-me",
		"metadata_secret":         12345,
		"rbd_secret_uuid":         "00000000-0000-0000-0000-000000000001",
		"keystone_admin_password": "",
	}
	for key := range upstream {
		v, ok := got[key]
		if !ok {
			t.Errorf("%s: missing after genpwd", key)
			continue
		}
		if want, ok := kept[key]; ok {
			if v != want {
				t.Errorf("%s = %#v, want the kept %#v", key, v, want)
			}
			continue
		}
		if key == "nova_ssh_key" {
			if m, _ := v.(map[string]any); m["private_key"] != "PRIVATE" || m["public_key"] != nil {
				t.Errorf("half-filled nova_ssh_key changed: %#v", v)
			}
			continue
		}
		checkKind(t, key, v)
	}

	// Sorted, no comments.
	data, _ := os.ReadFile(path)
	var top []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "#") {
			t.Errorf("comment kept: %q", line)
		}
		if line != "" && line[0] != ' ' {
			top = append(top, strings.SplitN(line, ":", 2)[0])
		}
	}
	if !sort.StringsAreSorted(top) {
		t.Errorf("keys not sorted: %v", top)
	}

	// A second run changes nothing, byte for byte, and does not rewrite the file.
	filled, err = Generate(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(path)
	info2, _ := os.Stat(path)
	if len(filled) != 0 || !bytes.Equal(data, again) || !os.SameFile(info, info2) {
		t.Errorf("second run not a no-op: filled %v, same bytes %v, same file %v", filled, bytes.Equal(data, again), os.SameFile(info, info2))
	}
}

func checkKind(t *testing.T, key string, v any) {
	t.Helper()
	s, _ := v.(string)
	switch Kind(key) {
	case "blank":
		if v != nil {
			t.Errorf("%s = %#v, want empty", key, v)
		}
	case "uuid":
		if _, err := uuid.Parse(s); err != nil {
			t.Errorf("%s = %#v, want a UUID", key, v)
		}
	case "hex":
		if !hexRE.MatchString(s) {
			t.Errorf("%s = %#v, want 32 hex digits", key, v)
		}
	case "fernet":
		if b, err := base64.URLEncoding.DecodeString(s); err != nil || len(b) != 32 {
			t.Errorf("%s = %#v, want a Fernet key", key, v)
		}
	case "ssh":
		m, _ := v.(map[string]any)
		priv, _ := m["private_key"].(string)
		pub, _ := m["public_key"].(string)
		if !strings.HasPrefix(priv, "-----BEGIN PRIVATE KEY-----\n") {
			t.Errorf("%s private_key is not PKCS#8 PEM", key)
			return
		}
		signer, err := ssh.ParsePrivateKey([]byte(priv))
		if err != nil {
			t.Errorf("%s private_key: %v", key, err)
			return
		}
		if got := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))); got != pub || !strings.HasPrefix(pub, "ssh-rsa ") {
			t.Errorf("%s public_key does not match its private key", key)
		}
	case "bcrypt-salt":
		if !bcryptSaltRE.MatchString(s) {
			t.Errorf("%s = %#v, want 22 characters of [a-zA-Z0-9./]", key, v)
		}
	default:
		if !passwordRE.MatchString(s) {
			t.Errorf("%s = %#v, want 40 letters and digits", key, v)
		}
	}
}

func TestKinds(t *testing.T) {
	for key, want := range map[string]string{
		"kolla_ssh_key": "ssh", "haproxy_ssh_key": "ssh", "rbd_secret_uuid": "uuid",
		"designate_pool_id": "uuid", "osprofiler_secret": "hex", "designate_rndc_key": "hex",
		"barbican_crypto_key": "fernet", "docker_registry_password": "blank",
		"keystone_admin_password": "password", "prometheus_bcrypt_salt": "bcrypt-salt",
	} {
		if got := Kind(key); got != want {
			t.Errorf("Kind(%s) = %s, want %s", key, got, want)
		}
	}
}

// Salts use all of random_salt's 64 characters, '.' and '/' included, and
// survive a YAML round trip whatever they start with.
func TestBcryptSalt(t *testing.T) {
	seen := map[rune]bool{}
	for range 300 {
		s, err := generate("bcrypt-salt")
		if err != nil {
			t.Fatal(err)
		}
		checkKind(t, "prometheus_bcrypt_salt", s)
		for _, c := range s {
			seen[c] = true
		}
	}
	if len(seen) != 64 {
		t.Errorf("%d distinct characters in 300 salts, want all 64", len(seen))
	}
	path := filepath.Join(t.TempDir(), "passwords.yml")
	writeFile(t, path, "prometheus_bcrypt_salt:\n", 0o600)
	if _, err := Generate(path, nil); err != nil {
		t.Fatal(err)
	}
	checkKind(t, "prometheus_bcrypt_salt", readYAML(t, path)["prometheus_bcrypt_salt"])
}

func TestMerge(t *testing.T) {
	dir := t.TempDir()
	oldPath, newPath := filepath.Join(dir, "old.yml"), filepath.Join(dir, "new.yml")
	writeFile(t, oldPath, "# old\nb: old-b\na: old-a\nonly_old: x\nredis_master_password: r3dis\nnested:\n  k: v\n", 0o600)
	writeFile(t, newPath, "c:\nb:\nvalkey_master_password:\nnested:\n", 0o600)

	cases := []struct {
		clean bool
		want  string
	}{
		{false, "a: old-a\nb: old-b\nc:\nnested:\n  k: v\nonly_old: x\nredis_master_password: r3dis\nvalkey_master_password: r3dis\n"},
		{true, "b: old-b\nc:\nnested:\n  k: v\nvalkey_master_password: r3dis\n"},
	}
	for _, tc := range cases {
		final := filepath.Join(dir, "final.yml")
		if err := Merge(oldPath, newPath, final, tc.clean, nil); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(final)
		if string(got) != tc.want {
			t.Errorf("clean=%v:\n%s\nwant:\n%s", tc.clean, got, tc.want)
		}
		if info, _ := os.Stat(final); info.Mode().Perm() != 0o640 {
			t.Errorf("final mode %v, want 0640", info.Mode().Perm())
		}
	}
}

func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yml")
	writeFile(t, good, "a:\n", 0o600)
	cases := map[string]struct{ content, want string }{
		"syntax":    {"a: 1\nb: c: d\n", "bad.yml:2: invalid YAML: mapping values are not allowed"},
		"duplicate": {"a: 1\nb: 2\na: 3\n", `bad.yml:3: key "a" repeats the one on line 1`},
		"list":      {"- a\n- b\n", "bad.yml:1: passwords file not in expected key/value format"},
		"empty":     {"", "not in expected key/value format"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			bad := filepath.Join(dir, "bad.yml")
			writeFile(t, bad, tc.content, 0o600)
			if _, err := Generate(bad, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("genpwd: %v, want %q", err, tc.want)
			}
			if err := Merge(good, bad, filepath.Join(dir, "final.yml"), false, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("mergepwd: %v, want %q", err, tc.want)
			}
			if after, _ := os.ReadFile(bad); string(after) != tc.content {
				t.Error("a bad file was rewritten")
			}
		})
	}
	if _, err := Generate(filepath.Join(dir, "absent.yml"), nil); err == nil || !strings.Contains(err.Error(), "is missing") {
		t.Errorf("missing file: %v", err)
	}
}

// A file written by upstream's kolla-genpwd (PyYAML): multi-line single-quoted
// keys, quoted strings that YAML 1.1 would read as numbers or booleans, nulls.
// Every value must read back the same after koala genpwd rewrites it.
func TestUpstreamWrittenFileKeepsValues(t *testing.T) {
	src := "testdata/upstream-genpwd.yml"
	path := filepath.Join(t.TempDir(), "passwords.yml")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(data), 0o640)
	filled, err := Generate(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(filled) != 1 || filled[0] != "database_password" {
		t.Errorf("filled %v, want only database_password", filled)
	}
	before, after := readYAML(t, src), readYAML(t, path)
	for k, v := range before {
		if k == "database_password" {
			continue
		}
		if !reflect.DeepEqual(after[k], v) {
			t.Errorf("%s: %#v became %#v", k, v, after[k])
		}
	}
	out, _ := os.ReadFile(path)
	for _, quoted := range []string{"'yes'", "'0123'"} {
		if !strings.Contains(string(out), quoted) {
			t.Errorf("%s lost its quotes (PyYAML would read it as another type):\n%s", quoted, out)
		}
	}
}
