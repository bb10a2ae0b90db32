package plays

import (
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"gopkg.in/yaml.v3"
)

// tree is a synthetic role tree: role name -> meta/main.yml; every role gets
// the task files tasks lists (main, plus its own).
func tree(metas map[string]string, tasks map[string][]string) fstest.MapFS {
	m := fstest.MapFS{}
	for role, meta := range metas {
		if meta != "" {
			m[role+"/meta/main.yml"] = &fstest.MapFile{Data: []byte(meta)}
		}
		m[role+"/tasks/main.yml"] = &fstest.MapFile{Data: []byte("- include_tasks: \"{{ kolla_action }}.yml\"\n")}
		for _, t := range tasks[role] {
			m[role+"/tasks/"+t+".yml"] = &fstest.MapFile{Data: []byte("- meta: noop\n")}
		}
	}
	// A generic role: no koala: block, not a service.
	m["service-config/tasks/main.yml"] = &fstest.MapFile{Data: []byte("- meta: noop\n")}
	return m
}

var base = map[string]string{
	"loadbalancer": "koala:\n  group: loadbalancer\n  collects: loadbalancer\n  ports:\n    - {port: \"{{ haproxy_stats_port }}\", container: haproxy}\n",
	"mariadb":      "koala:\n  group: mariadb\n  after: [loadbalancer]\n  plays:\n    site:\n      - {}\n      - {tasks_from: start, serial: 1, when: \"kolla_action == 'deploy'\"}\n    stop:\n      - {serial: 1}\n",
	"keystone":     "koala:\n  group: keystone\n  after: [mariadb]\n  replace: rolling\n  ports:\n    - {port: \"{{ keystone_public_listen_port }}\"}\n",
	"service-xx":   "",
}

var baseTasks = map[string][]string{
	"loadbalancer": {"loadbalancer", "config", "check-containers", "pull"},
	"mariadb":      {"start", "loadbalancer", "config", "check-containers", "pull"},
	"keystone":     {"rolling_replace", "upgrade", "upgrade_finish", "loadbalancer", "pull"},
}

// generated loads the tree and parses each generated playbook back.
func generated(t *testing.T, fsys fs.FS) ([]*Meta, map[string][]map[string]any) {
	t.Helper()
	metas, err := Load(fsys, "roles")
	if err != nil {
		t.Fatal(err)
	}
	files, err := Generate(metas)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]map[string]any{}
	for _, c := range Commands {
		var plays []map[string]any
		if err := yaml.Unmarshal(files[Dir+"/"+c+".yml"], &plays); err != nil {
			t.Fatalf("%s: %v\n%s", c, err, files[Dir+"/"+c+".yml"])
		}
		out[c] = plays
	}
	return metas, out
}

// names are the plays' names of one generated playbook.
func playNames(plays []map[string]any) []string {
	var n []string
	for _, p := range plays {
		n = append(n, p["name"].(string))
	}
	return n
}

func TestPlaysFromMetadata(t *testing.T) {
	metas, gen := generated(t, tree(base, baseTasks))
	if got := strings.Join(roleNames(metas), " "); got != "loadbalancer mariadb keystone" {
		t.Errorf("order %q, want loadbalancer mariadb keystone (after:, not names)", got)
	}
	cases := []struct {
		cmd  string
		want []string
	}{
		{"site", []string{"loadbalancer: every service's loadbalancer tasks", "Apply role loadbalancer", "Apply role mariadb", "mariadb: start (serial: 1)", "Apply role keystone"}},
		{"reconfigure", []string{"keystone: rolling_replace (kolla_serial hosts at a time)"}},
		{"upgrade", []string{"Pull every image before any container is touched",
			"loadbalancer: every service's loadbalancer tasks", "loadbalancer: config", "loadbalancer: check-containers (kolla_serial hosts at a time)",
			"mariadb: config", "mariadb: check-containers (kolla_serial hosts at a time)",
			"keystone: upgrade", "keystone: rolling_replace (kolla_serial hosts at a time)", "keystone: upgrade_finish"}},
		{"stop", []string{"Apply role keystone", "Apply role mariadb (serial: 1)", "Apply role loadbalancer"}},
	}
	for _, c := range cases {
		if got := playNames(gen[c.cmd]); strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%s plays:\n got  %q\n want %q", c.cmd, got, c.want)
		}
	}
	// The role play carries the enable flag and the role's tag; a serial
	// play its batch size; the collected frontends every service's flag.
	site := gen["site"]
	role := site[2]["roles"].([]any)[0].(map[string]any)
	if role["role"] != "mariadb" || role["when"].([]any)[0] != "enable_mariadb | bool" || role["tags"].([]any)[0] != "mariadb" {
		t.Errorf("mariadb's role play: %v", site[2])
	}
	if site[3]["serial"] != 1 || site[3]["hosts"] != "mariadb" {
		t.Errorf("mariadb start play: %v", site[3])
	}
	collected := site[0]["tasks"].([]any)
	if len(collected) != 2 {
		t.Fatalf("loadbalancer collects %d roles' frontends, want mariadb and keystone: %v", len(collected), collected)
	}
	kt := collected[1].(map[string]any)
	if kt["import_role"].(map[string]any)["name"] != "keystone" || !strings.Contains(yamlText(t, kt["when"]), "enable_keystone | bool") {
		t.Errorf("keystone's frontends task: %v", kt)
	}
	pull := gen["upgrade"][0]["tasks"].([]any)
	if len(pull) != 3 || gen["upgrade"][0]["any_errors_fatal"] != true {
		t.Errorf("upgrade's pull play: %v", gen["upgrade"][0])
	}
	if gen["stop"][1]["serial"] != 1 {
		t.Errorf("mariadb stops one host at a time: %v", gen["stop"][1])
	}
}

func yamlText(t *testing.T, v any) string {
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Adding a service is dropping in a role directory: no list to edit, and the
// new role lands in every command's plays in its place.
func TestDroppedInServiceJoinsEveryCommand(t *testing.T) {
	metas := map[string]string{}
	tasks := map[string][]string{}
	for k, v := range base {
		metas[k] = v
	}
	for k, v := range baseTasks {
		tasks[k] = v
	}
	metas["glance"] = "koala:\n  group: glance-api\n  after: [keystone]\n  replace: rolling\n"
	tasks["glance"] = []string{"rolling_replace", "upgrade", "loadbalancer", "pull"}
	_, gen := generated(t, tree(metas, tasks))
	for cmd, want := range map[string]string{
		"site":        "Apply role glance",
		"reconfigure": "glance: rolling_replace (kolla_serial hosts at a time)",
		"upgrade":     "glance: rolling_replace (kolla_serial hosts at a time)",
		"stop":        "Apply role glance",
	} {
		names := playNames(gen[cmd])
		i := indexOf(names, want)
		if i < 0 {
			t.Errorf("%s: no play %q in %q", cmd, want, names)
			continue
		}
		k := indexOf(names, "Apply role keystone")
		if cmd == "site" && i < k {
			t.Errorf("site: glance before keystone: %q", names)
		}
		if cmd == "stop" && i != 0 {
			t.Errorf("stop: glance (last in deploy order) must stop first: %q", names)
		}
	}
	if got := yamlText(t, gen["site"][0]["tasks"]); !strings.Contains(got, "name: glance") {
		t.Errorf("the loadbalancer does not collect glance's frontends:\n%s", got)
	}
	if got := gen["site"][len(gen["site"])-1]["hosts"]; got != "glance-api" {
		t.Errorf("glance runs on %v, want its group glance-api", got)
	}
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// Bad metadata is named with the file and line, before any play exists.
func TestBadMetadata(t *testing.T) {
	cases := []struct {
		name, meta string
		tasks      []string
		want       string
	}{
		{"no group", "koala:\n  after: [keystone]\n", nil, "roles/bad/meta/main.yml:1: koala: no group"},
		{"unknown after", "koala:\n  group: bad\n  after: [nova]\n", nil, "after: nova is not a service role here"},
		{"misspelt key", "koala:\n  group: bad\n  afer: [keystone]\n", nil, "field afer not found"},
		{"rolling without its tasks", "koala:\n  group: bad\n  replace: rolling\n", nil, "needs tasks/rolling_replace.yml"},
		{"unknown replace", "koala:\n  group: bad\n  replace: sometimes\n", nil, `replace: "sometimes" is not rolling`},
		{"missing tasks_from", "koala:\n  group: bad\n  plays:\n    reconfigure:\n      - {tasks_from: start}\n", nil, "tasks_from start: the role has no tasks/start.yml"},
		{"unknown command", "koala:\n  group: bad\n  plays:\n    deploy: [{}]\n", nil, `plays: "deploy" is not one of site`},
		{"cycle", "koala:\n  group: bad\n  after: [keystone]\n", nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			metas := map[string]string{"bad": c.meta}
			for k, v := range base {
				metas[k] = v
			}
			if c.name == "cycle" {
				metas["mariadb"] = "koala:\n  group: mariadb\n  after: [bad]\n"
				c.want = "cycle"
			}
			_, err := Load(tree(metas, map[string][]string{"bad": c.tasks, "keystone": baseTasks["keystone"], "mariadb": baseTasks["mariadb"]}), "roles")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
}

// A generated playbook is replaced by the operator's own file of that name,
// and the directory's other files stay readable through the overlay.
func TestOverlay(t *testing.T) {
	dir := fstest.MapFS{
		"site.yml":             {Data: []byte("- import_playbook: services/site.yml\n")},
		"services/upgrade.yml": {Data: []byte("# mine\n")},
	}
	o := Overlay(dir, map[string][]byte{"services/site.yml": []byte("# generated\n"), "services/upgrade.yml": []byte("# generated\n")})
	for name, want := range map[string]string{"site.yml": "- import_playbook", "services/site.yml": "# generated", "services/upgrade.yml": "# mine"} {
		b, err := fs.ReadFile(o, name)
		if err != nil || !strings.HasPrefix(string(b), want) {
			t.Errorf("%s: %q, %v; want %q", name, b, err, want)
		}
	}
}
