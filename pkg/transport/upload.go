package transport

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"
)

// execer is the part of a Conn that upload needs, so that every Conn (and the
// Become decorator) uploads through its own Exec.
type execer interface {
	Exec(ctx context.Context, cmd Command) (Result, error)
	Host() string
}

// cancelCleanupTimeout bounds the removal of a cancelled upload's temporary file.
const cancelCleanupTimeout = 10 * time.Second

// upload streams src through c's Exec into a temporary file beside dst, checks
// its sha256 on the host, sets attributes and renames it over dst. The host-side
// script removes the temporary file on any failure, including a SIGTERM sent
// when ctx ends; after a cancel upload removes it once more itself.
func upload(ctx context.Context, c execer, src io.Reader, dst string, opts UploadOptions) error {
	if !path.IsAbs(dst) {
		return fmt.Errorf("upload to %s:%s: destination must be an absolute path", c.Host(), dst)
	}
	body, sum, cleanup, err := hashed(src)
	if err != nil {
		return fmt.Errorf("upload to %s:%s: read source: %w", c.Host(), dst, err)
	}
	defer cleanup()
	mode := opts.Mode.Perm()
	if mode == 0 {
		mode = 0o644
	}
	nonce := make([]byte, 8)
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("upload to %s:%s: %w", c.Host(), dst, err)
	}
	// Every process started counts on a busy host, hence builtins where they
	// do: noclobber creates the temporary file exclusively (as mktemp would),
	// umask makes it private until chmod (not needed for 0600). The traps
	// come first: a cancel between creating the file and setting them left
	// the file behind. The EXIT trap ignores the signals a cancel sends
	// (ignoring is inherited by rm): under sudo with use_pty, the HUP of the
	// closing pty reached rm while it ran and left the file (1 run in ~15).
	var script strings.Builder
	tmp := path.Join(path.Dir(dst), ".koala-upload."+hex.EncodeToString(nonce))
	fmt.Fprintf(&script, "set -e\numask 077\nt=%s\n", Quote(tmp))
	script.WriteString("trap 'trap \"\" HUP INT TERM PIPE; rm -f \"$t\"' EXIT\ntrap 'exit 143' HUP INT TERM PIPE\nset -C\n: >\"$t\"\nset +C\ncat >\"$t\"\n")
	fmt.Fprintf(&script, "s=$(sha256sum \"$t\")\n[ \"${s%%%% *}\" = %s ] || { echo \"checksum mismatch: received ${s%%%% *}, sent %s\" >&2; exit 1; }\n", sum, sum)
	if mode != 0o600 {
		fmt.Fprintf(&script, "chmod %04o \"$t\"\n", mode)
	}
	if owner := ownerSpec(opts); owner != "" {
		fmt.Fprintf(&script, "chown %s \"$t\"\n", Quote(owner))
	}
	fmt.Fprintf(&script, "mv -f \"$t\" %s\n", Quote(dst))
	res, err := c.Exec(ctx, Command{Cmd: script.String(), Stdin: body})
	if err != nil {
		if ctx.Err() != nil {
			// The script's traps remove the file when the cancel's signal
			// reaches it, but a signal can be lost on the way (sudo's pty
			// going away kills what is left): remove it again, best effort.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cancelCleanupTimeout)
			c.Exec(rctx, Command{Cmd: "rm -f " + Quote(tmp)})
			cancel()
		}
		return fmt.Errorf("upload to %s:%s: %w", c.Host(), dst, err)
	}
	if res.RC != 0 {
		return fmt.Errorf("upload to %s:%s failed (rc %d): %s", c.Host(), dst, res.RC, strings.TrimSpace(string(res.Stderr)))
	}
	return nil
}

func ownerSpec(o UploadOptions) string {
	switch {
	case o.Owner != "" && o.Group != "":
		return o.Owner + ":" + o.Group
	case o.Group != "":
		return ":" + o.Group
	}
	return o.Owner
}

// hashed returns src ready to be read from the start together with its sha256.
// The sum must be known before the bytes are sent, so a source that cannot seek
// is spooled to a local temporary file first.
func hashed(src io.Reader) (io.Reader, string, func(), error) {
	h := sha256.New()
	if rs, ok := src.(io.ReadSeeker); ok {
		start, err := rs.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil, "", nil, err
		}
		if _, err := io.Copy(h, rs); err != nil {
			return nil, "", nil, err
		}
		if _, err := rs.Seek(start, io.SeekStart); err != nil {
			return nil, "", nil, err
		}
		return rs, hex.EncodeToString(h.Sum(nil)), func() {}, nil
	}
	f, err := os.CreateTemp("", "koala-upload-")
	if err != nil {
		return nil, "", nil, err
	}
	cleanup := func() { f.Close(); os.Remove(f.Name()) }
	if _, err := io.Copy(io.MultiWriter(f, h), src); err != nil {
		cleanup()
		return nil, "", nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		cleanup()
		return nil, "", nil, err
	}
	return f, hex.EncodeToString(h.Sum(nil)), cleanup, nil
}
