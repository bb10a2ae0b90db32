package output

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/koala-stack/koala/pkg/engine"
)

func events() []engine.Event {
	rc := 2
	return []engine.Event{
		&engine.PlayStart{Play: "site", Pos: "site.yml:1", Hosts: []string{"a", "b", "c"}, Batch: 1, Batches: 1},
		&engine.TaskStart{Task: "install", Pos: "site.yml:4", Hosts: []string{"a", "b", "c"}},
		&engine.HostResult{Host: "a", Task: "install", Status: engine.StatusChanged},
		&engine.HostResult{Host: "b", Task: "install", Pos: "site.yml:4", Status: engine.StatusFailed, Msg: "non-zero return code", RC: &rc, Stdout: "out line", Stderr: "err line"},
		&engine.HostResult{Host: "c", Task: "install", Status: engine.StatusUnreachable, Msg: "host c unreachable"},
		&engine.TaskEnd{Task: "install", Counts: map[engine.Status]int{engine.StatusChanged: 1, engine.StatusFailed: 1, engine.StatusUnreachable: 1}},
		&engine.Recap{Order: []string{"a", "b", "c"}, Hosts: map[string]*engine.Stats{
			"a": {OK: 1, Changed: 1}, "b": {Failed: 1}, "c": {Unreachable: 1}}, Elapsed: time.Second},
	}
}

func TestTerminalPlain(t *testing.T) {
	var buf bytes.Buffer
	term := NewTerminal(&buf, TerminalOptions{})
	for _, e := range events() {
		term.Handle(e)
	}
	out := buf.String()
	for _, want := range []string{
		"PLAY [site] 3 hosts",
		"TASK [install] (site.yml:4)",
		"FAILED: b [install] site.yml:4",
		"rc: 2", "out line", "err line",
		"UNREACHABLE: c",
		"changed=1 failed=1 unreachable=1 [changed: a]",
		"PLAY RECAP",
		"b : ok=0    changed=0    unreachable=0    failed=1",
		"2 host(s) failed or unreachable: b c",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\r") || strings.Contains(out, "\x1b[") {
		t.Error("plain output contains terminal control sequences")
	}
	if strings.Contains(out, "changed: a\n") {
		t.Error("plain output lists ok hosts line by line without -v")
	}
}

func TestTerminalLive(t *testing.T) {
	var buf bytes.Buffer
	term := NewTerminal(&buf, TerminalOptions{Live: true})
	for _, e := range events() {
		term.Handle(e)
	}
	out := buf.String()
	if !strings.Contains(out, "\r\x1b[KTASK [install] (0/3)") {
		t.Errorf("no live counter line in %q", out)
	}
	if !strings.Contains(out, "TASK [install] changed=1 failed=1 unreachable=1 [changed: a]") {
		t.Errorf("no final task line in %q", out)
	}
}

func TestJSONLines(t *testing.T) {
	var buf bytes.Buffer
	j := NewJSON(&buf)
	for _, e := range events() {
		j.Handle(e)
	}
	sc := bufio.NewScanner(&buf)
	var kinds []string
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		kinds = append(kinds, m["event"].(string))
		if m["event"] == "host_result" && m["host"] == "b" && (m["stdout"] != "out line" || m["rc"] != 2.0) {
			t.Errorf("failed result %v", m)
		}
	}
	want := "play_start task_start host_result host_result host_result task_end recap"
	if got := strings.Join(kinds, " "); got != want {
		t.Errorf("events %s, want %s", got, want)
	}
}

func TestUnified(t *testing.T) {
	d := Unified("/etc/x", "a\nb\nc\n", "a\nB\nc\nd\n")
	for _, want := range []string{"--- /etc/x (before)", "-b", "+B", "+d", " a"} {
		if !strings.Contains(d, want) {
			t.Errorf("missing %q in\n%s", want, d)
		}
	}
	if Unified("x", "same", "same") != "" {
		t.Error("diff of equal texts")
	}
}
