package transport

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/koala-stack/koala/internal/sshtest"
)

func TestExecResult(t *testing.T) {
	_, c := connect(t)
	res, err := c.Exec(testCtx(t), Command{Cmd: "echo out; echo err >&2; exit 3"})
	if err != nil {
		t.Fatal(err)
	}
	if res.RC != 3 || string(res.Stdout) != "out\n" || string(res.Stderr) != "err\n" {
		t.Errorf("got rc %d stdout %q stderr %q, want 3 \"out\\n\" \"err\\n\"", res.RC, res.Stdout, res.Stderr)
	}
	res, err = c.Exec(testCtx(t), Command{Cmd: "kill -9 $$"})
	if err != nil || res.RC != 128+9 {
		t.Errorf("killed by SIGKILL: rc %d, err %v; want 137", res.RC, err)
	}
	res, err = c.Exec(testCtx(t), Command{Cmd: "tr a-z A-Z", Stdin: strings.NewReader("hello\n")})
	if err != nil || string(res.Stdout) != "HELLO\n" {
		t.Errorf("stdin: got %q, %v", res.Stdout, err)
	}
	// Runs under /bin/sh, with the login user.
	if got := mustExec(t, c, "readlink /proc/$$/exe; id -un"); got != "/usr/bin/dash\nkoalatest" && got != "/bin/dash\nkoalatest" {
		t.Errorf("shell and user: %q", got)
	}
}

func TestEnvNeverInArguments(t *testing.T) {
	_, c := connect(t)
	secret := "s3cr3t-" + fmt.Sprint(os.Getpid()) + " it's\n$HOME `x`"
	env := map[string]string{"KOALA_SECRET": secret, "OTHER": "1"}

	res, err := c.Exec(testCtx(t), Command{Cmd: `printf %s "$KOALA_SECRET"; cat`, Env: env, Stdin: strings.NewReader("after")})
	if err != nil || res.RC != 0 {
		t.Fatalf("rc %d err %v stderr %s", res.RC, err, res.Stderr)
	}
	if want := secret + "after"; string(res.Stdout) != want {
		t.Errorf("got %q, want %q", res.Stdout, want)
	}

	sleep := uniqueSleep()
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan error, 1)
	go func() {
		_, err := c.Exec(ctx, Command{Cmd: sleep, Env: env})
		done <- err
	}()
	waitFor(t, sleep+" on the host", func() bool { return len(procsWith(sleep)) > 0 })
	if pids := procsWith("s3cr3t-"); len(pids) > 0 {
		t.Errorf("secret visible in the arguments of pids %v", pids)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Exec returned %v", err)
	}
	if _, err := c.Exec(testCtx(t), Command{Cmd: "true", Env: map[string]string{"A-B": "x"}}); err == nil {
		t.Error("invalid variable name accepted")
	}
}

func TestCancelKillsCommand(t *testing.T) {
	_, c := connect(t)
	for i, conn := range []Conn{c, Become(c, "")} {
		sleep := uniqueSleep()
		ctx, cancel := context.WithCancel(testCtx(t))
		done := make(chan error, 1)
		go func() {
			_, err := conn.Exec(ctx, Command{Cmd: sleep + "; echo never"})
			done <- err
		}()
		waitFor(t, sleep+" on the host", func() bool { return len(procsWith(sleep)) > 0 })
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("become %v: cancelled Exec returned %v", i == 1, err)
		}
		waitFor(t, sleep+" to be killed", func() bool { return len(procsWith(sleep)) == 0 })
	}
}

func TestConcurrentExec(t *testing.T) {
	_, c := connect(t)
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := range 50 {
		wg.Go(func() {
			res, err := c.Exec(testCtx(t), Command{Cmd: fmt.Sprintf("echo %d", i)})
			if err == nil && string(res.Stdout) != fmt.Sprintf("%d\n", i) {
				err = fmt.Errorf("command %d printed %q", i, res.Stdout)
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// changing returns different bytes on its second pass, so the sum computed
// before sending does not match what arrives.
type changing struct {
	r     *bytes.Reader
	pass  int
	first []byte
}

func (c *changing) Read(p []byte) (int, error) { return c.r.Read(p) }
func (c *changing) Seek(off int64, whence int) (int64, error) {
	c.pass++
	if c.pass == 2 {
		c.r = bytes.NewReader(append([]byte("tampered "), c.first...))
	}
	return c.r.Seek(off, whence)
}

// blocking is read whole once (for the checksum); after the rewind it yields
// the first part only, then blocks until released. What reaches the host
// before the cancel is never the whole (a cancel that closes the stream must
// not land a file whose checksum happens to match).
type blocking struct {
	rewound, sent bool
	release       chan struct{}
}

func (b *blocking) Read(p []byte) (int, error) {
	if b.sent {
		if b.rewound {
			<-b.release
		}
		return 0, io.EOF
	}
	b.sent = true
	if b.rewound {
		return copy(p, "partial"), nil
	}
	return copy(p, "partial, and the rest"), nil
}

func (b *blocking) Seek(off int64, whence int) (int64, error) {
	if whence == io.SeekStart {
		b.rewound, b.sent = true, false
	}
	return 0, nil
}

func testUpload(t *testing.T, c Conn, dir, owner, group string) {
	dst := dir + "/file.conf"
	ctx := testCtx(t)
	if err := c.Upload(ctx, strings.NewReader("one\n"), dst, UploadOptions{}); err != nil {
		t.Fatal(err)
	}
	inode := mustExec(t, c, "stat -c %i "+dst)
	// A non-seekable source takes the spooling path.
	if err := c.Upload(ctx, io.MultiReader(strings.NewReader("two\n")), dst, UploadOptions{Mode: 0o640, Owner: owner, Group: group}); err != nil {
		t.Fatal(err)
	}
	if got := mustExec(t, c, "cat "+dst+"; stat -c '%a %U %G' "+dst); got != "two\n640 "+owner+" "+group {
		t.Errorf("after upload: %q", got)
	}
	if mustExec(t, c, "stat -c %i "+dst) == inode {
		t.Error("upload rewrote the file in place instead of renaming a new one over it")
	}

	data := []byte("three\n")
	err := c.Upload(ctx, &changing{r: bytes.NewReader(data), first: data}, dst, UploadOptions{})
	if err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Errorf("tampered upload: %v", err)
	}

	cctx, cancel := context.WithCancel(ctx)
	b := &blocking{release: make(chan struct{})}
	defer close(b.release)
	done := make(chan error, 1)
	go func() { done <- c.Upload(cctx, b, dir+"/cancelled", UploadOptions{}) }()
	waitFor(t, "the upload's temporary file", func() bool {
		return mustExec(t, c, "ls -A "+dir) != "file.conf"
	})
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled upload returned %v", err)
	}
	waitFor(t, "the temporary file to be removed", func() bool {
		return mustExec(t, c, "ls -A "+dir) == "file.conf"
	})
	if got := mustExec(t, c, "cat "+dst); got != "two" {
		t.Errorf("failed uploads changed the file: %q", got)
	}
	if err := c.Upload(ctx, strings.NewReader("x"), dir+"/missing/f", UploadOptions{}); err == nil {
		t.Error("upload into a missing directory succeeded")
	}
}

func TestUpload(t *testing.T) {
	_, c := connect(t)
	testUpload(t, c, mustExec(t, c, "mktemp -d"), sshtest.User, sshtest.User)
}

func TestBecome(t *testing.T) {
	_, c := connect(t)
	root := Become(c, "")
	if got := mustExec(t, root, "id -un; echo $HOME"); got != "root\n/root" {
		t.Errorf("become root: %q", got)
	}
	if got := mustExec(t, Become(c, "nobody"), "id -un"); got != "nobody" {
		t.Errorf("become nobody: %q", got)
	}
	res, err := root.Exec(testCtx(t), Command{Cmd: `printf '%s:' "$K"; id -u; cat`, Env: map[string]string{"K": "v'1"}, Stdin: strings.NewReader("in")})
	if err != nil || string(res.Stdout) != "v'1:0\nin" {
		t.Errorf("become with env and stdin: %q %v %s", res.Stdout, err, res.Stderr)
	}
	dir := mustExec(t, root, "mktemp -d /root/koala-transport-XXXXXX")
	t.Cleanup(func() { os.RemoveAll(dir) })
	testUpload(t, root, dir, "root", "root")
}

func TestDial(t *testing.T) {
	_, c := connect(t)
	ctx := testCtx(t)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go serveUpper(l)
	checkEcho(t, ctx, c, "tcp", l.Addr().String())

	// sshd opens the socket as the login user: make it reachable for them.
	dir, err := os.MkdirTemp("", "koala-dial-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	sock := filepath.Join(dir, "s.sock")
	ul, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ul.Close()
	os.Chmod(sock, 0o777)
	go serveUpper(ul)
	checkEcho(t, ctx, c, "unix", sock)

	if _, err := c.Dial(ctx, "unix", filepath.Join(dir, "absent.sock")); err == nil {
		t.Error("dial to a missing socket succeeded")
	}
}

func serveUpper(l net.Listener) {
	for {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer conn.Close()
			b := make([]byte, 64)
			n, _ := conn.Read(b)
			conn.Write(bytes.ToUpper(b[:n]))
		}()
	}
}

func checkEcho(t *testing.T, ctx context.Context, c Conn, network, addr string) {
	t.Helper()
	conn, err := c.Dial(ctx, network, addr)
	if err != nil {
		t.Fatalf("dial %s %s: %v", network, addr, err)
	}
	defer conn.Close()
	conn.Write([]byte("ping"))
	got, _ := io.ReadAll(conn)
	if string(got) != "PING" {
		t.Errorf("through %s %s got %q", network, addr, got)
	}
}

func TestKnownHosts(t *testing.T) {
	f := sshtest.Start(t, 1)
	h := f.Hosts[0]
	file := filepath.Join(t.TempDir(), "sub", "known_hosts")

	_, err := newPool(t, PoolOptions{KnownHostsFile: file, HostKeyPolicy: Strict}).Get(testCtx(t), spec(h))
	if !errors.Is(err, ErrHostKeyUnknown) && err == nil {
		t.Errorf("strict with no known_hosts: %v", err)
	}
	if _, err := newPool(t, PoolOptions{KnownHostsFile: file}).Get(testCtx(t), spec(h)); err != nil {
		t.Fatalf("accept-new: %v", err)
	}
	data, _ := os.ReadFile(file)
	if want := knownhosts.Line([]string{knownhosts.Normalize(h.Address())}, h.HostKey) + "\n"; string(data) != want {
		t.Errorf("known_hosts after accept-new:\n%s\nwant\n%s", data, want)
	}
	if _, err := newPool(t, PoolOptions{KnownHostsFile: file, HostKeyPolicy: Strict}).Get(testCtx(t), spec(h)); err != nil {
		t.Errorf("strict with the key recorded: %v", err)
	}

	// Another key on record for the address: refused in every checking mode.
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	other, _ := ssh.NewPublicKey(pub)
	os.WriteFile(file, []byte(knownhosts.Line([]string{knownhosts.Normalize(h.Address())}, other)+"\n"), 0o600)
	for _, policy := range []HostKeyPolicy{AcceptNew, Strict} {
		_, err := newPool(t, PoolOptions{KnownHostsFile: file, HostKeyPolicy: policy}).Get(testCtx(t), spec(h))
		var unreachable *UnreachableError
		if !errors.Is(err, ErrHostKeyChanged) || !errors.As(err, &unreachable) {
			t.Errorf("policy %d, changed key: %v", policy, err)
		}
	}
	if _, err := newPool(t, PoolOptions{KnownHostsFile: file, HostKeyPolicy: IgnoreHostKeys}).Get(testCtx(t), spec(h)); err != nil {
		t.Errorf("ignore host keys: %v", err)
	}
}

// -o UserKnownHostsFile=FILE in ansible_ssh_common_args: that file is read
// and written, and the pool's is neither (a lab keeps its nodes' keys in its
// own file, so a lab made again on the same addresses is not refused).
func TestUserKnownHostsFile(t *testing.T) {
	f := sshtest.Start(t, 1)
	h := f.Hosts[0]
	dir := t.TempDir()
	poolFile, own := filepath.Join(dir, "pool_known_hosts"), filepath.Join(dir, "own_known_hosts")
	// The pool's file holds a stale key for the address: it must not be read.
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	stale, _ := ssh.NewPublicKey(pub)
	staleLine := knownhosts.Line([]string{knownhosts.Normalize(h.Address())}, stale) + "\n"
	os.WriteFile(poolFile, []byte(staleLine), 0o600)

	s := spec(h)
	s.KnownHostsFile = SpecFromVars(h.Name, map[string]any{"ansible_ssh_common_args": "-o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=" + own}).KnownHostsFile
	if s.KnownHostsFile != own {
		t.Fatalf("UserKnownHostsFile read as %q", s.KnownHostsFile)
	}
	if _, err := newPool(t, PoolOptions{KnownHostsFile: poolFile}).Get(testCtx(t), s); err != nil {
		t.Fatalf("accept-new into the spec's file: %v", err)
	}
	if data, _ := os.ReadFile(own); string(data) != knownhosts.Line([]string{knownhosts.Normalize(h.Address())}, h.HostKey)+"\n" {
		t.Errorf("the spec's known_hosts:\n%s", data)
	}
	if data, _ := os.ReadFile(poolFile); string(data) != staleLine {
		t.Errorf("the pool's known_hosts was written:\n%s", data)
	}
	// Strict against the spec's file, which now has the key.
	if _, err := newPool(t, PoolOptions{KnownHostsFile: poolFile, HostKeyPolicy: Strict}).Get(testCtx(t), s); err != nil {
		t.Errorf("strict with the key in the spec's file: %v", err)
	}
	// Without the option the pool's stale key is what is checked: refused.
	if _, err := newPool(t, PoolOptions{KnownHostsFile: poolFile}).Get(testCtx(t), spec(h)); !errors.Is(err, ErrHostKeyChanged) {
		t.Errorf("the pool's file with a stale key: %v", err)
	}
}

func TestStrictUnknownHost(t *testing.T) {
	f := sshtest.Start(t, 1)
	file := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(file, nil, 0o600)
	_, err := newPool(t, PoolOptions{KnownHostsFile: file, HostKeyPolicy: Strict}).Get(testCtx(t), spec(f.Hosts[0]))
	if !errors.Is(err, ErrHostKeyUnknown) {
		t.Errorf("strict, unknown host: %v", err)
	}
}

func TestUnreachable(t *testing.T) {
	f := sshtest.Start(t, 1)
	h := f.Hosts[0]
	p := newPool(t, PoolOptions{})
	f.Stop(0)
	_, err := p.Get(testCtx(t), spec(h))
	var ue *UnreachableError
	if !errors.As(err, &ue) || ue.Host != h.Name || ue.Addr != h.Address() {
		t.Fatalf("got %v, want *UnreachableError for %s at %s", err, h.Name, h.Address())
	}
	f.StartAgain(0)
	c, err := p.Get(testCtx(t), spec(h))
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	// A lost connection is unreachable too, and the pool dials again.
	c.Close()
	if _, err := c.Exec(testCtx(t), Command{Cmd: "true"}); !errors.As(err, &ue) {
		t.Errorf("exec on a closed connection: %v", err)
	}
	c2, err := p.Get(testCtx(t), spec(h))
	if err != nil || c2 == c {
		t.Fatalf("redial after loss: %v (same conn: %v)", err, c2 == c)
	}
	mustExec(t, c2, "true")
}

func TestPoolDialsOnce(t *testing.T) {
	f := sshtest.Start(t, 1)
	p := newPool(t, PoolOptions{})
	conns := make([]Conn, 20)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() {
			c, err := p.Get(testCtx(t), spec(f.Hosts[0]))
			if err != nil {
				t.Error(err)
			}
			conns[i] = c
		})
	}
	wg.Wait()
	for _, c := range conns[1:] {
		if c != conns[0] {
			t.Fatal("concurrent Gets returned different connections")
		}
	}
}

func TestProxyJump(t *testing.T) {
	f := sshtest.Start(t, 2)
	jump, target := f.Hosts[0], f.Hosts[1]
	p := newPool(t, PoolOptions{})
	s := spec(target)
	s.ProxyJump = fmt.Sprintf("%s@%s", jump.User, jump.Address())
	// The jump host's key is found by the pool like any host's: only through
	// the default key list, which the test does not have, so name it in config.
	cfg := filepath.Join(t.TempDir(), "config")
	os.WriteFile(cfg, []byte("Host "+jump.Addr+"\n  IdentityFile "+jump.KeyFile+"\n"), 0o600)
	p = newPool(t, PoolOptions{SSHConfigFile: cfg})
	c, err := p.Get(testCtx(t), s)
	if err != nil {
		t.Fatal(err)
	}
	// sshd on the target sees the connection coming from the jump host's sshd:
	// the client's port is not one of this process's sockets.
	if got := mustExec(t, c, "echo $SSH_CONNECTION"); !strings.Contains(got, target.Addr+" "+fmt.Sprint(target.Port)) {
		t.Errorf("SSH_CONNECTION %q", got)
	}
	p.mu.Lock()
	n := len(p.entries)
	p.mu.Unlock()
	if n != 2 {
		t.Errorf("pool holds %d connections, want 2 (jump host and target)", n)
	}
}

func TestSSHConfigAndAgent(t *testing.T) {
	f := sshtest.Start(t, 1)
	h := f.Hosts[0]
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	os.WriteFile(cfg, []byte(fmt.Sprintf("Host myhost\n  HostName %s\n  Port %d\n  User %s\n", h.Addr, h.Port, h.User)), 0o600)

	// An in-process agent holding the fleet's key is the only way in.
	keyData, err := os.ReadFile(h.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ssh.ParseRawPrivateKey(keyData)
	if err != nil {
		t.Fatal(err)
	}
	ring := agent.NewKeyring()
	ring.Add(agent.AddedKey{PrivateKey: raw})
	sock := filepath.Join(dir, "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go agent.ServeAgent(ring, conn)
		}
	}()
	t.Setenv("HOME", dir) // no default ~/.ssh/id_* keys
	p := newPool(t, PoolOptions{SSHConfigFile: cfg, AgentSocket: sock})
	c, err := p.Get(testCtx(t), HostSpec{Name: "n1", Address: "myhost"})
	if err != nil {
		t.Fatal(err)
	}
	if got := mustExec(t, c, "id -un"); got != h.User {
		t.Errorf("logged in as %q", got)
	}
}

func TestSpecFromVars(t *testing.T) {
	s := SpecFromVars("c1", map[string]any{
		"ansible_host": "10.0.0.5", "ansible_port": 2222, "ansible_user": "ops",
		"ansible_ssh_private_key_file": "~/.ssh/k", "ansible_password": "pw",
		"ansible_ssh_common_args": `-o StrictHostKeyChecking=no -o ProxyJump="bastion:22"`,
		"ansible_timeout":         "7",
	})
	if s.Name != "c1" || s.Address != "10.0.0.5" || s.Port != 2222 || s.User != "ops" ||
		len(s.KeyFiles) != 1 || s.KeyFiles[0] != "~/.ssh/k" || s.Password != "pw" ||
		s.ProxyJump != "bastion:22" || s.ConnectTimeout.Seconds() != 7 || s.Local || s.bad != nil {
		t.Errorf("got %+v", s)
	}
	if s := SpecFromVars("c2", map[string]any{"ansible_ssh_extra_args": "-J a@b"}); s.ProxyJump != "a@b" {
		t.Errorf("-J: %+v", s)
	}
	if s := SpecFromVars("localhost", map[string]any{"ansible_connection": "local"}); !s.Local {
		t.Error("ansible_connection=local not local")
	}
	p := newPool(t, PoolOptions{})
	for _, vars := range []map[string]any{
		{"ansible_port": "twenty"},
		{"ansible_connection": "winrm"},
	} {
		_, err := p.Get(testCtx(t), SpecFromVars("bad", vars))
		if err == nil || !strings.Contains(err.Error(), "host bad") {
			t.Errorf("%v: got %v, want an error naming the host", vars, err)
		}
	}
}

// frozenProxy forwards TCP to target until freeze is called; then it stops
// moving bytes without closing anything, like a host that vanished.
type frozenProxy struct {
	net.Listener
	frozen chan struct{}
	once   sync.Once
}

func startProxy(t *testing.T, target string) *frozenProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &frozenProxy{Listener: l, frozen: make(chan struct{})}
	t.Cleanup(func() { p.freeze(); l.Close() })
	go func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			t.Cleanup(func() { in.Close(); out.Close() })
			go p.pump(in, out)
			go p.pump(out, in)
		}
	}()
	return p
}

func (p *frozenProxy) freeze() { p.once.Do(func() { close(p.frozen) }) }

func (p *frozenProxy) pump(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		select {
		case <-p.frozen:
			return
		default:
		}
		if n > 0 {
			dst.Write(buf[:n])
		}
		if err != nil {
			return
		}
	}
}

func TestKeepAliveDetectsDeadHost(t *testing.T) {
	f := sshtest.Start(t, 1)
	proxy := startProxy(t, f.Hosts[0].Address())
	s := spec(f.Hosts[0])
	s.Address, s.Port = "127.0.0.1", proxy.Addr().(*net.TCPAddr).Port
	// Short, but not so short that a loaded machine misses a reply in 3 intervals.
	p := newPool(t, PoolOptions{KeepAlive: time.Second})
	c, err := p.Get(testCtx(t), s)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, c, "true")
	proxy.freeze()
	waitFor(t, "keepalive to give up", func() bool { return !c.(*sshConn).alive() })
	var ue *UnreachableError
	if _, err := c.Exec(testCtx(t), Command{Cmd: "true"}); !errors.As(err, &ue) {
		t.Errorf("exec after the host vanished: %v", err)
	}
}

func TestConnectTimeout(t *testing.T) {
	// Accepts connections and never says a word.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	key := filepath.Join(t.TempDir(), "key")
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, _ := ssh.MarshalPrivateKey(priv, "")
	os.WriteFile(key, pem.EncodeToMemory(block), 0o600)
	p := newPool(t, PoolOptions{ConnectTimeout: 200 * time.Millisecond})
	_, err = p.Get(testCtx(t), HostSpec{Name: "silent", Address: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, User: "x", KeyFiles: []string{key}})
	var ue *UnreachableError
	if !errors.As(err, &ue) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("silent host: %v, want an *UnreachableError after the connect timeout", err)
	}
}
