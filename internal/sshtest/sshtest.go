// Package sshtest gives tests real SSH hosts: each Host is a private sshd from
// Debian's openssh-server listening on its own loopback address and a free port,
// logging in the user `koalatest` (shell /bin/sh, passwordless sudo).
//
// Every fleet, in every test package, uses the same client key and the same host
// key, kept in /var/tmp/koala-sshtest. Tests that dial through ~/.ssh/known_hosts
// with accept-new therefore never meet a "changed host key" for an address and
// port a previous fleet used. Fleets started concurrently by different test
// binaries do not collide: every sshd binds a port the kernel just handed out, and
// a lost race is retried on another port.
//
// Start needs root (to run sshd and create the user) and /usr/sbin/sshd; without
// them it skips the test and says why.
package sshtest

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

const (
	// User is the login user of every test host.
	User = "koalatest"
	// Sshd is the server binary the fleet runs.
	Sshd = "/usr/sbin/sshd"
	// stateDir holds what all fleets share: keys, authorized_keys, a lock.
	stateDir = "/var/tmp/koala-sshtest"
	// readyTimeout bounds the wait for one sshd to answer with its banner.
	readyTimeout = 15 * time.Second
	// portAttempts is how often a lost port race is retried.
	portAttempts = 5
)

// Host is one test host.
type Host struct {
	Name    string // inventory name: host1, host2, ...
	Addr    string // loopback address sshd listens on
	Port    int
	User    string
	KeyFile string // client private key that logs in User
	// HostKey is the server's public host key (the same for every host).
	HostKey ssh.PublicKey
}

// Address is "Addr:Port".
func (h Host) Address() string { return net.JoinHostPort(h.Addr, strconv.Itoa(h.Port)) }

// Fleet is a set of running test hosts.
type Fleet struct {
	Dir        string // per-fleet directory: sshd configs, logs, known_hosts
	Hosts      []Host
	KnownHosts string // known_hosts file listing every host's key

	t     testing.TB
	mu    sync.Mutex
	procs []*sshd
}

// sshd is one running server process.
type sshd struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
}

// Start runs n sshd hosts on 127.0.2.1, 127.0.2.2, ... (one free port each) and
// stops them when the test ends. It skips the test if it is not running as root
// or /usr/sbin/sshd is missing.
func Start(t testing.TB, n int) *Fleet {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("sshtest: needs root to run sshd and create the test user")
	}
	if _, err := os.Stat(Sshd); err != nil {
		t.Skipf("sshtest: %s missing (apt-get install openssh-server): %v", Sshd, err)
	}
	if n < 1 || n > 250 {
		t.Fatalf("sshtest: fleet size %d out of range 1..250", n)
	}
	keyFile, hostKeyFile, hostKey, err := prepare()
	if err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	dir, err := os.MkdirTemp("", "koala-sshtest-")
	if err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	f := &Fleet{Dir: dir, KnownHosts: filepath.Join(dir, "known_hosts"), t: t, procs: make([]*sshd, n)}
	t.Cleanup(f.stopAll)
	var known strings.Builder
	for i := range n {
		h := Host{
			Name: fmt.Sprintf("host%d", i+1), Addr: fmt.Sprintf("127.0.2.%d", i+1),
			User: User, KeyFile: keyFile, HostKey: hostKey,
		}
		var lastErr error
		for range portAttempts {
			if h.Port, err = freePort(h.Addr); err != nil {
				t.Fatalf("sshtest: %v", err)
			}
			if lastErr = f.run(i, h, hostKeyFile); lastErr == nil {
				break
			}
		}
		if lastErr != nil {
			t.Fatalf("sshtest: %v", lastErr)
		}
		f.Hosts = append(f.Hosts, h)
		known.WriteString(knownhosts.Line([]string{knownhosts.Normalize(h.Address())}, hostKey) + "\n")
	}
	if err := os.WriteFile(f.KnownHosts, []byte(known.String()), 0o644); err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	return f
}

// InventoryINI is an Ansible INI inventory with every host in group [fleet].
func (f *Fleet) InventoryINI() string {
	var b strings.Builder
	b.WriteString("[fleet]\n")
	for _, h := range f.Hosts {
		fmt.Fprintf(&b, "%s ansible_host=%s ansible_port=%d ansible_user=%s ansible_ssh_private_key_file=%s\n",
			h.Name, h.Addr, h.Port, h.User, h.KeyFile)
	}
	return b.String()
}

// Stop kills host i's sshd, so new connections to it are refused. Connections
// already open stay up (their per-connection sshd processes live on).
func (f *Fleet) Stop(i int) {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if p := f.procs[i]; p != nil {
		p.stop()
		f.procs[i] = nil
	}
}

// StartAgain restarts host i's sshd on the same address and port after Stop.
func (f *Fleet) StartAgain(i int) {
	f.t.Helper()
	f.mu.Lock()
	running := f.procs[i] != nil
	f.mu.Unlock()
	if running {
		return
	}
	var err error
	// The port may briefly be held by someone else; retry, but never move the host.
	for range portAttempts {
		if err = f.run(i, f.Hosts[i], filepath.Join(stateDir, "hostkey")); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	f.t.Fatalf("sshtest: restart %s: %v", f.Hosts[i].Name, err)
}

// run starts sshd for host h at index i and waits until it answers.
func (f *Fleet) run(i int, h Host, hostKeyFile string) error {
	conf := filepath.Join(f.Dir, h.Name+".conf")
	logFile := filepath.Join(f.Dir, h.Name+".log")
	config := strings.Join([]string{
		"ListenAddress " + h.Address(),
		"HostKey " + hostKeyFile,
		"PidFile none",
		"UsePAM no",
		"StrictModes no",
		"AllowUsers " + User,
		"AuthorizedKeysFile " + filepath.Join(stateDir, "authorized_keys"),
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"MaxStartups 200",
		"MaxSessions 200",
		"AllowTcpForwarding yes",
		"AllowStreamLocalForwarding yes",
		"Subsystem sftp internal-sftp",
		"",
	}, "\n")
	if err := os.WriteFile(conf, []byte(config), 0o644); err != nil {
		return err
	}
	logf, err := os.Create(logFile)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(Sshd, "-D", "-e", "-f", conf)
	cmd.Stdout, cmd.Stderr = logf, logf
	// The listener dies with the test binary even if Cleanup never runs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s for %s: %w", Sshd, h.Name, err)
	}
	p := &sshd{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	if err := waitReady(h.Address(), p.done); err != nil {
		p.stop()
		out, _ := os.ReadFile(logFile)
		return fmt.Errorf("sshd for %s on %s: %w; its log:\n%s", h.Name, h.Address(), err, out)
	}
	f.mu.Lock()
	f.procs[i] = p
	f.mu.Unlock()
	return nil
}

func (f *Fleet) stopAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, p := range f.procs {
		if p != nil {
			p.stop()
			f.procs[i] = nil
		}
	}
}

func (p *sshd) stop() {
	p.cmd.Process.Kill()
	<-p.done
}

// waitReady waits for the SSH banner on addr, or for the process to exit.
func waitReady(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(readyTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("sshd exited before accepting connections")
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			line, rerr := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if rerr == nil && strings.HasPrefix(line, "SSH-") {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no SSH banner within %s", readyTimeout)
}

// freePort asks the kernel for a port that is free on addr right now.
func freePort(addr string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		return 0, fmt.Errorf("find a free port on %s: %w", addr, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// prepare creates (once, under a lock shared by all test binaries) the test
// user, its sudo rule and the shared keys.
func prepare() (keyFile, hostKeyFile string, hostKey ssh.PublicKey, err error) {
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return "", "", nil, err
	}
	// authorized_keys is read as the user: the directory must be traversable.
	if err := os.Chmod(stateDir, 0o755); err != nil {
		return "", "", nil, err
	}
	lock, err := os.OpenFile(filepath.Join(stateDir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", "", nil, err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", "", nil, fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)

	if err := ensureUser(); err != nil {
		return "", "", nil, err
	}
	os.MkdirAll("/run/sshd", 0o755) // sshd's privilege separation directory

	keyFile = filepath.Join(stateDir, "id_ed25519")
	userKey, err := ensureKey(keyFile)
	if err != nil {
		return "", "", nil, err
	}
	if err := os.WriteFile(filepath.Join(stateDir, "authorized_keys"), ssh.MarshalAuthorizedKey(userKey), 0o644); err != nil {
		return "", "", nil, err
	}
	hostKeyFile = filepath.Join(stateDir, "hostkey")
	hostKey, err = ensureKey(hostKeyFile)
	if err != nil {
		return "", "", nil, err
	}
	return keyFile, hostKeyFile, hostKey, nil
}

func ensureUser() error {
	if err := exec.Command("id", User).Run(); err != nil {
		if out, err := exec.Command("useradd", "-m", "-s", "/bin/sh", User).CombinedOutput(); err != nil {
			return fmt.Errorf("useradd %s: %w: %s", User, err, out)
		}
	}
	// A locked account ("!" in shadow) is refused by sshd without PAM; "*" is not.
	if out, err := exec.Command("usermod", "-p", "*", User).CombinedOutput(); err != nil {
		return fmt.Errorf("usermod %s: %w: %s", User, err, out)
	}
	if err := os.MkdirAll("/etc/sudoers.d", 0o755); err != nil {
		return err
	}
	rule := User + " ALL=(ALL:ALL) NOPASSWD: ALL\n"
	return os.WriteFile("/etc/sudoers.d/"+User, []byte(rule), 0o440)
}

// ensureKey loads the ed25519 key in file, creating it first if needed, and
// returns its public half.
func ensureKey(file string) (ssh.PublicKey, error) {
	if data, err := os.ReadFile(file); err == nil {
		signer, err := ssh.ParsePrivateKey(data)
		if err != nil {
			return nil, fmt.Errorf("parse %s (delete it to have it recreated): %w", file, err)
		}
		return signer.PublicKey(), nil
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "koala-sshtest")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	return ssh.NewPublicKey(pub)
}
