// Package transport reaches hosts: SSH (golang.org/x/crypto/ssh) with one client
// per host for the whole run and a few persistent shells per host and user that
// run the commands (shell.go; PoolOptions.SessionPerCommand falls back to a
// session per command), a local transport for ansible_connection=local, sudo as a
// decorator, atomic checked uploads, and TCP and unix-socket forwarding through a
// host's connection.
//
// Commands run under /bin/sh -c on the host whatever the login shell is. A
// Command's Env reaches the command without ever appearing in a process's
// arguments on the host: over SSH the exports are read by a shell from its stdin
// (the persistent shell's request line, or withEnv's prefix to a session's input);
// locally they are set in the child's environment.
package transport

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"strings"
)

// Conn is one host's connection, shared by every task of a run. It is safe for
// concurrent use.
type Conn interface {
	// Exec runs a shell command line on the host (through /bin/sh -c) and waits
	// for it; a non-zero exit status is reported in Result.RC, not as an error.
	// An error means the command could not be run (connection lost, ctx done).
	// When ctx ends first, the command's process group is sent SIGTERM.
	Exec(ctx context.Context, cmd Command) (Result, error)
	// Upload streams src to dst on the host through a temporary file in dst's
	// directory, checks its sha256, sets mode/owner/group (empty = unchanged)
	// and renames it into place, so a host never sees half a file. dst must be
	// absolute and its directory must exist.
	Upload(ctx context.Context, src io.Reader, dst string, opts UploadOptions) error
	// Dial opens a connection from the host's side: network "tcp" (addr
	// "host:port") or "unix" (addr is a socket path on the host). Over SSH the
	// connection is opened by sshd as the login user, whatever Become says.
	Dial(ctx context.Context, network, addr string) (net.Conn, error)
	// Host is the inventory name of the host this connection reaches.
	Host() string
	Close() error
}

// Command is one command to run on a host.
type Command struct {
	Cmd   string            // shell command line
	Stdin io.Reader         // optional
	Env   map[string]string // exported before Cmd, never placed in process arguments
}

// Result is what a command did.
type Result struct {
	RC     int // exit status; 128+n when killed by signal n
	Stdout []byte
	Stderr []byte
}

// UploadOptions are the attributes of an uploaded file.
type UploadOptions struct {
	Mode  fs.FileMode // 0 = 0644
	Owner string      // empty = the connecting (or become) user
	Group string
}

// UnreachableError reports a host that could not be connected to (refused,
// timed out, authentication or host key failure) or whose connection was lost.
type UnreachableError struct {
	Host string // inventory name
	Addr string // address dialled, "host:port"
	Err  error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("host %s unreachable at %s: %v", e.Host, e.Addr, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Quote quotes s for a POSIX shell: the result is one word with s's exact bytes.
func Quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
