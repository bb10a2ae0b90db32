package transport

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/koala-stack/koala/internal/sshtest"
)

// A real sudo that asks for the target user's password (sshtest.SudoPassword).
func TestBecomePassword(t *testing.T) {
	_, c := connect(t)
	pw := sshtest.SudoPassword(t)
	user := sshtest.PasswordUser

	// The password must never be in a process's arguments on the host.
	var leaked atomic.Bool
	stop := make(chan struct{})
	var watch sync.WaitGroup
	watch.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			if len(procsWith(pw)) > 0 {
				leaked.Store(true)
			}
		}
	})
	defer func() {
		close(stop)
		watch.Wait()
		if leaked.Load() {
			t.Error("the become password was in a process's arguments")
		}
	}()

	if res, err := Become(c, user).Exec(testCtx(t), Command{Cmd: "id -un"}); err == nil && res.RC == 0 {
		t.Fatalf("sudo -n as %s worked: the test's sudo rule does not ask for a password", user)
	}
	b := BecomeWithPassword(c, user, pw)
	if got := mustExec(t, b, "id -un"); got != user {
		t.Errorf("become %s: %q", user, got)
	}
	res, err := b.Exec(testCtx(t), Command{Cmd: `printf '%s:' "$K"; id -un; cat`, Env: map[string]string{"K": "v"}, Stdin: strings.NewReader("in")})
	if err != nil || string(res.Stdout) != "v:"+user+"\nin" || strings.Contains(string(res.Stderr), "koala-sudo") {
		t.Errorf("with env and stdin: %q %v %q", res.Stdout, err, res.Stderr)
	}
	// Parallel commands start more shells, each answering sudo.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if got := mustExec(t, b, "sleep 0.2; id -un"); got != user {
				t.Errorf("parallel: %q", got)
			}
		})
	}
	wg.Wait()
	dir := mustExec(t, b, "mktemp -d")
	t.Cleanup(func() { os.RemoveAll(dir) })
	testUpload(t, b, dir, user, user)

	// A cancel reaches the command (the kill session answers sudo too).
	sleep := uniqueSleep()
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan error, 1)
	go func() { _, err := b.Exec(ctx, Command{Cmd: sleep}); done <- err }()
	waitFor(t, "the sleep to start", func() bool { return len(procsWith(sleep)) > 0 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	waitFor(t, "the sleep to end", func() bool { return len(procsWith(sleep)) == 0 })

	// A password given where sudo asks none (NOPASSWD for root) is not sent.
	if got := mustExec(t, BecomeWithPassword(c, "root", "not-asked"), "id -un; cat"); got != "root" {
		t.Errorf("become root with an unneeded password: %q", got)
	}
}

// A wrong password: one attempt per connection, every command fails with
// ErrBecomePassword naming the host, and the connection stays usable.
func TestBecomeWrongPassword(t *testing.T) {
	f, c := connect(t)
	sshtest.SudoPassword(t)
	b := BecomeWithPassword(c, sshtest.PasswordUser, "wrong-password")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { _, errs[i] = b.Exec(testCtx(t), Command{Cmd: "true"}) })
	}
	wg.Wait()
	for _, err := range errs {
		if !errors.Is(err, ErrBecomePassword) || !strings.Contains(err.Error(), f.Hosts[0].Name) || strings.Contains(err.Error(), "wrong-password") {
			t.Errorf("got %v, want ErrBecomePassword naming %s, without the password", err, f.Hosts[0].Name)
		}
	}
	// All four came from one refusal: the same error value.
	for _, err := range errs[1:] {
		if err != errs[0] {
			t.Errorf("a second attempt was made: %v / %v", errs[0], err)
		}
	}
	if got := mustExec(t, c, "id -un"); got != sshtest.User {
		t.Errorf("the login user's commands after the refusal: %q", got)
	}
}
