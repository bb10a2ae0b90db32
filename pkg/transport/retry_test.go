package transport

import (
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/koala-stack/koala/internal/sshtest"
)

// flakyProxy drops its first `drop` connections at once (a host whose sshd is
// overloaded or not up yet) and forwards the others to target.
type flakyProxy struct {
	net.Listener
	accepted atomic.Int32
}

func startFlakyProxy(t *testing.T, target string, drop int32) *flakyProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &flakyProxy{Listener: l}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if p.accepted.Add(1) <= drop {
				c.Close()
				continue
			}
			go func() {
				defer c.Close()
				up, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer up.Close()
				go io.Copy(up, c)
				io.Copy(c, up)
			}()
		}
	}()
	return p
}

func viaProxy(h sshtest.Host, p *flakyProxy) HostSpec {
	s := spec(h)
	addr := p.Addr().(*net.TCPAddr)
	s.Address, s.Port = addr.IP.String(), addr.Port
	return s
}

// A connection the host drops is tried again, and the host is reached.
func TestConnectRetriesADroppedConnection(t *testing.T) {
	f := sshtest.Start(t, 1)
	h := f.Hosts[0]
	proxy := startFlakyProxy(t, h.Address(), 2)
	c, err := newPool(t, PoolOptions{}).Get(testCtx(t), viaProxy(h, proxy))
	if err != nil {
		t.Fatalf("with %d retries by default, two dropped connections: %v", DefaultConnectRetries, err)
	}
	mustExec(t, c, "true")
	if n := proxy.accepted.Load(); n != 3 {
		t.Errorf("%d connections, want 3", n)
	}
}

// Without retries (ansible_ssh_retries=0) the first drop is unreachable,
// and the message says how to allow more.
func TestConnectRetriesFromTheSpec(t *testing.T) {
	f := sshtest.Start(t, 1)
	h := f.Hosts[0]
	proxy := startFlakyProxy(t, h.Address(), 1)
	s := viaProxy(h, proxy)
	s.ConnectRetries = SpecFromVars(h.Name, map[string]any{"ansible_ssh_retries": "0"}).ConnectRetries
	_, err := newPool(t, PoolOptions{}).Get(testCtx(t), s)
	var ue *UnreachableError
	if !errors.As(err, &ue) {
		t.Fatalf("want unreachable, got %v", err)
	}
	if n := proxy.accepted.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
	proxy2 := startFlakyProxy(t, h.Address(), 5)
	_, err = newPool(t, PoolOptions{ConnectRetries: 1}).Get(testCtx(t), viaProxy(h, proxy2))
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "after 2 attempts") || !strings.Contains(err.Error(), "ansible_timeout") {
		t.Fatalf("want unreachable after 2 attempts, got %v", err)
	}
}

// A refused login is not tried again: it would fail the same way.
func TestConnectDoesNotRetryAuthentication(t *testing.T) {
	f := sshtest.Start(t, 1)
	h := f.Hosts[0]
	proxy := startFlakyProxy(t, h.Address(), 0)
	s := viaProxy(h, proxy)
	s.User = "nobody-here"
	if _, err := newPool(t, PoolOptions{}).Get(testCtx(t), s); err == nil {
		t.Fatal("a wrong user logged in")
	}
	if n := proxy.accepted.Load(); n != 1 {
		t.Errorf("%d connections for a refused login, want 1", n)
	}
}
