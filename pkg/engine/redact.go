package engine

import (
	"encoding/json"
	"net/url"
	"sort"
	"strings"

	"github.com/koala-stack/koala/pkg/modules"
)

// Redacted replaces a secret value in every event.
const Redacted = "********"

// MinSecretLen is the shortest value Options.Secrets redacts: shorter ones
// would garble the output (every "yes" or "root" starred) and are not
// passwords koala genpwd makes (40 characters).
const MinSecretLen = 6

// redactor replaces known secret values in event text.
type redactor struct{ r *strings.Replacer }

// newRedactor builds a redactor for the values, in the forms they may take
// in output: as given, URL-encoded (connection URLs) and JSON-escaped. nil
// when there is nothing to redact.
func newRedactor(secrets []string) *redactor {
	seen := map[string]bool{}
	var forms []string
	add := func(s string) {
		if len(s) >= MinSecretLen && !seen[s] {
			seen[s] = true
			forms = append(forms, s)
		}
	}
	for _, s := range secrets {
		add(s)
		add(url.QueryEscape(s))
		add(url.PathEscape(s))
		if b, err := json.Marshal(s); err == nil {
			add(string(b[1 : len(b)-1]))
		}
		// A multi-line secret (a private key) may be printed a line at a time.
		for _, line := range strings.Split(s, "\n") {
			add(strings.TrimSpace(line))
		}
	}
	if len(forms) == 0 {
		return nil
	}
	// Longest first: a secret containing another is replaced whole.
	sort.Slice(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	pairs := make([]string, 0, 2*len(forms))
	for _, f := range forms {
		pairs = append(pairs, f, Redacted)
	}
	return &redactor{r: strings.NewReplacer(pairs...)}
}

func (x *redactor) str(s string) string {
	if s == "" {
		return s
	}
	return x.r.Replace(s)
}

// value redacts the strings inside a debug value, returning a copy.
func (x *redactor) value(v any) any {
	switch t := v.(type) {
	case string:
		return x.str(t)
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[x.str(k)] = x.value(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = x.value(e)
		}
		return out
	case []string:
		out := make([]string, len(t))
		for i, e := range t {
			out[i] = x.str(e)
		}
		return out
	}
	return v
}

// event returns e with every secret replaced, as a copy: the engine keeps
// using the original.
func (x *redactor) event(e Event) Event {
	switch t := e.(type) {
	case *PlayStart:
		c := *t
		c.Play = x.str(c.Play)
		return &c
	case *TaskStart:
		c := *t
		c.Task = x.str(c.Task)
		return &c
	case *TaskEnd:
		c := *t
		c.Task = x.str(c.Task)
		return &c
	case *HostResult:
		c := *t
		c.Task, c.Msg, c.Stdout, c.Stderr = x.str(c.Task), x.str(c.Msg), x.str(c.Stdout), x.str(c.Stderr)
		if c.Diff != nil {
			c.Diff = make([]modules.Diff, len(t.Diff))
			for i, d := range t.Diff {
				c.Diff[i] = modules.Diff{Path: x.str(d.Path), Before: x.str(d.Before), After: x.str(d.After)}
			}
		}
		if c.Items != nil {
			c.Items = make([]ItemResult, len(t.Items))
			for i, it := range t.Items {
				c.Items[i] = ItemResult{Label: x.str(it.Label), Status: it.Status, Msg: x.str(it.Msg)}
			}
		}
		c.Debug = x.value(c.Debug)
		return &c
	}
	return e
}

// SecretValues collects the string values inside v (a passwords.yml: plain
// values and ssh key pairs), for Options.Secrets.
func SecretValues(v any) []string {
	var out []string
	switch t := v.(type) {
	case string:
		out = append(out, t)
	case map[string]any:
		for _, e := range t {
			out = append(out, SecretValues(e)...)
		}
	case []any:
		for _, e := range t {
			out = append(out, SecretValues(e)...)
		}
	}
	return out
}
