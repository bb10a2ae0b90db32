package healthcheck

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The test process itself is the service: it listens, connects and binds a unix
// socket, and the checks must find it by its name (the test binary's).
const self = `healthcheck\.test`

func testProc() *Proc { return &Proc{Root: "/proc"} }

func listen(t *testing.T, network, addr string) net.Listener {
	t.Helper()
	l, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func port(l net.Listener) int { return l.Addr().(*net.TCPAddr).Port }

func TestListen(t *testing.T) {
	l := listen(t, "tcp", "127.0.0.1:0")
	l6 := listen(t, "tcp", "[::1]:0")
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	for _, p := range []int{port(l), port(l6), udp.LocalAddr().(*net.UDPAddr).Port} {
		if err := Listen(testProc(), self, []int{1, p}); err != nil {
			t.Errorf("port %d: %v", p, err)
		}
	}
	free := listen(t, "tcp", "127.0.0.1:0")
	freePort := port(free)
	free.Close()
	if err := Listen(testProc(), self, []int{freePort}); err == nil {
		t.Errorf("closed port %d reported as listening", freePort)
	}
	if err := Listen(testProc(), `no-such-process-\d+`, []int{port(l)}); err == nil || !strings.Contains(err.Error(), "no process matches") {
		t.Errorf("unknown process: %v", err)
	}
	// pgrep leaves itself out: with Self set to this process nothing matches.
	if err := Listen(&Proc{Root: "/proc", Self: os.Getpid()}, self, []int{port(l)}); err == nil {
		t.Error("the checking process matched itself")
	}
}

func TestPort(t *testing.T) {
	l := listen(t, "tcp", "127.0.0.1:0")
	// Listening alone is not a connection.
	if err := Port(testProc(), self, []int{port(l)}); err == nil {
		t.Error("a listening socket counted as a connection")
	}
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// The client side matches by remote port, the accepted side by local port.
	if err := Port(testProc(), self, []int{port(l)}); err != nil {
		t.Error(err)
	}
	if err := Port(testProc(), self, []int{c.LocalAddr().(*net.TCPAddr).Port}); err != nil {
		t.Error(err)
	}
}

func TestSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "service.sock")
	listen(t, "unix", path)
	if err := Socket(testProc(), "healthcheck.test", path); err != nil {
		t.Error(err)
	}
	if err := Socket(testProc(), "nova-compute", path); err == nil {
		t.Error("another process name matched")
	}
	if err := Socket(testProc(), "healthcheck.test", path+".other"); err == nil || !strings.Contains(err.Error(), "no unix socket") {
		t.Errorf("unbound path: %v", err)
	}
}

func TestCurl(t *testing.T) {
	var agent, auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		agent = r.UserAgent()
		if u, p, ok := r.BasicAuth(); ok {
			auth = u + ":" + p
		}
		switch r.URL.Path {
		case "/ok":
		case "/redirect":
			http.Redirect(w, r, "/broken", http.StatusFound)
		case "/broken":
			w.WriteHeader(http.StatusInternalServerError)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer tlsSrv.Close()

	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	var out bytes.Buffer
	for path, ok := range map[string]bool{"/ok": true, "/redirect": true, "/broken": false, "/missing": false} {
		out.Reset()
		err := Curl(getenv, &out, "", srv.URL+path, "", nil)
		if (err == nil) != ok {
			t.Errorf("%s: err = %v, want success %v", path, err, ok)
		}
	}
	if err := Curl(getenv, &out, "", strings.TrimPrefix(srv.URL, "http://")+"/ok", "", nil); err != nil {
		t.Errorf("host:port without a scheme must mean http, as curl: %v", err)
	}
	if err := Curl(getenv, &out, "", tlsSrv.URL, "", nil); err != nil {
		t.Errorf("self-signed TLS must be accepted (curl -k): %v", err)
	}
	out.Reset()
	env["HEALTHCHECK_CURL_USER_AGENT"] = "probe"
	if err := Curl(getenv, &out, "GET", srv.URL+"/ok", "admin:secret", nil); err != nil {
		t.Fatal(err)
	}
	if agent != "probe" || auth != "admin:secret" {
		t.Errorf("agent %q auth %q", agent, auth)
	}
	if !strings.HasPrefix(out.String(), "\n200 127.0.0.1:") {
		t.Errorf("write-out line %q", out.String())
	}
	free := listen(t, "tcp", "127.0.0.1:0")
	addr := free.Addr().String()
	free.Close()
	if err := Curl(getenv, &out, "", "http://"+addr+"/", "", nil); err == nil {
		t.Error("connection refused reported healthy")
	}
	env["HEALTHCHECK_CURL_MAX_TIME"] = "soon"
	if err := Curl(getenv, &out, "", srv.URL, "", nil); err == nil {
		t.Error("bad HEALTHCHECK_CURL_MAX_TIME accepted")
	}
}
