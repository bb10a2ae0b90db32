package vault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// scriptTimeout bounds a vault password script.
const scriptTimeout = 60 * time.Second

// ReadSecret reads one vault identity as ansible-playbook takes it:
// "FILE", "ID@FILE", "prompt" or "ID@prompt". A file's content is the
// password, surrounding whitespace removed; an executable file is a script
// whose standard output is. ask asks the user for the password of an ID.
func ReadSecret(ctx context.Context, spec string, ask func(id string) (string, error)) (Secret, error) {
	id, src, ok := strings.Cut(spec, "@")
	if !ok {
		id, src = "default", spec
	}
	if src == "prompt" || src == "prompt_ask_vault_pass" {
		pw, err := ask(id)
		if err != nil {
			return Secret{}, fmt.Errorf("vault password for %s: %w", id, err)
		}
		if pw == "" {
			return Secret{}, fmt.Errorf("vault password for %s: empty", id)
		}
		return Secret{ID: id, Password: []byte(pw)}, nil
	}
	st, err := os.Stat(src)
	if err != nil {
		return Secret{}, fmt.Errorf("vault password file: %w", err)
	}
	var pw []byte
	if st.Mode().Perm()&0o111 != 0 {
		ctx, cancel := context.WithTimeout(ctx, scriptTimeout)
		defer cancel()
		var stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, src)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return Secret{}, fmt.Errorf("vault password script %s: %w: %s", src, err, strings.TrimSpace(stderr.String()))
		}
		pw = bytes.Trim(out, "\r\n")
	} else {
		data, err := os.ReadFile(src)
		if err != nil {
			return Secret{}, fmt.Errorf("vault password file: %w", err)
		}
		pw = bytes.TrimSpace(data)
	}
	if len(pw) == 0 {
		return Secret{}, errors.New("vault password file " + src + " gives an empty password")
	}
	return Secret{ID: id, Password: pw}, nil
}
