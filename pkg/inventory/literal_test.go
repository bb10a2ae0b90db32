package inventory

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

// literalScript evaluates each input as Ansible's INI plugin does and
// normalises the result to what koala keeps (tuples and bytes to lists and
// strings; complex numbers and huge ints stay text).
const literalScript = `
import ast, json, sys
out = []
for s in json.load(sys.stdin):
    try:
        v = ast.literal_eval(s)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        out.append(s); continue
    def norm(v):
        if isinstance(v, bytes): return v.decode('utf-8')
        if isinstance(v, (tuple, list)): return [norm(x) for x in v]
        if isinstance(v, dict): return {(json.dumps(k) if not isinstance(k, str) else k): norm(x) for k, x in v.items()}
        if isinstance(v, (set, frozenset)): raise LookupError  # hash order: not compared
        if isinstance(v, complex): raise ValueError
        if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 2**63: raise ValueError
        if isinstance(v, float) and (v != v or v in (float('inf'), float('-inf'))): raise LookupError  # not JSON
        if not isinstance(v, (str, int, float, type(None))): raise LookupError  # e.g. Ellipsis
        return v
    try:
        out.append(norm(v))
    except (ValueError, UnicodeDecodeError):
        out.append(s)
    except LookupError:
        out.append({"__skip__": True})
print(json.dumps(out))
`

// literalInputs mixes hand-picked edge cases with random strings built from
// Python literal fragments.
func literalInputs() []string {
	in := []string{
		"0", "00", "007", "0_7", "1__0", "1_", "0x_1f", "0b102", "0o8", "1.", ".1", "1.e5", "1e", "1e+", "1_0.5_0",
		"1E-3", "-0.0", "+5", "- 5", "-(5)", "(-5)", "--5", "True", "true", "None", "none", "[]", "()", "{}", "(,)",
		"[1,]", "[,1]", "(1,2,)", "{'a':1,}", "{,}", "{1:2, 'x': [3]}", "{True: 1}", "{None: 2, 1.5: 3}", "'a' 'b'",
		`"a" 'b' "c"`, `'\x41\u00e9\101'`, `'\q'`, `r'\q'`, `rb'x'`, `Br"x"`, `u'x'`, `f'x'`, `'''a'b'''`, `"""x"""`,
		`'unterminated`, `'a'b`, "1 2", "[1 2]", "1 # c", "#", "  1", "1  ", "\t1", "x", "a.b", "1,", ",1", "1,,2",
		"{1}", "{1, 2,}", "[[[]]]", "((1))", "((1,))", "[(1, 2), {'k': (3,)}]", "1j", "1+2j", "0x1F", "0XaB",
		"9223372036854775807", "-9223372036854775808", "9223372036854775808", "1e400", "-(5)", "-(-5)", "-((5))", "-(5,)", "+(1.5)", "b'a' 'b'", "'\\n'", "'é'",
	}
	r := rand.New(rand.NewPCG(1, 2))
	frags := []string{"1", "-", "+", ".", "e", "0", "_", "x", "'", "\"", "[", "]", "(", ")", "{", "}", ",", ":", " ",
		"True", "None", "a", "\\", "#", "b", "j", "9", "'s'", "[1, 2]", "{'k': 1}"}
	for range 3000 {
		var b strings.Builder
		for range 1 + r.IntN(6) {
			b.WriteString(frags[r.IntN(len(frags))])
		}
		in = append(in, b.String())
	}
	return in
}

func TestLiteralEvalMatchesPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil || testing.Short() {
		t.Skip("python3 not available (or -short): skipping the literal_eval comparison")
	}
	inputs := literalInputs()
	data, _ := json.Marshal(inputs)
	cmd := exec.Command(py, "-c", literalScript)
	cmd.Stdin = bytes.NewReader(data)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3 failed: %v\n%s", err, stderr.String())
	}
	var want []any
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	bad := 0
	for i, s := range inputs {
		gotJSON, _ := json.Marshal(iniValue(s))
		var got any
		_ = json.Unmarshal(gotJSON, &got)
		if m, ok := want[i].(map[string]any); ok && m["__skip__"] == true {
			continue
		}
		if !reflect.DeepEqual(got, want[i]) {
			if bad++; bad <= 20 {
				t.Errorf("iniValue(%q) = %s, Python gives %v", s, gotJSON, want[i])
			}
		}
	}
	if bad > 20 {
		t.Errorf("... %d differences in all", bad)
	}
}
