package template

import (
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestDocExamples renders every example of docs/templates.md, so the
// document cannot claim what the code does not do.
func TestDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/templates.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "<!-- examples: rendered by TestDocExamples")
	if !ok {
		t.Fatal("docs/templates.md: examples marker not found")
	}
	examples := fenced(t, rest, "```text\n")
	var vars map[string]any
	if err := yaml.Unmarshal([]byte(fenced(t, rest, "```yaml\n")), &vars); err != nil {
		t.Fatalf("docs/templates.md: example variables: %v", err)
	}
	e := New()
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(examples), "\n") {
		src, want, ok := strings.Cut(line, "⇒")
		if !ok {
			t.Errorf("docs/templates.md: example without ⇒: %q", line)
			continue
		}
		src, want = strings.TrimRight(src, " "), strings.TrimPrefix(want, " ")
		got, err := e.Render("doc", src, vars)
		if err != nil {
			t.Errorf("%s: %v", src, err)
		} else if got != want {
			t.Errorf("%s\n got %q\nwant %q", src, got, want)
		}
		n++
	}
	if n < 30 {
		t.Errorf("only %d examples found", n)
	}
}

func fenced(t *testing.T, s, open string) string {
	t.Helper()
	_, body, ok := strings.Cut(s, open)
	if !ok {
		t.Fatalf("docs/templates.md: no %q block after the marker", strings.TrimSpace(open))
	}
	body, _, _ = strings.Cut(body, "```")
	return body
}
