package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/koala-stack/koala/internal/sshtest"
)

// shellPID is the pid of the persistent shell running the commands: the same
// across commands while that shell lives.
const shellPID = "echo $PPID"

func TestShellBinaryOutput(t *testing.T) {
	_, c := connect(t)
	var data []byte
	for i := range 256 {
		data = append(data, byte(i))
	}
	// What a frame looks like, with a marker that is not this shell's.
	data = append(data, "\n__koala_00112233445566778899aabbccddeeff r 0 5 5\n__koala_x e\n"...)
	data = append(data, bytes.Repeat([]byte("x"), 200<<10)...)
	data = append(data, "no newline at the end"...)
	for range 2 {
		res, err := c.Exec(testCtx(t), Command{Cmd: "tee /dev/stderr", Stdin: bytes.NewReader(data)})
		if err != nil || res.RC != 0 {
			t.Fatalf("rc %d, %v", res.RC, err)
		}
		if !bytes.Equal(res.Stdout, data) || !bytes.Equal(res.Stderr, data) {
			t.Errorf("output differs from input: %d and %d bytes, want %d", len(res.Stdout), len(res.Stderr), len(data))
		}
	}
	if got := mustExec(t, c, "printf x"); got != "x" {
		t.Errorf("after binary output: %q", got)
	}
}

func TestShellStdin(t *testing.T) {
	_, c := connect(t)
	pid := mustExec(t, c, shellPID)
	big := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB, many chunks
	for _, tc := range []struct{ cmd, want string }{
		{"wc -c", fmt.Sprint(len(big))},
		{"head -c 5", "01234"}, // leaves most of its input unread
		{"true", ""},           // reads none of it
		{"exec <&-; echo closed", "closed"},
	} {
		// Sent whole (length known) and streamed in chunks (unknown).
		for _, in := range []io.Reader{bytes.NewReader(big), io.MultiReader(bytes.NewReader(big))} {
			res, err := c.Exec(testCtx(t), Command{Cmd: tc.cmd, Stdin: in})
			if err != nil || res.RC != 0 || strings.TrimSpace(string(res.Stdout)) != tc.want {
				t.Errorf("%q (%T): rc %d, %q, %v; want %q", tc.cmd, in, res.RC, res.Stdout, err, tc.want)
			}
		}
	}
	// No Stdin: the command reads end of file, not the shell's stream.
	if got := mustExec(t, c, "cat; cat <&3; echo done"); got != "done" {
		t.Errorf("cat without stdin: %q", got)
	}
	if got := mustExec(t, c, shellPID); got != pid {
		t.Errorf("the shell was replaced (pid %s, then %s)", pid, got)
	}
}

func TestShellExit(t *testing.T) {
	_, c := connect(t)
	pid := mustExec(t, c, shellPID)
	for _, cmd := range []string{"exit 3", "(exit 3)", "set -e; false; exit 0", "kill -TERM $$"} {
		res, err := c.Exec(testCtx(t), Command{Cmd: cmd})
		want := map[string]int{"exit 3": 3, "(exit 3)": 3, "set -e; false; exit 0": 1, "kill -TERM $$": 143}[cmd]
		if err != nil || res.RC != want {
			t.Errorf("%q: rc %d, %v; want rc %d", cmd, res.RC, err, want)
		}
	}
	if got := mustExec(t, c, shellPID); got != pid {
		t.Errorf("the shell was replaced (pid %s, then %s)", pid, got)
	}
	// A command that kills its shell fails, clearly; the next gets a new shell.
	_, err := c.Exec(testCtx(t), Command{Cmd: "kill -9 $PPID; sleep 5"})
	if err == nil || !strings.Contains(err.Error(), "persistent shell failed") {
		t.Errorf("killing the shell: %v", err)
	}
	if got := mustExec(t, c, shellPID); got == pid {
		t.Error("a dead shell was used again")
	}
}

func TestShellCancel(t *testing.T) {
	_, c := connect(t)
	for _, conn := range []Conn{c, Become(c, "nobody")} {
		// Another command on the same host runs on through the cancel.
		other := make(chan string, 1)
		go func() {
			res, err := conn.Exec(testCtx(t), Command{Cmd: "while [ ! -e /tmp/koala-shell-go-$PPID ]; do sleep 0.05; done; rm /tmp/koala-shell-go-$PPID; echo survived"})
			other <- fmt.Sprint(strings.TrimSpace(string(res.Stdout)), err)
		}()
		sleep := uniqueSleep()
		ctx, cancel := context.WithCancel(testCtx(t))
		done := make(chan error, 1)
		go func() {
			_, err := conn.Exec(ctx, Command{Cmd: sleep + "; echo never", Stdin: strings.NewReader("unread")})
			done <- err
		}()
		waitFor(t, sleep+" on the host", func() bool { return len(procsWith(sleep)) > 0 })
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled Exec returned %v", err)
		}
		waitFor(t, sleep+" to be killed", func() bool { return len(procsWith(sleep)) == 0 })
		// Release the other command through a third shell.
		mustExec(t, conn, "for p in $(pgrep -u $(id -u) -x sh); do touch /tmp/koala-shell-go-$p; done")
		if got := <-other; got != "survived<nil>" {
			t.Errorf("the other command: %s", got)
		}
		mustExec(t, conn, "true")
	}
}

func TestShellConcurrency(t *testing.T) {
	_, c := connect(t)
	sc := c.(*sshConn)
	var wg sync.WaitGroup
	errs := make(chan error, 60)
	for i := range 60 {
		conn := c
		if i%3 == 0 {
			conn = Become(c, "")
		}
		wg.Go(func() {
			res, err := conn.Exec(testCtx(t), Command{Cmd: fmt.Sprintf("echo %d; id -un", i), Env: map[string]string{"N": fmt.Sprint(i)}})
			want := fmt.Sprintf("%d\n%s\n", i, map[bool]string{true: "root", false: sshtest.User}[i%3 == 0])
			if err == nil && string(res.Stdout) != want {
				err = fmt.Errorf("command %d printed %q, want %q", i, res.Stdout, want)
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
	sc.shells.mu.Lock()
	live := sc.shells.live
	sc.shells.mu.Unlock()
	if live < 1 || live > sc.shells.max {
		t.Errorf("%d live shells, want 1..%d", live, sc.shells.max)
	}
}

func TestShellBecomeIdentity(t *testing.T) {
	_, c := connect(t)
	for range 2 { // the second round reuses the shells
		for _, tc := range []struct {
			conn Conn
			want string
		}{
			{c, sshtest.User + " " + "/home/" + sshtest.User},
			{Become(c, ""), "root /root"},
			{Become(c, "nobody"), "nobody /nonexistent"},
		} {
			if got := mustExec(t, tc.conn, `echo "$(id -un) $HOME"`); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		}
	}
	// sudo refusing is reported as it was without shells: rc 1 and sudo's message.
	for range 2 { // the second goes straight to a session
		res, err := Become(c, "no-such-user-koala").Exec(testCtx(t), Command{Cmd: "true"})
		if err != nil || res.RC == 0 || !strings.Contains(string(res.Stderr), "no-such-user-koala") {
			t.Errorf("become an unknown user: rc %d, %q, %v", res.RC, res.Stderr, err)
		}
	}
}

// TestSessionPerCommand runs the same commands through persistent shells and
// through a session per command and expects the same results.
func TestSessionPerCommand(t *testing.T) {
	f := sshtest.Start(t, 1)
	var conns [2]Conn
	for i, sessions := range []bool{false, true} {
		c, err := newPool(t, PoolOptions{SessionPerCommand: sessions}).Get(testCtx(t), spec(f.Hosts[0]))
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c
	}
	if conns[1].(*sshConn).shells != nil {
		t.Fatal("SessionPerCommand still has shells")
	}
	cmds := []Command{
		{Cmd: "echo out; echo err >&2; exit 3"},
		{Cmd: "kill -9 $$"},
		{Cmd: `printf '%s|' "$A" "$B"; cat`, Env: map[string]string{"A": "a'\n$x", "B": ""}, Stdin: strings.NewReader("in")},
		{Cmd: "id -un; pwd; umask; echo $0; echo \"$SSH_CONNECTION\" | wc -w"},
		{Cmd: "cat"},
		{Cmd: "ls /nonexistent-koala"},
		{Cmd: "printf 'no newline'"},
	}
	for _, cmd := range cmds {
		var res [2]Result
		for i, c := range conns {
			if cmd.Stdin != nil {
				cmd.Stdin = strings.NewReader("in")
			}
			r, err := c.Exec(testCtx(t), cmd)
			if err != nil {
				t.Fatalf("%q (sessions %v): %v", cmd.Cmd, i == 1, err)
			}
			res[i] = r
		}
		if res[0].RC != res[1].RC || !bytes.Equal(res[0].Stdout, res[1].Stdout) || !bytes.Equal(res[0].Stderr, res[1].Stderr) {
			t.Errorf("%q:\n shell:   rc %d %q %q\n session: rc %d %q %q", cmd.Cmd,
				res[0].RC, res[0].Stdout, res[0].Stderr, res[1].RC, res[1].Stdout, res[1].Stderr)
		}
	}
	testUpload(t, conns[1], mustExec(t, conns[1], "mktemp -d"), sshtest.User, sshtest.User)
}
