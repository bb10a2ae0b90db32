package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
)

// Become returns c with every command run as user through sudo; user "" means
// root. Over SSH the commands run in persistent `sudo -H -n -u user -- /bin/sh`
// shells (shell.go), otherwise each through `sudo -H -n -u user -- /bin/sh -c`.
// Uploads go
// through the same sudo, so the temporary file, the checks and the rename all
// happen as user. sudo must not ask for a password (-n makes it fail instead of
// hanging); BecomeWithPassword is for a sudo that asks. Dial is not affected:
// forwarding is done by sshd as the login user. Closing the returned Conn
// closes c.
func Become(c Conn, user string) Conn {
	return BecomeWithPassword(c, user, "")
}

// BecomeWithPassword is Become for a sudo that may ask for password: it is
// sent on sudo's stdin when sudo asks for it, never in a process's arguments,
// and tried once per connection (ErrBecomePassword after a refusal). Only the
// persistent shells of an SSH connection use it; elsewhere it is Become.
func BecomeWithPassword(c Conn, user, password string) Conn {
	if user == "" {
		user = "root"
	}
	return &becomeConn{Conn: c, user: user, password: password}
}

// relayTERM wraps a script run under sudo so that a cancel reaches all of it.
// The login user's SIGTERM to the process group reaches sudo, which relays it
// to its child shell only; that shell waits on the script as a background job
// (a trap runs at once during wait, not after a foreground command) and signals
// its whole process group as the target user. fd 3 carries stdin into the job,
// which would otherwise read /dev/null.
const relayTERM = `trap 'trap - TERM; kill -15 0' TERM HUP INT
exec 3<&0
( %s
) <&3 3<&- &
exec 3<&-
wait $!`

type becomeConn struct {
	Conn
	user, password string
}

func (b *becomeConn) Exec(ctx context.Context, cmd Command) (Result, error) {
	// Over SSH the command runs in a persistent sudo shell when it can.
	if c, ok := b.Conn.(*sshConn); ok && c.shells != nil {
		res, err := c.execShell(ctx, b.user, b.password, cmd)
		if !errors.Is(err, errNoShell) || b.password != "" {
			return res, err
		}
	}
	// Elsewhere (local, SessionPerCommand) the password is not used: sudo -n
	// works where sudo asks none and says "a password is required" where it
	// does.
	script, stdin := cmd.Cmd, cmd.Stdin
	// sudo resets the environment, so the exports must be read by the shell
	// that sudo starts, not by the login shell.
	if len(cmd.Env) > 0 {
		var prefix []byte
		var err error
		if script, prefix, err = withEnv(cmd.Cmd, cmd.Env); err != nil {
			return Result{}, fmt.Errorf("run command on %s as %s: %w", b.Host(), b.user, err)
		}
		if stdin == nil {
			stdin = bytes.NewReader(prefix)
		} else {
			stdin = io.MultiReader(bytes.NewReader(prefix), stdin)
		}
	}
	return b.Conn.Exec(ctx, Command{
		Cmd:   "sudo -H -n -u " + Quote(b.user) + " -- /bin/sh -c " + Quote(fmt.Sprintf(relayTERM, script)),
		Stdin: stdin,
	})
}

func (b *becomeConn) Upload(ctx context.Context, src io.Reader, dst string, opts UploadOptions) error {
	return upload(ctx, b, src, dst, opts)
}
