// Package output holds the readers of the engine's event stream that people
// and programs see: Terminal, a live view that stays readable on hundreds of
// hosts (one line per task whose counters fill in, failures in full, a PLAY
// RECAP), and JSON, one JSON object per event per line.
package output

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/koala-stack/koala/pkg/engine"
)

// JSON writes each event as one line: {"event":"task_start", ...fields}.
type JSON struct {
	w   io.Writer
	enc *json.Encoder
}

// NewJSON returns a JSON sink writing to w.
func NewJSON(w io.Writer) *JSON { return &JSON{w: w} }

// Handle writes e.
func (j *JSON) Handle(e engine.Event) {
	body, err := json.Marshal(e)
	if err != nil {
		body, _ = json.Marshal(map[string]string{"error": err.Error()})
	}
	line := make([]byte, 0, len(body)+32)
	line = append(line, `{"event":`...)
	line, _ = appendJSONString(line, e.Kind())
	if len(body) > 2 {
		line = append(line, ',')
		line = append(line, body[1:]...)
	} else {
		line = append(line, '}')
	}
	line = append(line, '\n')
	j.w.Write(line) //nolint:errcheck // a closed stdout cannot be reported anywhere better
}

func appendJSONString(b []byte, s string) ([]byte, error) {
	q, err := json.Marshal(s)
	return append(b, q...), err
}

// IsTerminal reports whether f is a character device (a terminal).
func IsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Terminal is the human view. On a terminal (Live) the current task's line is
// redrawn as hosts report; otherwise each task prints a start line and a
// summary line.
type Terminal struct {
	w       io.Writer
	live    bool
	width   int
	verbose int
	diff    bool
	now     func() time.Time

	task      *engine.TaskStart
	start     time.Time
	counts    map[engine.Status]int
	changed   []string
	drawn     bool // a live line is on screen
	lastDraw  time.Time
	playStart time.Time
}

// TerminalOptions configure NewTerminal.
type TerminalOptions struct {
	Live    bool // redraw the task line in place (stdout is a terminal)
	Verbose int  // 1: a line per host result; 2: also ok items
	Diff    bool // print diffs of changed files
	// Width is the terminal's width: the live line is cut to fit, since a
	// wrapped line cannot be redrawn in place. 0 = 100.
	Width int
}

// NewTerminal returns the human view writing to w.
func NewTerminal(w io.Writer, o TerminalOptions) *Terminal {
	if o.Width <= 0 {
		o.Width = 100
	}
	return &Terminal{w: w, live: o.Live, width: o.Width, verbose: o.Verbose, diff: o.Diff, now: time.Now}
}

// Handle renders one event.
func (t *Terminal) Handle(e engine.Event) {
	switch ev := e.(type) {
	case *engine.PlayStart:
		t.play(ev)
	case *engine.TaskStart:
		t.taskStart(ev)
	case *engine.HostResult:
		t.result(ev)
	case *engine.TaskEnd:
		t.taskEnd(ev)
	case *engine.Recap:
		t.recap(ev)
	}
}

func (t *Terminal) clearLine() {
	if t.live && t.drawn {
		fmt.Fprint(t.w, "\r\x1b[K")
		t.drawn = false
	}
}

func (t *Terminal) play(ev *engine.PlayStart) {
	t.clearLine()
	name := ev.Play
	switch {
	case ev.Batches == 0:
		fmt.Fprintf(t.w, "\nPLAY [%s] %s\nskipping: no hosts matched\n", name, ev.Pos)
	case ev.Batches > 1:
		fmt.Fprintf(t.w, "\nPLAY [%s] batch %d/%d: %d hosts\n", name, ev.Batch, ev.Batches, len(ev.Hosts))
	default:
		fmt.Fprintf(t.w, "\nPLAY [%s] %d hosts\n", name, len(ev.Hosts))
	}
	t.playStart = t.now()
}

func (t *Terminal) taskStart(ev *engine.TaskStart) {
	t.clearLine()
	t.task, t.start = ev, t.now()
	t.counts = map[engine.Status]int{}
	t.changed = nil
	if !t.live {
		fmt.Fprintf(t.w, "%s (%s)\n", t.title(), ev.Pos)
		return
	}
	t.draw(true)
}

func (t *Terminal) title() string {
	kind := "TASK"
	if t.task.Handler {
		kind = "HANDLER"
	}
	name := t.task.Task
	if t.task.Role != "" {
		name = t.task.Role + " : " + name
	}
	return fmt.Sprintf("%s [%s]", kind, name)
}

// counterText is "ok=3 changed=1 failed=1 (5/200)".
func (t *Terminal) counterText(done bool) string {
	var parts []string
	for _, s := range []engine.Status{engine.StatusOK, engine.StatusChanged, engine.StatusFailed,
		engine.StatusUnreachable, engine.StatusSkipped, engine.StatusIgnored, engine.StatusIncluded} {
		if n := t.counts[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", s, n))
		}
	}
	total := 0
	for _, n := range t.counts {
		total += n
	}
	s := strings.Join(parts, " ")
	if !done {
		s += fmt.Sprintf(" (%d/%d)", total, len(t.task.Hosts))
	}
	return strings.TrimSpace(s)
}

func (t *Terminal) draw(force bool) {
	now := t.now()
	if !force && now.Sub(t.lastDraw) < 50*time.Millisecond {
		return
	}
	t.lastDraw = now
	line := t.title() + " " + t.counterText(false)
	if r := []rune(line); len(r) >= t.width {
		line = string(r[:t.width-2]) + "…"
	}
	fmt.Fprintf(t.w, "\r\x1b[K%s", line)
	t.drawn = true
}

func (t *Terminal) result(ev *engine.HostResult) {
	if t.task == nil {
		return
	}
	t.counts[ev.Status]++
	if ev.Status == engine.StatusChanged {
		t.changed = append(t.changed, ev.Host)
	}
	bad := ev.Status == engine.StatusFailed || ev.Status == engine.StatusUnreachable || ev.Status == engine.StatusIgnored
	if bad || t.verbose > 0 || ev.Debug != nil || (t.diff && len(ev.Diff) > 0) {
		t.clearLine()
		t.printResult(ev)
	}
	if t.live {
		t.draw(bad)
	}
}

func (t *Terminal) printResult(ev *engine.HostResult) {
	host := ev.Host
	if ev.Delegate != "" {
		host += " -> " + ev.Delegate
	}
	label := strings.ToUpper(string(ev.Status))
	if ev.Status == engine.StatusIgnored {
		label = "FAILED (ignored)"
	}
	switch ev.Status {
	case engine.StatusFailed, engine.StatusUnreachable, engine.StatusIgnored:
		fmt.Fprintf(t.w, "  %s: %s [%s] %s\n", label, host, ev.Task, ev.Pos)
		if ev.Msg != "" {
			fmt.Fprintf(t.w, "    msg: %s\n", indent(ev.Msg, "         "))
		}
		if ev.RC != nil {
			fmt.Fprintf(t.w, "    rc: %d\n", *ev.RC)
		}
		for _, it := range ev.Items {
			if it.Status == engine.StatusFailed || it.Status == engine.StatusUnreachable {
				fmt.Fprintf(t.w, "    item %s: %s %s\n", it.Label, it.Status, it.Msg)
			}
		}
		if ev.Stdout != "" {
			fmt.Fprintf(t.w, "    stdout:\n      %s\n", indent(strings.TrimRight(ev.Stdout, "\n"), "      "))
		}
		if ev.Stderr != "" {
			fmt.Fprintf(t.w, "    stderr:\n      %s\n", indent(strings.TrimRight(ev.Stderr, "\n"), "      "))
		}
	default:
		line := fmt.Sprintf("  %s: %s", strings.ToLower(label), host)
		if ev.Attempts > 1 {
			line += fmt.Sprintf(" (after %d attempts)", ev.Attempts)
		}
		if t.verbose > 0 && ev.Msg != "" {
			line += " " + firstLine(ev.Msg)
		}
		fmt.Fprintln(t.w, line)
		if t.verbose > 1 {
			for _, it := range ev.Items {
				fmt.Fprintf(t.w, "    item %s: %s\n", it.Label, it.Status)
			}
		}
	}
	if ev.Debug != nil {
		b, err := json.MarshalIndent(ev.Debug, "    ", "  ")
		if err != nil {
			b = []byte(fmt.Sprint(ev.Debug))
		}
		fmt.Fprintf(t.w, "    %s\n", b)
	}
	if t.diff {
		for _, d := range ev.Diff {
			fmt.Fprint(t.w, Unified(d.Path, d.Before, d.After))
		}
	}
}

func (t *Terminal) taskEnd(ev *engine.TaskEnd) {
	if t.task == nil {
		return
	}
	elapsed := t.now().Sub(t.start).Round(time.Millisecond)
	summary := t.counterText(true)
	if summary == "" {
		summary = "no hosts"
	}
	if n := len(t.changed); n > 0 && n <= 8 {
		sort.Strings(t.changed)
		summary += " [changed: " + strings.Join(t.changed, " ") + "]"
	}
	if t.live {
		t.clearLine()
		fmt.Fprintf(t.w, "%s %s %s\n", t.title(), summary, elapsed)
	} else {
		fmt.Fprintf(t.w, "  %s %s\n", summary, elapsed)
	}
	t.task = nil
}

func (t *Terminal) recap(ev *engine.Recap) {
	t.clearLine()
	fmt.Fprintf(t.w, "\nPLAY RECAP %s\n", ev.Elapsed.Round(time.Millisecond))
	width := 0
	for _, h := range ev.Order {
		width = max(width, len(h))
	}
	for _, h := range ev.Order {
		s := ev.Hosts[h]
		fmt.Fprintf(t.w, "%-*s : ok=%-4d changed=%-4d unreachable=%-4d failed=%-4d skipped=%-4d rescued=%-4d ignored=%d\n",
			width, h, s.OK, s.Changed, s.Unreachable, s.Failed, s.Skipped, s.Rescued, s.Ignored)
	}
	if failed := ev.FailedHosts(); len(failed) > 0 {
		sort.Strings(failed)
		fmt.Fprintf(t.w, "\n%d host(s) failed or unreachable: %s\n", len(failed), strings.Join(failed, " "))
	}
}

func indent(s, prefix string) string { return strings.ReplaceAll(s, "\n", "\n"+prefix) }

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
