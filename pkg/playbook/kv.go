package playbook

import (
	"fmt"
	"strings"
)

// RawParams is the argument that holds the free-form part of a task line
// (`command: ls -l /tmp` or `meta: flush_handlers`), as in Ansible.
const RawParams = "_raw_params"

// freeFormKeys are the k=v words that command-like modules take out of their
// free-form line; every other word stays part of the command.
var freeFormKeys = map[string][]string{
	"command": {"chdir", "creates", "removes", "stdin", "stdin_add_newline", "strip_empty_ends", "argv"},
	"shell":   {"chdir", "creates", "removes", "stdin", "stdin_add_newline", "strip_empty_ends", "executable"},
	"raw":     {"executable"},
	"script":  {"chdir", "creates", "removes", "executable"},
}

// freeForm lists actions whose string form is a free-form parameter rather
// than k=v pairs.
var freeForm = map[string]bool{
	"command": true, "shell": true, "raw": true, "script": true, "meta": true,
	"include_tasks": true, "import_tasks": true, "include_vars": true, "import_playbook": true,
}

// ParseKV splits Ansible's `k=v k2="v 2"` argument form for action. Quotes
// (single or double) group words and are removed; `{{ }}` and `{% %}` spans are
// kept whole. For free-form actions the words that are not recognised k=v
// arguments are joined, in their original text, into RawParams.
func ParseKV(action, s string) (map[string]any, error) {
	words, err := splitArgs(s)
	if err != nil {
		return nil, err
	}
	args := map[string]any{}
	var raw strings.Builder
	allowed := freeFormKeys[action]
	for i, w := range words {
		k, v, ok := strings.Cut(w.text, "=")
		if ok && isIdent(k) && (!freeForm[action] || contains(allowed, k)) {
			args[k] = unquote(v)
			continue
		}
		if !freeForm[action] {
			return nil, fmt.Errorf("argument %q is not of the form key=value (action %s takes key=value arguments only)", w.text, action)
		}
		// The free-form text keeps its own whitespace (newlines of a
		// multi-line shell script above all), as Ansible's join_args does.
		if raw.Len() > 0 {
			raw.WriteString(s[words[i-1].end:w.start])
		}
		raw.WriteString(w.text)
	}
	if raw.Len() > 0 {
		args[RawParams] = raw.String()
	}
	return args, nil
}

// word is one argument word and its span [start, end) in the parsed string.
type word struct {
	text       string
	start, end int
}

// splitArgs splits on unquoted, untemplated whitespace, keeping quotes in the
// words (they are removed per value by unquote, and kept in free-form text).
func splitArgs(s string) ([]word, error) {
	var words []word
	var cur strings.Builder
	var quote byte
	depth := 0 // inside {{ }} / {% %} / {# #}
	start := 0
	flush := func(end int) {
		if cur.Len() > 0 {
			words = append(words, word{cur.String(), start, end})
			cur.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if cur.Len() == 0 {
			start = i
		}
		switch {
		case depth == 0 && quote == 0 && (c == ' ' || c == '\t' || c == '\n'):
			flush(i)
			continue
		case i+1 < len(s) && c == '{' && (s[i+1] == '{' || s[i+1] == '%' || s[i+1] == '#'):
			depth++
			cur.WriteString(s[i : i+2])
			i++
			continue
		case depth > 0 && i+1 < len(s) && (c == '}' || c == '%' || c == '#') && s[i+1] == '}':
			depth--
			cur.WriteString(s[i : i+2])
			i++
			continue
		case depth == 0 && (c == '"' || c == '\''):
			if quote == 0 {
				quote = c
			} else if quote == c && (i == 0 || s[i-1] != '\\') {
				quote = 0
			}
		}
		cur.WriteByte(c)
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote in %q", quote, s)
	}
	if depth != 0 {
		return nil, fmt.Errorf("unterminated template expression in %q", s)
	}
	flush(len(s))
	return words, nil
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		inner := v[1 : len(v)-1]
		return strings.ReplaceAll(inner, `\`+string(v[0]), string(v[0]))
	}
	return v
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
