// Command testsummary reads `go test -json` on stdin and prints what plain
// `go test` prints (each package's ok/FAIL line, the output of failed tests,
// build errors), then a summary of the tests that skipped and why, so that a
// test skipping in CI is seen. It exits 1 when a package or build failed, or
// when no test event arrived at all (go test itself could not run).
//
//	go test -json ./... | go run ./internal/testsummary
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

func main() {
	ok, err := summarise(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action     string
	Package    string
	ImportPath string // build-output and build-fail events
	Test       string
	Output     string
}

// skip is one skipped test and the lines it logged.
type skip struct {
	pkg, test string
	why       []string
}

// summarise copies r's events to w as described in the package comment and
// reports whether every package passed.
func summarise(r io.Reader, w io.Writer) (bool, error) {
	// Output of each running top-level test (its subtests' included), printed
	// only when it fails; and of each test, for the reason of a skip.
	tree := map[string][]string{}
	own := map[string][]string{}
	var skips []skip
	seen, ok := false, true
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
			// Not an event (go vet's or the linker's own words): pass it on.
			fmt.Fprintf(w, "%s\n", line)
			continue
		}
		seen = true
		top, _, _ := strings.Cut(e.Test, "/")
		key, topKey := e.Package+" "+e.Test, e.Package+" "+top
		switch {
		case e.Action == "build-output":
			io.WriteString(w, e.Output)
		case e.Action == "build-fail":
			ok = false
		case e.Test == "" && e.Action == "output":
			if e.Output != "PASS\n" {
				io.WriteString(w, e.Output)
			}
		case e.Test == "" && e.Action == "fail":
			ok = false
			// Tests that never ended (a panic or timeout killed the test
			// binary): their output is what says why.
			var open []string
			for k := range tree {
				if strings.HasPrefix(k, e.Package+" ") {
					open = append(open, k)
				}
			}
			sort.Strings(open)
			for _, k := range open {
				fmt.Fprintf(w, "(%s did not end)\n", k)
				for _, l := range tree[k] {
					io.WriteString(w, l)
				}
				delete(tree, k)
			}
		case e.Action == "output":
			if strings.HasPrefix(e.Output, "=== ") {
				continue // RUN, PAUSE, CONT, NAME: -v's markers
			}
			tree[topKey] = append(tree[topKey], e.Output)
			own[key] = append(own[key], e.Output)
		case e.Action == "skip" && e.Test != "":
			var why []string
			for _, l := range own[key] {
				if !strings.HasPrefix(strings.TrimSpace(l), "--- SKIP") {
					why = append(why, strings.TrimSpace(l))
				}
			}
			skips = append(skips, skip{pkg: e.Package, test: e.Test, why: why})
			fallthrough
		case e.Action == "pass" || e.Action == "fail":
			if e.Test == top {
				if e.Action == "fail" {
					for _, l := range tree[topKey] {
						io.WriteString(w, l)
					}
				}
				for k := range own {
					if k == topKey || strings.HasPrefix(k, topKey+"/") {
						delete(own, k)
					}
				}
				delete(tree, topKey)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("reading go test -json: %w", err)
	}
	if !seen {
		fmt.Fprintln(w, "testsummary: no test events: go test did not run")
		return false, nil
	}
	fmt.Fprintf(w, "\nskipped tests: %d\n", len(skips))
	for _, s := range skips {
		why := "(no reason given)"
		if len(s.why) > 0 {
			why = strings.Join(s.why, " / ")
		}
		fmt.Fprintf(w, "SKIP %s %s: %s\n", s.pkg, s.test, why)
	}
	return ok, nil
}
