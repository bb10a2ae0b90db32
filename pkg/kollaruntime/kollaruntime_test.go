package kollaruntime

import (
	"bytes"
	"strings"
	"testing"
)

func TestDispatch(t *testing.T) {
	getenv := func(string) string { return "" }
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"nope", nil, 2, `unknown tool "nope"`},
		{"healthcheck_port", []string{"x"}, 2, "usage: healthcheck_port"},
		{"healthcheck_listen", []string{"x", "http"}, 1, `"http" is not a port number`},
		{"healthcheck_socket", []string{"x"}, 2, "usage: healthcheck_socket"},
		{"healthcheck_curl", nil, 2, "usage: healthcheck_curl"},
		{"healthcheck_curl", []string{"--insecure", "http://x"}, 2, `unsupported argument "--insecure"`},
		{"healthcheck_curl", []string{"http://x", "-u"}, 2, "-u needs a value"},
		{"kolla_set_configs", []string{"--bogus"}, 2, "flag provided but not defined"},
	}
	for _, tc := range cases {
		var out, errOut bytes.Buffer
		if code := run(tc.name, tc.args, getenv, &out, &errOut); code != tc.code || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("%s %v: exit %d, stderr %q; want %d and %q", tc.name, tc.args, code, errOut.String(), tc.code, tc.want)
		}
	}
}

func TestParsePorts(t *testing.T) {
	got, err := parsePorts([]string{"5672", "5671|15672"})
	if err != nil || len(got) != 3 || got[0] != 5672 || got[1] != 5671 || got[2] != 15672 {
		t.Errorf("parsePorts = %v, %v", got, err)
	}
	if _, err := parsePorts([]string{"70000"}); err == nil {
		t.Error("port 70000 accepted")
	}
}

func TestCalled(t *testing.T) {
	for name, want := range map[string]bool{
		"/usr/local/bin/kolla-runtime": true, "/usr/local/bin/kolla_start": true, "healthcheck_curl": true,
		"/usr/local/bin/koala": false, "bin/koala": false, "kolla_start.sh": false,
	} {
		if got := Called(name); got != want {
			t.Errorf("Called(%q) = %v", name, got)
		}
	}
}
