package sshtest

import (
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func dial(t *testing.T, f *Fleet, h Host) (*ssh.Client, error) {
	t.Helper()
	key, err := os.ReadFile(h.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	hkcb, err := knownhosts.New(f.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	return ssh.Dial("tcp", h.Address(), &ssh.ClientConfig{
		User: h.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: hkcb, Timeout: 10 * time.Second,
	})
}

func run(t *testing.T, c *ssh.Client, cmd string) string {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out, err := s.CombinedOutput(cmd)
	if err != nil {
		t.Fatalf("%q: %v: %s", cmd, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestFleet(t *testing.T) {
	f := Start(t, 2)
	if len(f.Hosts) != 2 || f.Hosts[0].Addr == f.Hosts[1].Addr {
		t.Fatalf("hosts: %+v", f.Hosts)
	}
	for _, h := range f.Hosts {
		c, err := dial(t, f, h)
		if err != nil {
			t.Fatalf("%s: %v", h.Name, err)
		}
		if got := run(t, c, "id -un"); got != User {
			t.Errorf("%s: login user %q, want %q", h.Name, got, User)
		}
		if got := run(t, c, "sudo -n id -u"); got != "0" {
			t.Errorf("%s: sudo uid %q, want 0", h.Name, got)
		}
		c.Close()
	}
	ini := f.InventoryINI()
	for _, h := range f.Hosts {
		if !strings.Contains(ini, h.Name+" ansible_host="+h.Addr+" ansible_port=") {
			t.Errorf("inventory lacks %s:\n%s", h.Name, ini)
		}
	}

	f.Stop(0)
	if _, err := net.DialTimeout("tcp", f.Hosts[0].Address(), 2*time.Second); err == nil {
		t.Fatal("host1 still accepts connections after Stop")
	}
	f.StartAgain(0)
	c, err := dial(t, f, f.Hosts[0])
	if err != nil {
		t.Fatalf("after StartAgain: %v", err)
	}
	c.Close()
}

// Two fleets at once (as two test packages would run them) must not collide.
func TestConcurrentFleets(t *testing.T) {
	a, b := Start(t, 3), Start(t, 3)
	seen := map[string]bool{}
	for _, h := range append(a.Hosts, b.Hosts...) {
		if seen[h.Address()] {
			t.Fatalf("address %s used twice", h.Address())
		}
		seen[h.Address()] = true
	}
}
