package modules

import (
	"context"
	"fmt"
	"io"

	"github.com/koala-stack/koala/pkg/transport"
)

// The gate: every change a module makes, to a host or through it (a file
// written, a command that changes something, a container, a database row, a
// Keystone object), goes through one of the functions below, and they alone
// read Task.Check. In check mode (-C) a change is described and skipped; the
// module goes on as if it had been made, so it reports changed exactly where
// a real run would change. Reading a host is not a change. Only this file
// reads Task.Check or uploads (TestOnlyTheGateReadsCheck).

// change makes one change: apply runs unless the task is in check mode.
// what says the change in the imperative ("create database nova"); the
// returned text is what a report says: what, or in check mode "would " +
// what.
func (t *Task) change(what string, apply func() error) (string, error) {
	if t.Check {
		return "would " + what, nil
	}
	return what, apply()
}

// changeExec runs cmd, a command that changes the host, unless in check
// mode (then it returns an empty result, exit status 0).
func (t *Task) changeExec(ctx context.Context, what, cmd string) (transport.Result, error) {
	var res transport.Result
	_, err := t.change(what, func() error {
		var err error
		res, err = t.mustExec(ctx, what, cmd)
		return err
	})
	return res, err
}

// upload writes a file on the host (atomically, checked), unless in check
// mode.
func (t *Task) upload(ctx context.Context, content io.Reader, dest string, opts transport.UploadOptions) error {
	_, err := t.change("write "+dest, func() error {
		if err := t.Conn.Upload(ctx, content, dest, opts); err != nil {
			return fmt.Errorf("host %s: write %s: %w", t.Host, dest, err)
		}
		return nil
	})
	return err
}

// script prefixes a module's shell script, which inspects and changes a host
// in one round trip, with the gate's shell function `change`: `change CMD
// [ARG...]` prints "change CMD ARG..." and runs CMD (its output to stderr; a
// failure ends the script), except in check mode, where it only prints. A
// script makes every change through it. A change that is not one command is
// a shell function of the script, called through `change`.
func (t *Task) script(body string) string {
	if t.Check {
		return dryRun(body)
	}
	return "change() { echo \"change $*\"; \"$@\" >&2 || exit 1; }\n" + body
}

// dryRun is body with a `change` that only prints, in any mode: an
// inspection run ahead of the loop items it is for (loop.go), which must
// change nothing.
func dryRun(body string) string { return "change() { echo \"change $*\"; }\n" + body }

// changeCommand returns cmd, a shell command that changes the host, for a
// script that also inspects (command's creates/removes); in check mode, a
// command that prints marker instead, for the module to recognise.
func (t *Task) changeCommand(cmd, marker string) string {
	if t.Check {
		return "echo " + quote(marker)
	}
	return cmd
}

// unpredictable is for a module whose every run may change anything (a
// command, an HTTP POST, a data-changing query): in check mode it is
// skipped, as Ansible skips it, saying why; ok is false then.
func (t *Task) unpredictable(why string) (skipped Result, ok bool) {
	if t.Check {
		return Result{Skipped: true, Msg: why}, false
	}
	return Result{}, true
}

// checkMode tells a module that nothing it asked the gate for was done, for
// the wording of its report and for predicting the state a real run would
// leave (file's "state" after a skipped mkdir). Never to decide whether to
// change something: that is the gate's.
func (t *Task) checkMode() bool { return t.Check }
