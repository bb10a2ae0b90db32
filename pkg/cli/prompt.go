package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"strings"

	ucli "github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/koala-stack/koala/pkg/ansiblecfg"
)

// askSecret prints prompt on stderr and reads one line from the command's
// input, without echo when it is a terminal. The input is read byte by byte:
// a second prompt reads the next line.
func askSecret(c *ucli.Context, prompt string) (string, error) {
	fmt.Fprint(c.App.ErrWriter, prompt)
	in := c.App.Reader
	if in == nil {
		in = os.Stdin
	}
	if f, ok := in.(*os.File); ok {
		if old, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err == nil {
			noEcho := *old
			noEcho.Lflag &^= unix.ECHO
			if err := unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, &noEcho); err == nil {
				defer func() {
					unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, old)
					fmt.Fprintln(c.App.ErrWriter)
				}()
			}
		}
	}
	var line []byte
	b := make([]byte, 1)
	for {
		n, err := in.Read(b)
		if n == 1 {
			if b[0] == '\n' {
				break
			}
			line = append(line, b[0])
		}
		if errors.Is(err, io.EOF) {
			if len(line) == 0 {
				return "", fmt.Errorf("%sno input (end of file)", prompt)
			}
			break
		}
		if err != nil {
			return "", fmt.Errorf("%s%w", prompt, err)
		}
	}
	return strings.TrimSuffix(string(line), "\r"), nil
}

// secretFile reads a password file as Ansible does: the first line, without
// its line ending.
func secretFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read password file: %w", err)
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password file %s: %w", path, err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// connectionDefaults are ansible.cfg's connection variables plus the become
// password of --ask-become-pass or --become-password-file (or ansible.cfg's
// become_ask_pass, become_password_file).
func connectionDefaults(c *ucli.Context, cfg *ansiblecfg.Config) (map[string]any, error) {
	vars := maps.Clone(cfg.ConnVars)
	var pass string
	var err error
	switch {
	case c.Bool("ask-become-pass"):
		pass, err = askSecret(c, "BECOME password: ")
	case c.String("become-password-file") != "":
		pass, err = secretFile(c.String("become-password-file"))
	case cfg.AskBecomePass:
		pass, err = askSecret(c, "BECOME password: ")
	case cfg.BecomePasswordFile != "":
		pass, err = secretFile(cfg.BecomePasswordFile)
	default:
		return vars, nil
	}
	if err != nil {
		return nil, &ExitError{Code: 1, Err: fmt.Errorf("become password: %w", err)}
	}
	vars["ansible_become_password"] = pass
	return vars, nil
}
