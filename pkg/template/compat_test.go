package template

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestKollaGlobalsParse checks that every template in kolla-ansible's own
// globals.yml (mostly commented-out defaults) parses in koala's dialect.
func TestKollaGlobalsParse(t *testing.T) {
	const path = "../../../shared/compat/kolla-ansible/globals.yml"
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		t.Skip("shared/compat is not beside the project")
	}
	if err != nil {
		t.Fatal(err)
	}
	quoted := regexp.MustCompile(`"([^"]*\{[{%][^"]*)"`)
	e := New()
	n := 0
	for i, line := range strings.Split(string(data), "\n") {
		for _, m := range quoted.FindAllStringSubmatch(line, -1) {
			n++
			if err := e.Check("globals.yml", m[1]); err != nil {
				t.Errorf("globals.yml:%d: %s: %v", i+1, m[1], err)
			}
		}
	}
	if n < 20 {
		t.Errorf("only %d templates found in %s", n, path)
	}
}
