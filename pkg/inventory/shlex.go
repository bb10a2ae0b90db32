package inventory

import (
	"errors"
	"strings"
)

// shlexSplit splits one INI host line the way Python's shlex.split(line,
// comments=True, posix=True) does, because Ansible tokenises host lines with it.
// Its quirks are Ansible's: quotes are removed (so a="1" becomes the int 1 once
// literal-evaluated) and '#' starts a comment even in the middle of a word.
func shlexSplit(s string) ([]string, error) {
	const (
		stWhite = ' '
		stWord  = 'a'
		stEsc   = '\\'
	)
	var (
		tokens  []string
		tok     strings.Builder
		quoted  bool
		state   rune = stWhite
		escaped rune = stWhite // state to return to after an escape
	)
	emit := func() {
		if tok.Len() > 0 || quoted {
			tokens = append(tokens, tok.String())
		}
		tok.Reset()
		quoted = false
	}
	isSpace := func(r rune) bool { return r == ' ' || r == '\t' || r == '\r' || r == '\n' }
	rs := []rune(s)
	for i := 0; i <= len(rs); i++ {
		eof := i == len(rs)
		var c rune
		if !eof {
			c = rs[i]
		}
		switch state {
		case stWhite:
			switch {
			case eof:
				return tokens, nil
			case isSpace(c):
				emit()
			case c == '#':
				i = skipLine(rs, i)
			case c == '\\':
				escaped, state = stWord, stEsc
			case c == '\'' || c == '"':
				state = c
			default:
				tok.WriteRune(c)
				state = stWord
			}
		case '\'', '"':
			quoted = true
			switch {
			case eof:
				return nil, errors.New("no closing quotation")
			case c == state:
				state = stWord
			case c == '\\' && state == '"':
				escaped, state = state, stEsc
			default:
				tok.WriteRune(c)
			}
		case stEsc:
			if eof {
				return nil, errors.New("no escaped character")
			}
			// Inside quotes only the quote itself or the backslash can be escaped.
			if (escaped == '\'' || escaped == '"') && c != '\\' && c != escaped {
				tok.WriteRune('\\')
			}
			tok.WriteRune(c)
			state = escaped
		case stWord:
			switch {
			case eof:
				emit()
				return tokens, nil
			case isSpace(c):
				state = stWhite
				emit()
			case c == '#':
				i = skipLine(rs, i)
				state = stWhite
				emit()
			case c == '\'' || c == '"':
				state = c
			case c == '\\':
				escaped, state = stWord, stEsc
			default:
				tok.WriteRune(c)
			}
		}
	}
	return tokens, nil
}

// skipLine returns the index of the next newline at or after i (or the end),
// as shlex's readline() does for a comment.
func skipLine(rs []rune, i int) int {
	for i < len(rs) && rs[i] != '\n' {
		i++
	}
	return i
}
