package deploy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/koala-stack/koala/pkg/engine"
	"github.com/koala-stack/koala/pkg/playbook"
)

// Every lifecycle playbook of the embedded tree loads and validates: YAML,
// task keywords, module arguments, template syntax and referenced files are
// checked as they are before a real run touches any host.
func TestEmbeddedPlaybooksValidate(t *testing.T) {
	cache := t.TempDir()
	tree, err := extractAssets(cache)
	if err != nil {
		t.Fatal(err)
	}
	again, err := extractAssets(cache)
	if err != nil || again != tree {
		t.Fatalf("second extraction = %q, %v; want the same tree %q", again, err, tree)
	}
	pt, err := loadTree(tree)
	if err != nil {
		t.Fatal(err)
	}
	for name, a := range Actions {
		if _, err := pt.load(a.Playbook); err != nil {
			t.Errorf("%s (%s):\n%v", name, a.Playbook, err)
		}
	}
}

// Every role a lifecycle playbook applies, whose main.yml dispatches on
// kolla_action, has the tasks file of each action that runs it: a missing
// tasks/<action>.yml would only fail on a host, mid-run.
func TestEveryRoleHasItsActionTasks(t *testing.T) {
	tree, err := extractAssets(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pt, err := loadTree(tree)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for name, a := range Actions {
		if a.KollaAction == "" {
			continue
		}
		pb, err := pt.load(a.Playbook)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, play := range pb.Plays {
			for _, r := range rolesApplied(play) {
				main := r.Tasks["main.yml"]
				if main[0].Action != "include_tasks" || !strings.Contains(fmt.Sprint(main[0].Args), "kolla_action") {
					continue
				}
				checked++
				if _, ok := r.Tasks[a.KollaAction+".yml"]; !ok {
					t.Errorf("koala %s: role %s has no tasks/%s.yml (play %q, %s)", name, r.Name, a.KollaAction, play.Name, a.Playbook)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no role dispatching on kolla_action was found: the test checks nothing")
	}
}

// rolesApplied are the roles a play runs through `roles:` (their main.yml):
// the loader expands each into a block of main.yml's tasks.
func rolesApplied(play *playbook.Play) []*playbook.Role {
	var out []*playbook.Role
	for _, t := range play.Tasks {
		if !t.IsBlock || len(t.Block) == 0 || t.Block[0].Role == nil {
			continue
		}
		r := t.Block[0].Role
		if main := r.Tasks["main.yml"]; len(main) > 0 && main[0].Pos == t.Block[0].Pos {
			out = append(out, r)
		}
	}
	return out
}

// A destructive command is refused without the confirmation flag, before the
// config directory is read or any host touched, saying what would be lost and
// where; --limit narrows the hosts named, and a limit matching no host is an
// error of its own.
func TestDestructiveCommandsNeedConfirmation(t *testing.T) {
	dir := t.TempDir()
	inv := filepath.Join(dir, "multinode")
	// Unroutable addresses: a run that went past the refusal would hang, not pass.
	if err := os.WriteFile(inv, []byte("[control]\nnode1 ansible_host=192.0.2.1\nnode2 ansible_host=192.0.2.2\n[baremetal:children]\ncontrol\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missingConf := filepath.Join(dir, "no-such-config")
	for _, tc := range []struct {
		action, limit string
		want          []string
		notWant       string
	}{
		{"destroy", "", []string{"refused without --yes-i-really-really-mean-it", "on node1, node2", "ALL DATA", "--include-images"}, ""},
		{"destroy", "node2", []string{"on node2 it removes"}, "node1"},
		{"stop", "", []string{"refused without --yes-i-really-really-mean-it", "on node1, node2", "nothing is deleted"}, ""},
		{"stop", "node9", []string{`--limit "node9" matches no host`}, "refused"},
		{"prune-images", "", []string{"refused without --yes-i-really-really-mean-it", "on node1, node2", "no tag names"}, ""},
		{"check", "nodes", []string{`--limit "nodes" matches no host`, `did you mean`}, ""},
	} {
		_, err := Run(context.Background(), Actions[tc.action], Options{Inventories: []string{inv}, ConfigDir: missingConf, Limit: tc.limit, CacheDir: t.TempDir()})
		if err == nil {
			t.Fatalf("%s --limit %q: no error", tc.action, tc.limit)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s --limit %q: %v\nwant it to say %q", tc.action, tc.limit, err, w)
			}
		}
		if tc.notWant != "" && strings.Contains(err.Error(), tc.notWant) {
			t.Errorf("%s --limit %q: %v\nshould not mention %q", tc.action, tc.limit, err, tc.notWant)
		}
	}
	// Confirmed, the command goes on to read the config directory (and stops
	// there, as it does not exist).
	_, err := Run(context.Background(), Actions["destroy"], Options{Inventories: []string{inv}, ConfigDir: missingConf, Confirmed: true, CacheDir: t.TempDir()})
	if err == nil || strings.Contains(err.Error(), "refused") || !strings.Contains(err.Error(), "no-such-config") {
		t.Fatalf("confirmed destroy: %v; want the missing config directory reported", err)
	}
}

// `koala prechecks` reports the passwords and groups the enabled services of
// site.yml need (derived by koala, not listed in the prechecks role) with
// what it finds on the hosts, in the one failure of its last task. The hosts
// are this machine (local connection): whatever else they lack, the config
// problems must be named, and none when the config is complete.
func TestPrechecksReportsTheServicesNeeds(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("prechecks become root: run as root")
	}
	for _, tc := range []struct {
		name    string
		pw      map[string]string
		inv     string
		want    []string
		notWant string
	}{
		{"complete", goodPasswords, fullInventory, nil, "passwords.yml"},
		{"missing password and group", map[string]string{"database_password": "d"},
			strings.Replace(fullInventory, "[memcached:children]\ncontrol\n", "", 1),
			[]string{"keystone_admin_password is missing", `group "memcached" is missing`}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			inv := strings.NewReplacer("n1\n", "n1 ansible_connection=local\n", "n2\n", "n2 ansible_connection=local\n").Replace(tc.inv)
			var pw strings.Builder
			for k, v := range tc.pw {
				pw.WriteString(k + ": \"" + v + "\"\n")
			}
			for name, text := range map[string]string{"multinode": inv, "globals.yml": goodGlobals, "passwords.yml": pw.String()} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			var msgs []string
			sink := engine.SinkFunc(func(e engine.Event) {
				if r, ok := e.(*engine.HostResult); ok && r.Status == engine.StatusFailed {
					msgs = append(msgs, r.Msg)
				}
			})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			if _, err := Run(ctx, Actions["prechecks"], Options{Inventories: []string{filepath.Join(dir, "multinode")}, ConfigDir: dir, CacheDir: t.TempDir(), Sinks: []engine.Sink{sink}}); err != nil {
				t.Fatalf("prechecks did not run: %v", err)
			}
			all := strings.Join(msgs, "\n")
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("the failures do not say %q:\n%s", w, all)
				}
			}
			if tc.notWant != "" && strings.Contains(all, tc.notWant) {
				t.Errorf("the failures mention %q:\n%s", tc.notWant, all)
			}
		})
	}
}
