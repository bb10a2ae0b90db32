package inventory

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// These tests hold koala's inventory to Ansible's own output on the same
// files. They are skipped where Ansible is not installed (or with -short).
//
// Starting Python for every comparison is slow, so one Python process runs
// them all through ansible-inventory's own code (testdata/ansible_batch.py
// drives InventoryCLI's methods), and TestCLIMatchesBatch checks once that the
// real ansible-inventory command prints the same.

//go:embed testdata/ansible_batch.py
var ansibleBatchScript string

// multinode is kolla-ansible's sample inventory, as operators have it.
const multinode = "../../inventory/multinode"

// referenceSources lists the inventories compared with Ansible: kolla-ansible's
// two samples (unchanged, as operators have them) and tricky ones of our own.
func referenceSources() [][]string {
	return [][]string{
		{multinode},
		{"../../inventory/all-in-one"},
		{"testdata/tricky.ini"},
		{"testdata/priority.ini"},
		{"testdata/inventory.yml"},
		{"testdata/dirinv"},
		{"testdata/dirinv", "testdata/inventory.yml", "testdata/priority.ini"},
		{"testdata/dirinv", "testdata/second/hosts"},
	}
}

func needAnsible(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping the comparison with Ansible")
	}
	p, err := exec.LookPath("ansible-inventory")
	if err != nil {
		t.Skip("ansible-inventory is not installed: skipping the comparison with Ansible")
	}
	return p
}

// ansibleEnv runs Ansible with an empty config so local ansible.cfg files do
// not change the defaults we compare against.
func ansibleEnv(t *testing.T) (dir string, env []string) {
	dir = t.TempDir()
	cfg := filepath.Join(dir, "ansible.cfg")
	if err := os.WriteFile(cfg, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, append(os.Environ(), "ANSIBLE_CONFIG="+cfg, "ANSIBLE_NOCOLOR=1")
}

func absSources(t *testing.T, srcs []string) []string {
	out := make([]string, len(srcs))
	for i, s := range srcs {
		a, err := filepath.Abs(s)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = a
	}
	return out
}

// pythonOf returns the interpreter in ansible-inventory's #! line, which can
// import the ansible package.
func pythonOf(t *testing.T, script string) string {
	f, err := os.Open(script)
	if err != nil {
		t.Skipf("cannot read %s: %v", script, err)
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	fields := strings.Fields(strings.TrimPrefix(line, "#!"))
	if len(fields) == 0 {
		t.Skipf("%s has no #! line", script)
	}
	if filepath.Base(fields[0]) == "env" && len(fields) > 1 {
		return fields[1]
	}
	return fields[0]
}

type ansibleJob struct {
	Sources  []string `json:"sources"`
	Action   string   `json:"action"` // list, yaml, graph, graph_vars, host, patterns
	Arg      string   `json:"arg,omitempty"`
	Patterns []string `json:"patterns,omitempty"`

	check func(t *testing.T, inv *Inventory, out json.RawMessage)
}

type ansibleResult struct {
	Out   json.RawMessage `json:"out"`
	Error string          `json:"error"`
}

func TestMatchesAnsible(t *testing.T) {
	bin := needAnsible(t)
	var jobs []ansibleJob
	for _, srcs := range referenceSources() {
		jobs = append(jobs, ansibleJob{Sources: srcs, Action: "list", check: checkList})
	}
	// --graph --vars only on inventories without dict values or tuples: Python
	// prints those in insertion order and as (1, 2) (see docs/inventory.md).
	jobs = append(jobs, ansibleJob{Sources: []string{multinode}, Action: "graph", check: checkGraph(false)})
	jobs = append(jobs,
		ansibleJob{Sources: []string{"testdata/dirinv"}, Action: "graph_vars", check: checkGraph(true)},
		ansibleJob{Sources: []string{"testdata/tricky.ini"}, Action: "host", Arg: "db1", check: checkHost("db1")},
		ansibleJob{Sources: []string{"testdata/inventory.yml"}, Action: "host", Arg: "cmp-a", check: checkHost("cmp-a")},
		ansibleJob{Sources: []string{"testdata/tricky.ini"}, Action: "yaml", check: checkYAML},
		ansibleJob{Sources: []string{"testdata/inventory.yml"}, Action: "yaml", check: checkYAML},
		ansibleJob{Sources: []string{"testdata/tricky.ini"}, Action: "patterns", check: checkPatterns, Patterns: []string{
			"all", "*", "web", "web*", "~web0[12]", "~.*example", "web:db", "web,db", "web:&db", "web:!db", "app:!web",
			"!web", "&db", "web[0]", "web[1:2]", "web[-1]", "web[3:]", "db[0:0]", "db[5]", "app[2:4]", "nosuch",
			"localhost", "web0?", "*.example.com", "web[01:02]", "lonely", "ungrouped", "db1,web01,db1", "10.0.0.*",
			"2001:db8::1", "web[a:b].example.com", "w*:&app:!db5", "cache01:db", "[wd]*", "db*", "~db"}},
		ansibleJob{Sources: []string{"testdata/inventory.yml"}, Action: "patterns", check: checkPatterns, Patterns: []string{
			"all", "openstack", "compute", "ctl*", "gpu:control", "~cmp", "openstack:!gpu", "compute[1:]"}},
	)
	jobs = append(jobs, ansibleJob{Sources: []string{multinode}, Action: "patterns", check: checkPatterns, Patterns: []string{
		"all", "baremetal", "nova*", "~neutron-.*agent", "control:&network", "compute[0]", "loadbalancer",
		"mariadb[0]", "deployment", "localhost", "*:!baremetal"}})
	names := make([]string, len(jobs))
	for i := range jobs {
		names[i] = strings.TrimSpace(job2name(jobs[i]))
		jobs[i].Sources = absSources(t, jobs[i].Sources)
	}
	in, _ := json.Marshal(jobs)
	dir, env := ansibleEnv(t)
	cmd := exec.Command(pythonOf(t, bin), "-c", ansibleBatchScript)
	cmd.Dir, cmd.Env, cmd.Stdin = dir, env, bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("cannot run Ansible's inventory code: %v\n%s", err, stderr.String())
	}
	var results []ansibleResult
	if err := json.Unmarshal(out, &results); err != nil || len(results) != len(jobs) {
		t.Fatalf("batch output (%d results for %d jobs): %v\n%s", len(results), len(jobs), err, out)
	}
	for i, job := range jobs {
		t.Run(names[i], func(t *testing.T) {
			if results[i].Error != "" {
				t.Fatalf("Ansible failed: %s", results[i].Error)
			}
			job.check(t, mustLoad(t, job.Sources...), results[i].Out)
		})
	}
}

func job2name(j ansibleJob) string {
	var srcs []string
	for _, s := range j.Sources {
		srcs = append(srcs, filepath.Base(s))
	}
	return j.Action + " " + j.Arg + " " + strings.Join(srcs, "+")
}

// text decodes a JSON string result (the printed output).
func text(t *testing.T, out json.RawMessage) string {
	var s string
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatalf("expected printed output, got %s", out)
	}
	return s
}

func jsonEqual(t *testing.T, what string, want string, got []byte) {
	var w, g any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("Ansible output: %v", err)
	}
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s is not JSON: %v", what, err)
	}
	if !reflect.DeepEqual(w, g) {
		t.Errorf("%s differs from Ansible\nansible: %s\nkoala:   %s", what, want, got)
	}
}

func checkList(t *testing.T, inv *Inventory, out json.RawMessage) {
	got, err := inv.ListJSON()
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, "ListJSON", text(t, out), got)
}

func checkHost(host string) func(*testing.T, *Inventory, json.RawMessage) {
	return func(t *testing.T, inv *Inventory, out json.RawMessage) {
		got, err := inv.HostJSON(host)
		if err != nil {
			t.Fatal(err)
		}
		jsonEqual(t, "HostJSON", text(t, out), got)
	}
}

func checkGraph(withVars bool) func(*testing.T, *Inventory, json.RawMessage) {
	return func(t *testing.T, inv *Inventory, out json.RawMessage) {
		if want, got := text(t, out), inv.Graph(withVars); got != want {
			t.Errorf("Graph(%v) differs from Ansible\nansible:\n%s\nkoala:\n%s", withVars, want, got)
		}
	}
}

func checkYAML(t *testing.T, inv *Inventory, out json.RawMessage) {
	decode := func(name string, data []byte) any {
		root, d, err := parseYAMLFile(name, data)
		if err != nil {
			t.Fatal(err)
		}
		v, err := d.value(root)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	want := text(t, out)
	got, err := inv.ListYAML()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(decode("ansible", []byte(want)), decode("koala", got)) {
		t.Errorf("ListYAML differs from Ansible\nansible:\n%s\nkoala:\n%s", want, got)
	}
}

// checkPatterns compares host sets; order is compared by the unit tests, as
// Ansible walks groups deeper than one level through a Python set and its
// order there changes from run to run.
func checkPatterns(t *testing.T, inv *Inventory, out json.RawMessage) {
	var want map[string][]string
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	for p, w := range want {
		got, err := inv.Match(p)
		switch {
		case w == nil && err == nil:
			t.Errorf("Match(%q) = %v, Ansible fails on it", p, got)
		case w != nil && err != nil:
			t.Errorf("Match(%q): %v; Ansible gives %v", p, err, w)
		case w != nil && !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(w))):
			t.Errorf("Match(%q) = %v\nAnsible gives %v", p, got, w)
		}
	}
}

// TestCLIMatchesBatch checks that the real ansible-inventory command prints,
// byte for byte, what koala prints, so the batch harness compares against the
// right thing.
func TestCLIMatchesBatch(t *testing.T) {
	bin := needAnsible(t)
	src := absSources(t, []string{multinode})[0]
	dir, env := ansibleEnv(t)
	cmd := exec.Command(bin, "-i", src, "--list")
	cmd.Dir, cmd.Env = dir, env
	want, err := cmd.Output()
	if err != nil {
		t.Fatalf("ansible-inventory --list: %v", err)
	}
	got, err := mustLoad(t, src).ListJSON()
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != string(got)+"\n" {
		t.Errorf("ansible-inventory -i %s --list differs from ListJSON\nansible:\n%s\nkoala:\n%s", src, want, got)
	}
}
