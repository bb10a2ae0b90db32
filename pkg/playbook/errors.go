package playbook

import (
	"fmt"
	"sort"
	"strings"

	typo "github.com/koala-stack/koala/internal/suggest"
)

// Error is one problem in a playbook, role or task file.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// Errors is every problem Load found, sorted by file and line. It is returned
// as the error of Load when there is at least one.
type Errors []*Error

func (es Errors) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d problem(s) in the playbook:", len(es))
	for _, e := range es {
		b.WriteString("\n  ")
		b.WriteString(e.Error())
	}
	return b.String()
}

func (es Errors) sort() {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Pos.File != es[j].Pos.File {
			return es[i].Pos.File < es[j].Pos.File
		}
		return es[i].Pos.Line < es[j].Pos.Line
	})
}

func suggest(s string, candidates []string) string {
	if c := typo.Nearest(s, candidates, len(s)/3+2); c != "" {
		return fmt.Sprintf(" (did you mean %q?)", c)
	}
	return ""
}
