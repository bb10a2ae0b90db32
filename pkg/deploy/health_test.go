package deploy

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/koala-stack/koala/pkg/engine"
)

// The report is built from the report task's messages; a host failing after
// its report is failing because of it, a host failing or unreachable before
// it could not be checked; hosts come in inventory order.
func TestHealthReportFromEvents(t *testing.T) {
	r := NewHealthReport()
	report := func(host string, checks ...map[string]any) {
		list := make([]any, len(checks))
		for i, c := range checks {
			list[i] = c
		}
		r.Handle(&engine.HostResult{Host: host, Task: "Reporting this host's health", Status: engine.StatusOK, Debug: map[string]any{"koala_check": list}})
	}
	r.Handle(&engine.HostResult{Host: "node3", Task: "Gathering Facts", Status: engine.StatusUnreachable, Msg: "ssh: connect: no route to host\nmore"})
	report("node2",
		map[string]any{"check": "container haproxy", "ok": true, "detail": "running, healthy"},
		map[string]any{"check": "container keystone", "ok": "False", "detail": "exited (exit code 0)"})
	r.Handle(&engine.HostResult{Host: "node2", Task: "Failing on a problem", Status: engine.StatusFailed, Msg: "container keystone: see the report"})
	report("node1", map[string]any{"check": "container haproxy", "ok": "True", "detail": "running, healthy"})
	r.Handle(&engine.Recap{Order: []string{"node1", "node2", "node3"}})

	if r.OK {
		t.Fatal("report OK with a stopped container and an unreachable host")
	}
	var hosts []string
	for _, h := range r.Hosts {
		hosts = append(hosts, h.Host)
	}
	if strings.Join(hosts, " ") != "node1 node2 node3" {
		t.Fatalf("hosts %v, want inventory order", hosts)
	}
	if !r.Hosts[0].OK || r.Hosts[1].OK || r.Hosts[1].Error != "" || r.Hosts[2].OK {
		t.Fatalf("verdicts: %+v", r.Hosts)
	}
	if got := r.Hosts[2].Error; got != "unreachable: Gathering Facts: ssh: connect: no route to host" {
		t.Errorf("node3 error %q", got)
	}
	want := []string{"node2: container keystone: exited (exit code 0)", "node3: unreachable: Gathering Facts: ssh: connect: no route to host"}
	if got := r.Problems(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("problems %q, want %q", got, want)
	}
	var text bytes.Buffer
	r.WriteText(&text, false)
	for _, w := range []string{"node1: ok, 1 checks passed", "node2: 1 problem (1 of 2 checks passed)", "  FAIL container keystone: exited (exit code 0)", "node3: NOT CHECKED"} {
		if !strings.Contains(text.String(), w) {
			t.Errorf("text report lacks %q:\n%s", w, text.String())
		}
	}
	if strings.Contains(text.String(), "ok   container haproxy") {
		t.Errorf("passed checks listed without verbose:\n%s", text.String())
	}
	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back struct {
		OK    bool
		Hosts []HostHealth
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.OK || len(back.Hosts) != 3 || back.Hosts[1].Checks[1].Check != "container keystone" {
		t.Fatalf("JSON report %s: %v", js.String(), err)
	}
}

// A run that reported nothing (every host filtered out) is not a healthy cloud.
func TestHealthReportEmptyIsNotOK(t *testing.T) {
	r := NewHealthReport()
	r.Handle(&engine.Recap{})
	if r.OK {
		t.Fatal("an empty report says OK")
	}
}
