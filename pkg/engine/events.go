package engine

import (
	"sync"
	"time"

	"github.com/koala-stack/koala/pkg/modules"
)

// Event is one step of a run, sent to every Sink in order. The concrete types
// are *PlayStart, *TaskStart, *HostResult, *TaskEnd and *Recap.
type Event interface {
	// Kind names the event in the JSON stream ("play_start", ...).
	Kind() string
}

// Sink receives a run's events. The engine calls Handle from one goroutine at
// a time, so a Sink needs no locking of its own; it must not block for long.
type Sink interface {
	Handle(Event)
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(Event)

// Handle calls f.
func (f SinkFunc) Handle(e Event) { f(e) }

// Status is the outcome of a task on a host.
type Status string

// Statuses, as Ansible names them.
const (
	StatusOK          Status = "ok"
	StatusChanged     Status = "changed"
	StatusFailed      Status = "failed"
	StatusSkipped     Status = "skipped"
	StatusUnreachable Status = "unreachable"
	StatusRescued     Status = "rescued" // counted in the recap when a rescue: ran
	StatusIgnored     Status = "ignored" // failed, with ignore_errors
)

// PlayStart begins a play (or one serial batch of it).
type PlayStart struct {
	Play    string   `json:"play"`
	Pos     string   `json:"pos"`
	Hosts   []string `json:"hosts"` // this batch's hosts
	Batch   int      `json:"batch"` // 1-based
	Batches int      `json:"batches"`
}

// TaskStart begins a task on the hosts listed.
type TaskStart struct {
	Task    string   `json:"task"`
	Pos     string   `json:"pos"`
	Role    string   `json:"role,omitempty"`
	Handler bool     `json:"handler,omitempty"`
	Hosts   []string `json:"hosts"`
}

// HostResult is what a task did on one host.
type HostResult struct {
	Host     string         `json:"host"`
	Task     string         `json:"task"`
	Pos      string         `json:"pos"`
	Status   Status         `json:"status"`
	Delegate string         `json:"delegate_to,omitempty"`
	Msg      string         `json:"msg,omitempty"`
	RC       *int           `json:"rc,omitempty"`
	Stdout   string         `json:"stdout,omitempty"`
	Stderr   string         `json:"stderr,omitempty"`
	Diff     []modules.Diff `json:"diff,omitempty"`
	Items    []ItemResult   `json:"items,omitempty"`
	Attempts int            `json:"attempts,omitempty"` // until: attempts made
	// Debug is what a debug task shows.
	Debug any `json:"debug,omitempty"`
	// Hidden is set when no_log hid the arguments and results.
	Hidden bool `json:"no_log,omitempty"`
}

// ItemResult is one loop item's outcome.
type ItemResult struct {
	Label  string `json:"label"`
	Status Status `json:"status"`
	Msg    string `json:"msg,omitempty"`
}

// TaskEnd ends a task: every host listed at TaskStart has reported.
type TaskEnd struct {
	Task   string         `json:"task"`
	Counts map[Status]int `json:"counts"`
	// Elapsed is the task's wall time on all its hosts, for profiling a run
	// from its --json events.
	Elapsed time.Duration `json:"elapsed_ns"`
}

// Stats are one host's counters, as in Ansible's PLAY RECAP. OK counts
// changed results too, as Ansible does.
type Stats struct {
	OK          int `json:"ok"`
	Changed     int `json:"changed"`
	Unreachable int `json:"unreachable"`
	Failed      int `json:"failed"`
	Skipped     int `json:"skipped"`
	Rescued     int `json:"rescued"`
	Ignored     int `json:"ignored"`
}

// Recap ends the run.
type Recap struct {
	Hosts   map[string]*Stats `json:"hosts"`
	Order   []string          `json:"order"` // hosts in inventory order
	Elapsed time.Duration     `json:"elapsed_ns"`
}

// Failed reports whether any host failed or was unreachable.
func (r *Recap) Failed() bool {
	for _, s := range r.Hosts {
		if s.Failed > 0 || s.Unreachable > 0 {
			return true
		}
	}
	return false
}

// FailedHosts lists hosts with failures or unreachable, in order.
func (r *Recap) FailedHosts() []string {
	var out []string
	for _, h := range r.Order {
		if s := r.Hosts[h]; s != nil && (s.Failed > 0 || s.Unreachable > 0) {
			out = append(out, h)
		}
	}
	return out
}

func (*PlayStart) Kind() string  { return "play_start" }
func (*TaskStart) Kind() string  { return "task_start" }
func (*HostResult) Kind() string { return "host_result" }
func (*TaskEnd) Kind() string    { return "task_end" }
func (*Recap) Kind() string      { return "recap" }

// bus serialises events to the sinks, with every secret value redacted.
type bus struct {
	mu     sync.Mutex
	sinks  []Sink
	redact *redactor // nil: nothing to redact
}

func (b *bus) emit(e Event) {
	if b.redact != nil {
		e = b.redact.event(e)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.sinks {
		s.Handle(e)
	}
}
