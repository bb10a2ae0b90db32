package main

import (
	"strings"
	"testing"
)

// A trimmed `go test -json` run: a passing package with a skipped test and a
// skipped subtest, and a failing package whose failed subtest's output shows.
const run = `{"Action":"start","Package":"p/a"}
{"Action":"run","Package":"p/a","Test":"TestOK"}
{"Action":"output","Package":"p/a","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Action":"output","Package":"p/a","Test":"TestOK","Output":"    a_test.go:5: chatter of a passing test\n"}
{"Action":"output","Package":"p/a","Test":"TestOK","Output":"--- PASS: TestOK (0.00s)\n"}
{"Action":"pass","Package":"p/a","Test":"TestOK"}
{"Action":"output","Package":"p/a","Test":"TestDocker","Output":"=== RUN   TestDocker\n"}
{"Action":"output","Package":"p/a","Test":"TestDocker","Output":"    a_test.go:9: no docker engine\n"}
{"Action":"output","Package":"p/a","Test":"TestDocker","Output":"--- SKIP: TestDocker (0.00s)\n"}
{"Action":"skip","Package":"p/a","Test":"TestDocker"}
{"Action":"output","Package":"p/a","Test":"TestT/ssh","Output":"    a_test.go:12: no sshd\n"}
{"Action":"output","Package":"p/a","Test":"TestT/ssh","Output":"    --- SKIP: TestT/ssh (0.00s)\n"}
{"Action":"skip","Package":"p/a","Test":"TestT/ssh"}
{"Action":"output","Package":"p/a","Test":"TestT","Output":"--- PASS: TestT (0.00s)\n"}
{"Action":"pass","Package":"p/a","Test":"TestT"}
{"Action":"output","Package":"p/a","Output":"PASS\n"}
{"Action":"output","Package":"p/a","Output":"ok  \tp/a\t0.01s\n"}
{"Action":"pass","Package":"p/a"}
{"Action":"output","Package":"p/b","Test":"TestBad/x","Output":"    b_test.go:3: got 1, want 2\n"}
{"Action":"output","Package":"p/b","Test":"TestBad/x","Output":"    --- FAIL: TestBad/x (0.00s)\n"}
{"Action":"fail","Package":"p/b","Test":"TestBad/x"}
{"Action":"output","Package":"p/b","Test":"TestBad","Output":"--- FAIL: TestBad (0.00s)\n"}
{"Action":"fail","Package":"p/b","Test":"TestBad"}
{"Action":"output","Package":"p/b","Output":"FAIL\n"}
{"Action":"output","Package":"p/b","Output":"FAIL\tp/b\t0.02s\n"}
{"Action":"fail","Package":"p/b"}
`

func TestSummarise(t *testing.T) {
	var out strings.Builder
	ok, err := summarise(strings.NewReader(run), &out)
	if err != nil || ok {
		t.Fatalf("ok %v, err %v: a failed package must fail", ok, err)
	}
	want := "ok  \tp/a\t0.01s\n" +
		"    b_test.go:3: got 1, want 2\n    --- FAIL: TestBad/x (0.00s)\n--- FAIL: TestBad (0.00s)\n" +
		"FAIL\nFAIL\tp/b\t0.02s\n" +
		"\nskipped tests: 2\n" +
		"SKIP p/a TestDocker: a_test.go:9: no docker engine\n" +
		"SKIP p/a TestT/ssh: a_test.go:12: no sshd\n"
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestSummariseNoEvents(t *testing.T) {
	var out strings.Builder
	ok, err := summarise(strings.NewReader("go: unknown flag -x\n"), &out)
	if err != nil || ok || !strings.Contains(out.String(), "go: unknown flag -x") {
		t.Errorf("ok %v, err %v, out %q: no events must fail and pass the text on", ok, err, out.String())
	}
}

func TestSummariseBuildFailure(t *testing.T) {
	in := `{"ImportPath":"p/c","Action":"build-output","Output":"p/c/c.go:1: syntax error\n"}
{"ImportPath":"p/c","Action":"build-fail"}
{"Action":"output","Package":"p/c","Output":"FAIL\tp/c [build failed]\n"}
{"Action":"fail","Package":"p/c"}
`
	var out strings.Builder
	ok, _ := summarise(strings.NewReader(in), &out)
	if ok || !strings.Contains(out.String(), "syntax error") || !strings.Contains(out.String(), "FAIL\tp/c [build failed]") {
		t.Errorf("ok %v, out %q", ok, out.String())
	}
}

// A test binary killed mid-test (a timeout): the running test's output shows.
func TestSummariseUnfinishedTest(t *testing.T) {
	in := `{"Action":"output","Package":"p/d","Test":"TestHang","Output":"=== RUN   TestHang\n"}
{"Action":"output","Package":"p/d","Test":"TestHang","Output":"    d_test.go:7: waiting for the lab\n"}
{"Action":"output","Package":"p/d","Output":"panic: test timed out after 1s\n"}
{"Action":"output","Package":"p/d","Output":"FAIL\tp/d\t1.0s\n"}
{"Action":"fail","Package":"p/d"}
`
	var out strings.Builder
	ok, _ := summarise(strings.NewReader(in), &out)
	if ok || !strings.Contains(out.String(), "waiting for the lab") || !strings.Contains(out.String(), "timed out") {
		t.Errorf("ok %v, out %q", ok, out.String())
	}
}
