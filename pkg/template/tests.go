package template

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/flosch/pongo2/v6"
)

// testNames lists the tests this package adds (for a test of coverage).
var testNames []string

// testFunc is a Jinja2 test (`x is name(args)`) over native values.
type testFunc func(in any, args []any, kw map[string]any) (bool, error)

// registerTest adds a test. Only defined/undefined see undefined input; for
// the others an undefined input is an error, as with filters.
func registerTest(name string, fn testFunc) {
	testNames = append(testNames, name)
	pongo2.RegisterTest(name, func(in, param *pongo2.Value) (*pongo2.Value, *pongo2.Error) {
		if in.IsUndefined() {
			return nil, &pongo2.Error{Sender: "test:" + name, OrigError: &UndefinedError{Name: in.UndefinedName()}}
		}
		args, kw := unpackArgs(param)
		ok, err := fn(in.Interface(), args, kw)
		if err != nil {
			return nil, &pongo2.Error{Sender: "test:" + name, OrigError: fmt.Errorf("test %s: %w", name, err)}
		}
		return pongo2.AsValue(ok), nil
	})
}

func compareTest(ops ...int) testFunc {
	return func(in any, args []any, kw map[string]any) (bool, error) {
		if err := needArgs(args, 1, 1); err != nil {
			return false, err
		}
		c, err := pongo2.Compare(in, args[0])
		if err != nil {
			return false, err
		}
		for _, op := range ops {
			if c == op {
				return true, nil
			}
		}
		return false, nil
	}
}

// RegisterTest adds a test (`x is name(args)`) to every Engine; like
// RegisterFilter, call it from an init function.
func RegisterTest(name string, fn func(in any, args []any, kw map[string]any) (bool, error)) {
	registerTest(name, fn)
}

// resultTest reads a registered task result: key true means the test holds.
func resultTest(key string, want bool) testFunc {
	return func(in any, args []any, kw map[string]any) (bool, error) {
		m, ok := dict(in)
		if !ok {
			return false, fmt.Errorf("expects a registered task result, got %s", pongo2.TypeName(in))
		}
		return pongo2.Truthy(m[key]) == want, nil
	}
}

func init() {
	defined := func(in, param *pongo2.Value) (*pongo2.Value, *pongo2.Error) {
		return pongo2.AsValue(!in.IsUndefined()), nil
	}
	pongo2.RegisterTest("defined", defined)
	pongo2.RegisterTest("undefined", func(in, param *pongo2.Value) (*pongo2.Value, *pongo2.Error) {
		return pongo2.AsValue(in.IsUndefined()), nil
	})

	kind := func(names ...string) testFunc {
		return func(in any, args []any, kw map[string]any) (bool, error) {
			t := pongo2.TypeName(in)
			for _, n := range names {
				if t == n {
					return true, nil
				}
			}
			return false, nil
		}
	}
	registerTest("none", kind("none"))
	registerTest("string", kind("string"))
	registerTest("number", kind("int", "float"))
	registerTest("integer", kind("int"))
	registerTest("float", kind("float"))
	registerTest("boolean", kind("bool"))
	registerTest("mapping", kind("dict"))
	registerTest("sequence", kind("list", "string", "dict"))
	registerTest("iterable", kind("list", "string", "dict"))
	registerTest("list", kind("list"))
	registerTest("true", func(in any, args []any, kw map[string]any) (bool, error) { return in == true, nil })
	registerTest("false", func(in any, args []any, kw map[string]any) (bool, error) { return in == false, nil })
	registerTest("truthy", func(in any, args []any, kw map[string]any) (bool, error) { return pongo2.Truthy(in), nil })
	registerTest("falsy", func(in any, args []any, kw map[string]any) (bool, error) { return !pongo2.Truthy(in), nil })
	registerTest("lower", func(in any, args []any, kw map[string]any) (bool, error) {
		return strings.ToLower(str(in)) == str(in), nil
	})
	registerTest("upper", func(in any, args []any, kw map[string]any) (bool, error) {
		return strings.ToUpper(str(in)) == str(in), nil
	})

	eq := func(in any, args []any, kw map[string]any) (bool, error) {
		if err := needArgs(args, 1, 1); err != nil {
			return false, err
		}
		return pongo2.Equal(in, args[0]), nil
	}
	for _, n := range []string{"equalto", "eq", "sameas"} {
		registerTest(n, eq)
	}
	registerTest("ne", func(in any, args []any, kw map[string]any) (bool, error) {
		ok, err := eq(in, args, kw)
		return !ok, err
	})
	registerTest("lt", compareTest(-1))
	registerTest("le", compareTest(-1, 0))
	registerTest("gt", compareTest(1))
	registerTest("ge", compareTest(1, 0))
	registerTest("in", func(in any, args []any, kw map[string]any) (bool, error) {
		if err := needArgs(args, 1, 1); err != nil {
			return false, err
		}
		return pongo2.Contains(args[0], in)
	})
	registerTest("contains", func(in any, args []any, kw map[string]any) (bool, error) {
		if err := needArgs(args, 1, 1); err != nil {
			return false, err
		}
		return pongo2.Contains(in, args[0])
	})
	registerTest("subset", func(in any, args []any, kw map[string]any) (bool, error) { return subset(in, args) })
	registerTest("superset", func(in any, args []any, kw map[string]any) (bool, error) {
		if err := needArgs(args, 1, 1); err != nil {
			return false, err
		}
		return subset(args[0], []any{in})
	})
	regexTest := func(mode string) testFunc {
		return func(in any, args []any, kw map[string]any) (bool, error) {
			if err := needArgs(args, 1, 1); err != nil {
				return false, err
			}
			pattern := str(args[0])
			if mode == "match" {
				pattern = `\A(?:` + pattern + `)`
			}
			re, err := compileRegex(pattern, kw)
			if err != nil {
				return false, err
			}
			return re.MatchString(str(in)), nil
		}
	}
	registerTest("match", regexTest("match"))
	registerTest("search", regexTest("search"))
	registerTest("regex", regexTest("search"))
	registerTest("version", versionTest)
	registerTest("version_compare", versionTest)
	registerTest("divisibleby", func(in any, args []any, kw map[string]any) (bool, error) {
		n, err := argInt(args, kw, 0, "num", 0)
		if err != nil || n == 0 {
			return false, fmt.Errorf("needs a non-zero integer: %v", err)
		}
		i, ok := toFloat(in)
		return ok && int(i)%n == 0, nil
	})
	registerTest("even", func(in any, args []any, kw map[string]any) (bool, error) {
		i, ok := toFloat(in)
		return ok && int(i)%2 == 0, nil
	})
	registerTest("odd", func(in any, args []any, kw map[string]any) (bool, error) {
		i, ok := toFloat(in)
		return ok && int(i)%2 != 0, nil
	})
	// Registered task results.
	registerTest("failed", resultTest("failed", true))
	registerTest("failure", resultTest("failed", true))
	registerTest("succeeded", resultTest("failed", false))
	registerTest("success", resultTest("failed", false))
	registerTest("successful", resultTest("failed", false))
	registerTest("changed", resultTest("changed", true))
	registerTest("change", resultTest("changed", true))
	registerTest("skipped", resultTest("skipped", true))
	registerTest("skip", resultTest("skipped", true))
}

func subset(in any, args []any) (bool, error) {
	if err := needArgs(args, 1, 1); err != nil {
		return false, err
	}
	a, err := list(in)
	if err != nil {
		return false, err
	}
	b, err := list(args[0])
	if err != nil {
		return false, err
	}
	for _, e := range a {
		if indexOf(b, e) < 0 {
			return false, nil
		}
	}
	return true, nil
}

// versionTest is `v is version('1.2.3', '>=')` (operators <, lt, <=, le, >,
// gt, >=, ge, ==, =, eq, !=, <>, ne; default ==), comparing dotted numeric
// parts numerically and other parts as text ("loose" versions).
func versionTest(in any, args []any, kw map[string]any) (bool, error) {
	if err := needArgs(args, 1, 3); err != nil {
		return false, err
	}
	op, err := argString(args, kw, 1, "operator", "==")
	if err != nil {
		return false, err
	}
	c := compareVersions(str(in), str(args[0]))
	switch op {
	case "<", "lt":
		return c < 0, nil
	case "<=", "le":
		return c <= 0, nil
	case ">", "gt":
		return c > 0, nil
	case ">=", "ge":
		return c >= 0, nil
	case "==", "=", "eq":
		return c == 0, nil
	case "!=", "<>", "ne":
		return c != 0, nil
	}
	return false, fmt.Errorf("unknown operator %q", op)
}

func compareVersions(a, b string) int {
	split := func(s string) []string {
		return strings.FieldsFunc(s, func(r rune) bool { return r == '.' || r == '-' || r == '+' || r == '_' })
	}
	pa, pb := split(a), split(b)
	for i := 0; i < max(len(pa), len(pb)); i++ {
		if i >= len(pa) {
			return -1
		}
		if i >= len(pb) {
			return 1
		}
		na, errA := strconv.Atoi(pa[i])
		nb, errB := strconv.Atoi(pb[i])
		switch {
		case errA == nil && errB == nil:
			if na != nb {
				if na < nb {
					return -1
				}
				return 1
			}
		case pa[i] != pb[i]:
			return strings.Compare(pa[i], pb[i])
		}
	}
	return 0
}
