// Package transport reaches hosts: SSH (golang.org/x/crypto/ssh) with one client
// per host for the whole run and a session per command, a local transport for
// ansible_connection=local, sudo as a decorator, atomic checked uploads, and TCP and
// unix-socket forwarding through a host's connection.
package transport

import (
	"context"
	"io"
	"io/fs"
	"net"
)

// Conn is one host's connection, shared by every task of a run. It is safe for
// concurrent use.
type Conn interface {
	// Exec runs a shell command line on the host (through /bin/sh -c) and waits
	// for it; a non-zero exit status is reported in Result.RC, not as an error.
	// An error means the command could not be run (connection lost, ctx done).
	Exec(ctx context.Context, cmd Command) (Result, error)
	// Upload streams src to dst on the host through a temporary file in dst's
	// directory, checks its sha256, sets mode/owner/group (empty = unchanged)
	// and renames it into place, so a host never sees half a file.
	Upload(ctx context.Context, src io.Reader, dst string, opts UploadOptions) error
	// Dial opens a connection from the host's side: network "tcp" (addr
	// "host:port") or "unix" (addr is a socket path on the host).
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
	RC     int
	Stdout []byte
	Stderr []byte
}

// UploadOptions are the attributes of an uploaded file.
type UploadOptions struct {
	Mode  fs.FileMode // 0 = 0644
	Owner string      // empty = the connecting (or become) user
	Group string
}
