package transport

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// withEnv returns a shell script that reads `export` lines from its stdin up to a
// random end marker, evaluates them and then runs cmd with the rest of stdin, and
// the bytes to send ahead of cmd's own stdin. The values thus never appear in the
// arguments of any process (only in the shell's memory and the command's
// environment, which /proc shows to the owner and root alone). The shell's read
// builtin takes one byte at a time from a pipe, so cmd's input starts exactly
// after the marker.
func withEnv(cmd string, env map[string]string) (script string, prefix []byte, err error) {
	nonce := make([]byte, 12)
	if _, err := rand.Read(nonce); err != nil {
		return "", nil, err
	}
	marker := "__koala_env_end_" + hex.EncodeToString(nonce)
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(env)) {
		v := env[k]
		if !envName.MatchString(k) {
			return "", nil, fmt.Errorf("environment variable name %q is not a valid shell name", k)
		}
		if strings.ContainsRune(v, 0) {
			return "", nil, fmt.Errorf("environment variable %s contains a NUL byte", k)
		}
		b.WriteString("export " + k + "=" + Quote(v) + "\n")
	}
	b.WriteString(marker + "\n")
	script = `__koala_e=; while IFS= read -r __koala_l; do [ "$__koala_l" = ` + marker + ` ] && break; __koala_e="$__koala_e$__koala_l
"; done; eval "$__koala_e"; unset __koala_e __koala_l
` + cmd
	return script, []byte(b.String()), nil
}
