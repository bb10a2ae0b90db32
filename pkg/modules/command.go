package modules

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/koala-stack/koala/pkg/transport"
)

// commandModule is command, shell and raw: they differ in how the command
// line is built and in which arguments they accept.
type commandModule struct {
	kind string // "command", "shell" or "raw"
}

func init() {
	Register(commandModule{"command"}, "command")
	Register(commandModule{"shell"}, "shell")
	Register(commandModule{"raw"}, "raw")
}

func (m commandModule) Args() (accepted, required []string) {
	switch m.kind {
	case "raw":
		return []string{"_raw_params", "executable"}, []string{"_raw_params"}
	case "shell":
		return []string{"_raw_params", "cmd", "chdir", "creates", "removes", "stdin", "stdin_add_newline",
			"strip_empty_ends", "executable"}, []string{"_raw_params|cmd"}
	}
	return []string{"_raw_params", "cmd", "argv", "chdir", "creates", "removes", "stdin", "stdin_add_newline",
		"strip_empty_ends"}, []string{"_raw_params|cmd|argv"}
}

func (m commandModule) Run(ctx context.Context, t *Task) (Result, error) {
	a := newArgs(t.Args)
	raw := a.str("", "_raw_params", "cmd")
	var argv []string
	if m.kind == "command" {
		argv = a.list("argv")
		if len(argv) > 0 && raw != "" {
			a.bad("give either argv or a command line, not both")
		}
		if len(argv) == 0 {
			var err error
			if argv, err = splitArgs(raw); err != nil {
				a.bad("%v", err)
			}
		}
		if len(argv) == 0 && len(a.errs) == 0 {
			a.bad("no command given")
		}
	} else if strings.TrimSpace(raw) == "" {
		a.bad("no command given")
	}
	chdir := a.str("", "chdir")
	creates := a.str("", "creates")
	removes := a.str("", "removes")
	stdin, hasStdin := a.str("", "stdin"), a.has("stdin")
	addNewline := a.boolean(true, "stdin_add_newline")
	strip := a.boolean(true, "strip_empty_ends")
	executable := a.str("", "executable")
	if err := a.err(m.kind); err != nil {
		return Result{}, err
	}

	var cmdField any = raw
	var body string
	switch {
	case m.kind == "command":
		cmdField = anyList(argv)
		body = "exec " + quoteAll(argv)
	case executable != "":
		body = "exec " + quote(executable) + " -c " + quote(raw)
	default:
		body = raw
	}
	if m.kind == "raw" {
		if skip, ok := t.unpredictable("raw does not support check mode"); !ok {
			return skip, nil
		}
		return t.runCommand(ctx, body, nil, cmdField, false)
	}

	// creates/removes are tested in the same script as the command runs in;
	// a random marker on stdout says the command was not run.
	var pre strings.Builder
	if chdir != "" {
		fmt.Fprintf(&pre, "cd -- %s || exit 1\n", quote(chdir))
	}
	marker := ""
	if creates != "" || removes != "" {
		marker = "koala-not-run-" + nonce()
		// IFS='' lets the shell glob the pattern without splitting it.
		exists := `( IFS=''; p=%s; for f in $p; do [ -e "$f" ] && exit 0; done; exit 1 )`
		if creates != "" {
			fmt.Fprintf(&pre, exists+" && { echo %s; exit 0; }\n", quote(creates), marker)
		}
		if removes != "" {
			fmt.Fprintf(&pre, exists+" || { echo %s; exit 0; }\n", quote(removes), marker)
		}
	}
	notRunMsg := func() string {
		if creates != "" {
			return fmt.Sprintf("Did not run command since '%s' exists", creates)
		}
		return fmt.Sprintf("Did not run command since '%s' does not exist", removes)
	}
	wouldRun := "Command would have run if not in check mode"
	if marker == "" {
		if skip, ok := t.unpredictable(wouldRun); !ok {
			skip.Data = map[string]any{"cmd": cmdField, "rc": 0}
			return skip, nil
		}
	}
	var in *strings.Reader
	if hasStdin {
		if addNewline {
			stdin += "\n"
		}
		in = strings.NewReader(stdin)
	}
	// In check mode creates/removes still decide; the command itself is a
	// change, replaced by the gate with a word that says it would have run.
	would := "koala-would-run-" + nonce()
	r, err := t.runCommand(ctx, pre.String()+t.changeCommand(body, would), in, cmdField, strip)
	if err != nil {
		return r, err
	}
	switch out := strings.TrimSpace(r.Data["stdout"].(string)); {
	case marker != "" && out == marker:
		r.Changed, r.Failed, r.Msg = false, false, notRunMsg()
		r.Data["stdout"], r.Data["stdout_lines"] = "", []any{}
	case out == would:
		return Result{Changed: true, Msg: wouldRun, Data: map[string]any{"cmd": cmdField, "rc": 0}}, nil
	}
	return r, nil
}

// runCommand runs script and fills Ansible's command result fields.
func (t *Task) runCommand(ctx context.Context, script string, stdin *strings.Reader, cmdField any, strip bool) (Result, error) {
	c := transport.Command{Cmd: script, Env: t.Env}
	if stdin != nil {
		c.Stdin = stdin
	}
	start := time.Now()
	res, err := t.Conn.Exec(ctx, c)
	end := time.Now()
	if err != nil {
		return Result{}, fmt.Errorf("host %s: run command: %w", t.Host, err)
	}
	stdout, stderr := string(res.Stdout), string(res.Stderr)
	if strip {
		stdout, stderr = strings.TrimRight(stdout, "\r\n"), strings.TrimRight(stderr, "\r\n")
	}
	r := Result{
		Changed: true,
		Data: map[string]any{
			"cmd": cmdField, "rc": res.RC,
			"stdout": stdout, "stderr": stderr,
			"stdout_lines": lines([]byte(stdout)), "stderr_lines": lines([]byte(stderr)),
			"start": ansibleTime(start), "end": ansibleTime(end), "delta": ansibleDelta(end.Sub(start)),
		},
	}
	if res.RC != 0 {
		r.Failed, r.Msg = true, "non-zero return code"
	}
	return r, nil
}

func ansibleTime(t time.Time) string { return t.Format("2006-01-02 15:04:05.000000") }

func ansibleDelta(d time.Duration) string {
	us := d.Microseconds()
	return fmt.Sprintf("%d:%02d:%02d.%06d", us/3600e6, us/60e6%60, us/1e6%60, us%1e6)
}

func anyList(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func nonce() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// splitArgs splits a command line into words as Python's shlex.split does
// (which Ansible's command module uses): quotes group, backslash escapes.
func splitArgs(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated single quote in %q", s)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`\n", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated double quote in %q", s)
			}
			inWord = true
		case c == '\\':
			if i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			}
			inWord = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
