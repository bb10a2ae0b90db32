package inventory

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// These tests hold koala's inventory to ansible-inventory's own output on the
// same files. They are skipped where Ansible is not installed.

const compatDir = "../../../shared/compat/kolla-ansible"

// referenceSources lists the inventories compared with Ansible: kolla-ansible's
// two samples (unchanged, as operators have them) and tricky ones of our own.
func referenceSources(t *testing.T) [][]string {
	var out [][]string
	for _, name := range []string{"multinode", "all-in-one"} {
		p := filepath.Join(compatDir, name)
		if _, err := os.Stat(p); err != nil {
			p = filepath.Join("/work/shared/compat/kolla-ansible", name)
		}
		if _, err := os.Stat(p); err != nil {
			t.Logf("compat inventory %s not found: not compared", name)
			continue
		}
		out = append(out, []string{p})
	}
	return append(out,
		[]string{"testdata/tricky.ini"},
		[]string{"testdata/priority.ini"},
		[]string{"testdata/inventory.yml"},
		[]string{"testdata/dirinv"},
		[]string{"testdata/dirinv", "testdata/inventory.yml", "testdata/priority.ini"},
	)
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

func runAnsibleInventory(t *testing.T, srcs []string, args ...string) []byte {
	t.Helper()
	bin := needAnsible(t)
	dir, env := ansibleEnv(t)
	var cmdArgs []string
	for _, s := range absSources(t, srcs) {
		cmdArgs = append(cmdArgs, "-i", s)
	}
	cmd := exec.Command(bin, append(cmdArgs, args...)...)
	cmd.Dir, cmd.Env = dir, env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ansible-inventory %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

func TestListMatchesAnsible(t *testing.T) {
	needAnsible(t)
	for _, srcs := range referenceSources(t) {
		t.Run(strings.Join(srcs, "+"), func(t *testing.T) {
			t.Parallel()
			want := runAnsibleInventory(t, srcs, "--list")
			inv := mustLoad(t, absSources(t, srcs)...)
			got, err := inv.ListJSON()
			if err != nil {
				t.Fatal(err)
			}
			var w, g any
			if err := json.Unmarshal(want, &w); err != nil {
				t.Fatalf("ansible output: %v", err)
			}
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatalf("ListJSON output is not JSON: %v", err)
			}
			if !reflect.DeepEqual(w, g) {
				t.Errorf("ListJSON differs from ansible-inventory --list\nansible: %s\nkoala:   %s", want, got)
			}
		})
	}
}

// TestGraphMatchesAnsible compares --graph text on kolla-ansible's multinode
// and --graph --vars on an inventory without dict values or tuples (Python
// prints those in insertion order and as (1, 2), which koala does not
// reproduce: see docs/inventory.md).
func TestGraphMatchesAnsible(t *testing.T) {
	needAnsible(t)
	for _, srcs := range referenceSources(t) {
		withVars := srcs[0] == "testdata/dirinv" && len(srcs) == 1
		if !withVars && !strings.HasSuffix(srcs[0], "multinode") {
			continue
		}
		t.Run(strings.Join(srcs, "+"), func(t *testing.T) {
			t.Parallel()
			args := []string{"--graph"}
			if withVars {
				args = append(args, "--vars")
			}
			want := strings.TrimRight(string(runAnsibleInventory(t, srcs, args...)), "\n")
			got := mustLoad(t, absSources(t, srcs)...).Graph(withVars)
			if got != want {
				t.Errorf("Graph differs from ansible-inventory %v\nansible:\n%s\nkoala:\n%s", args, want, got)
			}
		})
	}
}

func TestHostMatchesAnsible(t *testing.T) {
	needAnsible(t)
	for _, c := range []struct {
		src, host string
	}{{"testdata/tricky.ini", "db1"}, {"testdata/inventory.yml", "cmp-a"}} {
		t.Run(c.src+"/"+c.host, func(t *testing.T) {
			t.Parallel()
			var w, g any
			if err := json.Unmarshal(runAnsibleInventory(t, []string{c.src}, "--host", c.host), &w); err != nil {
				t.Fatal(err)
			}
			got, err := mustLoad(t, absSources(t, []string{c.src})...).HostJSON(c.host)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(w, g) {
				t.Errorf("HostJSON(%s) = %s\nansible: %v", c.host, got, w)
			}
		})
	}
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

const patternScript = `
import json, sys
from ansible.parsing.dataloader import DataLoader
from ansible.inventory.manager import InventoryManager
inv = InventoryManager(loader=DataLoader(), sources=sys.argv[1:])
out = {}
for p in json.load(sys.stdin):
    try:
        out[p] = [h.name for h in inv.get_hosts(p)]
    except Exception:
        out[p] = None
print(json.dumps(out))
`

// TestMatchMatchesAnsible evaluates host patterns with Ansible's own
// InventoryManager. Host sets must be equal; order is compared where Ansible's
// is deterministic (it walks groups deeper than one level through a Python
// set, so its order there changes from run to run).
func TestMatchMatchesAnsible(t *testing.T) {
	bin := needAnsible(t)
	py := pythonOf(t, bin)
	cases := []struct {
		src      string
		patterns []string
	}{
		{"testdata/tricky.ini", []string{"all", "*", "web", "web*", "~web0[12]", "~.*example", "web:db", "web,db", "web:&db",
			"web:!db", "app:!web", "!web", "&db", "web[0]", "web[1:2]", "web[-1]", "web[3:]", "db[0:0]", "db[5]",
			"app[2:4]", "nosuch", "localhost", "web0?", "*.example.com", "web[01:02]", "lonely", "ungrouped",
			"db1,web01,db1", "10.0.0.*", "2001:db8::1", "web[a:b].example.com", "w*:&app:!db5", "cache01:db", "[wd]*"}},
		{"testdata/inventory.yml", []string{"all", "openstack", "compute", "ctl*", "gpu:control", "~cmp", "openstack:!gpu", "compute[1:]"}},
		{compatDir + "/multinode", []string{"all", "baremetal", "nova*", "~neutron-.*agent", "control:&network", "compute[0]",
			"loadbalancer", "mariadb[0]", "deployment", "localhost", "*:!baremetal"}},
	}
	for _, c := range cases {
		if _, err := os.Stat(c.src); err != nil {
			t.Logf("%s not found: not compared", c.src)
			continue
		}
		t.Run(c.src, func(t *testing.T) {
			t.Parallel()
			dir, env := ansibleEnv(t)
			src := absSources(t, []string{c.src})[0]
			in, _ := json.Marshal(c.patterns)
			cmd := exec.Command(py, "-c", patternScript, src)
			cmd.Dir, cmd.Env, cmd.Stdin = dir, env, bytes.NewReader(in)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Skipf("cannot run Ansible's InventoryManager with %s: %v\n%s", py, err, stderr.String())
			}
			var want map[string][]string
			if err := json.Unmarshal(out, &want); err != nil {
				t.Fatalf("pattern script output: %v\n%s", err, out)
			}
			inv := mustLoad(t, src)
			for _, p := range c.patterns {
				got, err := inv.Match(p)
				w, ok := want[p]
				if w == nil && ok {
					if err == nil {
						t.Errorf("Match(%q) = %v, Ansible fails on it", p, got)
					}
					continue
				}
				if err != nil {
					t.Errorf("Match(%q): %v; Ansible gives %v", p, err, w)
					continue
				}
				if w == nil {
					w = []string{}
				}
				gs, ws := slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(w))
				if !slices.Equal(gs, ws) {
					t.Errorf("Match(%q) = %v\nAnsible gives %v", p, got, w)
				}
			}
		})
	}
}

func TestListYAMLMatchesAnsible(t *testing.T) {
	needAnsible(t)
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
	for _, src := range []string{"testdata/tricky.ini", "testdata/inventory.yml"} {
		t.Run(src, func(t *testing.T) {
			t.Parallel()
			want := runAnsibleInventory(t, []string{src}, "--list", "--yaml")
			got, err := mustLoad(t, absSources(t, []string{src})...).ListYAML()
			if err != nil {
				t.Fatal(err)
			}
			if w, g := decode("ansible", want), decode("koala", got); !reflect.DeepEqual(w, g) {
				t.Errorf("ListYAML differs from ansible-inventory --list --yaml\nansible:\n%s\nkoala:\n%s", want, got)
			}
		})
	}
}
