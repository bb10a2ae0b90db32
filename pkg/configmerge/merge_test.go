package configmerge

import (
	"strings"
	"testing"
)

func TestMergeINI(t *testing.T) {
	role := "[DEFAULT]\ndebug = False\ntransport_url = rabbit://a\n\n[database]\n# the VIP\nconnection = mysql+pymysql://k:p@vip/keystone\nmax_retries = -1\n\n[cache]\nmemcache_servers = 10.0.0.1:11211\nmemcache_servers = 10.0.0.2:11211\n"
	global := "[DEFAULT]\ndebug = True\n"
	service := "[cache]\nmemcache_servers = 10.0.0.9:11211\n[token]\nexpiration: 7200\n"
	got, err := MergeINI(INISource{"role", []byte(role)}, INISource{"global.conf", []byte(global)}, INISource{"keystone.conf", []byte(service)})
	if err != nil {
		t.Fatal(err)
	}
	want := `[DEFAULT]
debug = True
transport_url = rabbit://a

[database]
connection = mysql+pymysql://k:p@vip/keystone
max_retries = -1

[cache]
memcache_servers = 10.0.0.9:11211

[token]
expiration = 7200
`
	if string(got) != want {
		t.Fatalf("merged:\n%s\nwant:\n%s", got, want)
	}
}

func TestMergeINIKeepsRepeatedKeysOfOneFile(t *testing.T) {
	got, err := MergeINI(INISource{"a", []byte("[oslo]\nx = 1\n")}, INISource{"b", []byte("[oslo]\nx = 2\nx = 3\ny = a # not a comment\n")})
	if err != nil {
		t.Fatal(err)
	}
	want := "[oslo]\nx = 2\nx = 3\ny = a # not a comment\n"
	if string(got) != want {
		t.Fatalf("got %q want %q", got, want)
	}
}

func TestMergeINIError(t *testing.T) {
	_, err := MergeINI(INISource{"config/keystone.conf", []byte("[broken\nx=1\n")})
	if err == nil || !strings.Contains(err.Error(), "config/keystone.conf") {
		t.Fatalf("want an error naming the file, got %v", err)
	}
}

func TestMergeYAML(t *testing.T) {
	a := "a: 1\nnested:\n  keep: true\n  list: [1, 2]\n"
	b := "nested:\n  list: [3]\n  added: x\nb: 2\n"
	got, err := MergeYAML(YAMLSource{"a", []byte(a)}, YAMLSource{"empty", nil}, YAMLSource{"b", []byte(b)})
	if err != nil {
		t.Fatal(err)
	}
	want := "a: 1\nb: 2\nnested:\n  added: x\n  keep: true\n  list:\n    - 3\n"
	if string(got) != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	if _, err := MergeYAML(YAMLSource{"policy.yaml", []byte("a: [")}); err == nil || !strings.Contains(err.Error(), "policy.yaml") {
		t.Fatalf("want error naming the file, got %v", err)
	}
}
