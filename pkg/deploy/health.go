package deploy

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/koala-stack/koala/pkg/engine"
)

// HealthReport is `koala check`'s result, built from the run's events: each
// host's findings, which playbook/check.yml reports with a debug task whose
// message is {koala_check: [{check, ok, detail}, ...]}, and the error of a host
// that could not be checked (unreachable, or a check task that failed).
type HealthReport struct {
	OK    bool         `json:"ok"`
	Hosts []HostHealth `json:"hosts"`

	mu    sync.Mutex
	byKey map[string]*HostHealth
	order []string
}

// HostHealth is one host's part of the report.
type HostHealth struct {
	Host   string  `json:"host"`
	OK     bool    `json:"ok"`
	Checks []Check `json:"checks"`
	// Error is why the host could not be (fully) checked.
	Error string `json:"error,omitempty"`
}

// Check is one finding.
type Check struct {
	Check  string `json:"check"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// reportKey is the key of the report task's message.
const reportKey = "koala_check"

// NewHealthReport returns an empty report to pass as a Sink of the check run.
func NewHealthReport() *HealthReport {
	return &HealthReport{byKey: map[string]*HostHealth{}}
}

func (r *HealthReport) host(name string) *HostHealth {
	h, ok := r.byKey[name]
	if !ok {
		h = &HostHealth{Host: name}
		r.byKey[name] = h
		r.order = append(r.order, name)
	}
	return h
}

// Handle reads the events of a check run.
func (r *HealthReport) Handle(e engine.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch ev := e.(type) {
	case *engine.HostResult:
		if m, ok := ev.Debug.(map[string]any); ok {
			if list, ok := m[reportKey].([]any); ok {
				h := r.host(ev.Host)
				h.Checks = []Check{}
				for _, it := range list {
					c, _ := it.(map[string]any)
					h.Checks = append(h.Checks, Check{
						Check:  fmt.Sprint(c["check"]),
						OK:     strings.EqualFold(fmt.Sprint(c["ok"]), "true"),
						Detail: strings.TrimSpace(fmt.Sprint(c["detail"])),
					})
				}
				return
			}
		}
		// A host that fails after its report fails because of it; one that
		// fails before could not be checked.
		if ev.Status == engine.StatusFailed || ev.Status == engine.StatusUnreachable {
			if h, reported := r.byKey[ev.Host]; reported && h.Checks != nil {
				return
			}
			h := r.host(ev.Host)
			if h.Error == "" {
				h.Error = fmt.Sprintf("%s: %s: %s", ev.Status, ev.Task, firstLine(ev.Msg))
			}
		}
	case *engine.Recap:
		r.finish(ev.Order)
	}
}

// finish orders the hosts as the inventory does and works out the verdicts.
func (r *HealthReport) finish(order []string) {
	seen := map[string]bool{}
	r.Hosts = r.Hosts[:0]
	r.OK = true
	for _, name := range append(append([]string{}, order...), r.order...) {
		h, ok := r.byKey[name]
		if !ok || seen[name] {
			continue
		}
		seen[name] = true
		h.OK = h.Error == ""
		for _, c := range h.Checks {
			h.OK = h.OK && c.OK
		}
		r.OK = r.OK && h.OK
		r.Hosts = append(r.Hosts, *h)
	}
	if len(r.Hosts) == 0 {
		r.OK = false // nothing was checked: never report a healthy cloud
	}
}

// Problems lists "host: check: detail" for every problem, in host order.
func (r *HealthReport) Problems() []string {
	var out []string
	for _, h := range r.Hosts {
		if h.Error != "" {
			out = append(out, h.Host+": "+h.Error)
		}
		for _, c := range h.Checks {
			if !c.OK {
				out = append(out, fmt.Sprintf("%s: %s: %s", h.Host, c.Check, c.Detail))
			}
		}
	}
	return out
}

// WriteText prints a report per host: its verdict, its problems, and with
// verbose every check.
func (r *HealthReport) WriteText(w io.Writer, verbose bool) {
	for _, h := range r.Hosts {
		bad := 0
		for _, c := range h.Checks {
			if !c.OK {
				bad++
			}
		}
		switch {
		case h.Error != "":
			fmt.Fprintf(w, "%s: NOT CHECKED\n  %s\n", h.Host, h.Error)
		case h.OK:
			fmt.Fprintf(w, "%s: ok, %d checks passed\n", h.Host, len(h.Checks))
		default:
			fmt.Fprintf(w, "%s: %d problem%s (%d of %d checks passed)\n", h.Host, bad, plural(bad), len(h.Checks)-bad, len(h.Checks))
		}
		for _, c := range h.Checks {
			if !c.OK {
				fmt.Fprintf(w, "  FAIL %s: %s\n", c.Check, c.Detail)
			} else if verbose {
				fmt.Fprintf(w, "  ok   %s: %s\n", c.Check, c.Detail)
			}
		}
	}
}

// WriteJSON prints the report as one JSON document.
func (r *HealthReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
