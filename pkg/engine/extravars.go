package engine

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/koala-stack/koala/pkg/playbook"
	"github.com/koala-stack/koala/pkg/vault"
)

// ParseExtraVars reads -e/--extra-vars values, as ansible-playbook does:
// "k=v k2='v 2'" pairs, an inline YAML or JSON mapping ("{...}"), or
// "@file" (a YAML or JSON file). Later values win over earlier ones; the
// result is in the order given, ready for Options.ExtraVars.
func ParseExtraVars(args []string) ([]map[string]any, error) {
	var out []map[string]any
	for _, a := range args {
		a = strings.TrimSpace(a)
		switch {
		case strings.HasPrefix(a, "@"):
			data, err := os.ReadFile(a[1:])
			if err != nil {
				return nil, fmt.Errorf("-e %s: %w", a, err)
			}
			if data, err = vault.Default().File(a[1:], data); err != nil {
				return nil, fmt.Errorf("-e %s: %w", a, err)
			}
			m, err := yamlMap(data)
			if err != nil {
				return nil, fmt.Errorf("-e %s: %w", a, err)
			}
			out = append(out, m)
		case strings.HasPrefix(a, "{"):
			m, err := yamlMap([]byte(a))
			if err != nil {
				return nil, fmt.Errorf("-e %q: %w", a, err)
			}
			out = append(out, m)
		case a == "":
		default:
			m, err := playbook.ParseKV("extra-vars", a)
			if err != nil {
				return nil, fmt.Errorf("-e %q: %w (expected key=value, {yaml}, or @file)", a, err)
			}
			out = append(out, m)
		}
	}
	return out, nil
}

// yamlMap reads a mapping; `!vault` values are decrypted.
func yamlMap(data []byte) (map[string]any, error) {
	var m map[string]any
	if err := vault.Default().Unmarshal("extra vars", data, &m); err != nil {
		var verr *vault.Error
		if errors.As(err, &verr) {
			return nil, err
		}
		return nil, fmt.Errorf("not a YAML/JSON mapping: %w", err)
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}
