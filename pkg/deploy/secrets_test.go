package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	koala "github.com/koala-stack/koala"
	"github.com/koala-stack/koala/pkg/playbook"
)

// No task of the embedded roles puts a password in a process's arguments on
// a host or in a container's labels, command or healthcheck (which `docker
// inspect` and `ps` show): command, shell, raw and script tasks, and
// kolla_container's command, labels and healthcheck, may not name a
// passwords.yml key, directly or through the defaults and group_vars they
// refer to. Passwords go through the environment, stdin, files or the
// modules' own connections.
func TestNoPasswordInProcessArgumentsOrLabels(t *testing.T) {
	tree, err := extractAssets(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range passwordLeaks(t, tree) {
		t.Error(p)
	}
}

// The audit finds a password passed on a command line through a default.
func TestPasswordLeakAuditFindsALeak(t *testing.T) {
	tree, err := extractAssets(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	bad := t.TempDir()
	if err := os.CopyFS(bad, os.DirFS(tree)); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(bad, "roles", "memcached", "tasks", "deploy.yml")
	old, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	leak := "\n- name: Leaking\n  command: docker exec mariadb mysql -uroot -p{{ memcached_db_login }}\n"
	os.WriteFile(f, append(old, leak...), 0o644)
	d := filepath.Join(bad, "roles", "memcached", "defaults", "main.yml")
	old, _ = os.ReadFile(d)
	os.WriteFile(d, append(old, "\nmemcached_db_login: \"{{ database_password }}\"\n"...), 0o644)
	got := passwordLeaks(t, bad)
	if len(got) != 1 || !strings.Contains(got[0], "deploy.yml") || !strings.Contains(got[0], "command names database_password") {
		t.Fatalf("want the one leak reported, got %q", got)
	}
}

// passwordLeaks lists every task and service of the tree that puts a
// password where a process's arguments or a container's inspect show it.
func passwordLeaks(t *testing.T, tree string) []string {
	t.Helper()
	var tmpl map[string]any
	if err := yaml.Unmarshal(koala.PasswordsTemplate, &tmpl); err != nil {
		t.Fatal(err)
	}
	pt, err := loadTree(tree)
	if err != nil {
		t.Fatal(err)
	}
	roles := map[*playbook.Role]bool{}
	defs := map[string]any{}
	gvs, err := filepath.Glob(filepath.Join(tree, "playbook", "group_vars", "all", "*.yml"))
	if err != nil || len(gvs) == 0 {
		t.Fatalf("no group_vars/all/*.yml in %s: %v", tree, err)
	}
	for _, f := range gvs {
		gv, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(gv, &defs); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	var tasks []*playbook.Task
	var walk func(ts []*playbook.Task)
	walk = func(ts []*playbook.Task) {
		for _, x := range ts {
			tasks = append(tasks, x)
			for _, r := range []*playbook.Role{x.Role, x.IncludedRole} {
				if r != nil && !roles[r] {
					roles[r] = true
					for _, f := range r.Tasks {
						walk(f)
					}
					walk(r.Handlers)
				}
			}
			walk(x.Block)
			walk(x.Rescue)
			walk(x.Always)
			walk(x.Included)
		}
	}
	for name, a := range Actions {
		pb, err := pt.load(a.Playbook)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, p := range pb.Plays {
			walk(p.PreTasks)
			walk(p.Tasks)
			walk(p.PostTasks)
			walk(p.Handlers)
			for _, r := range p.Roles {
				if !roles[r] {
					roles[r] = true
					for _, f := range r.Tasks {
						walk(f)
					}
				}
			}
		}
	}
	for r := range roles {
		for k, v := range r.Defaults {
			defs[k] = v
		}
	}
	passwordsIn := func(v any) []string {
		b, _ := yaml.Marshal(v)
		var out []string
		for id := range reach(string(b), defs) {
			if _, ok := tmpl[id]; ok {
				out = append(out, id)
			}
		}
		sort.Strings(out)
		return out
	}
	var problems []string
	seen := map[string]bool{}
	report := func(where, what string, v any) {
		if pw := passwordsIn(v); len(pw) > 0 && !seen[where+what] {
			seen[where+what] = true
			problems = append(problems, fmt.Sprintf("%s: %s names %s", where, what, strings.Join(pw, ", ")))
		}
	}
	for _, x := range tasks {
		switch x.Action {
		case "command", "shell", "raw", "script":
			args := map[string]any{}
			for k, v := range x.Args {
				if k != "stdin" { // stdin is not an argument
					args[k] = v
				}
			}
			report(x.Pos.String(), x.Action, args)
		case "kolla_container", "kolla_docker":
			for _, k := range []string{"command", "labels", "healthcheck"} {
				report(x.Pos.String(), "kolla_container "+k, x.Args[k])
			}
		}
	}
	for r := range roles {
		for k, v := range r.Defaults {
			services, ok := v.(map[string]any)
			if !strings.HasSuffix(k, "_services") || !ok {
				continue
			}
			for name, sv := range services {
				svc, _ := sv.(map[string]any)
				for _, f := range []string{"command", "labels", "healthcheck"} {
					report(fmt.Sprintf("role %s %s.%s", r.Name, k, name), f, svc[f])
				}
			}
		}
	}
	if len(tasks) < 50 {
		t.Fatalf("only %d tasks walked: the walk misses roles", len(tasks))
	}
	sort.Strings(problems)
	return problems
}
