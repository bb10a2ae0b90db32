package build

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

func plan(t *testing.T, tr *Tree, sel Selection) *Plan {
	t.Helper()
	pl, err := NewPlan(tr, tr.NewRenderer(defaultVars, nil), defaultVars, sel)
	if err != nil {
		t.Fatal(err)
	}
	return pl
}

func TestSelection(t *testing.T) {
	tr := embeddedTree(t)
	cases := []struct {
		name string
		sel  Selection
		want []string // Order
	}{
		{"regex pulls in parents", Selection{Regexes: []string{"^keystone$"}}, []string{"base", "openstack-base", "keystone-base", "keystone"}},
		{"skip parents", Selection{Regexes: []string{"^keystone$"}, SkipParents: true}, []string{"keystone"}},
		{"regex matches anywhere", Selection{Regexes: []string{"heat-"}}, []string{"base", "openstack-base", "heat-base", "heat-api", "heat-engine"}},
		{"two regexes", Selection{Regexes: []string{"^memcached$", "^rabbitmq$"}}, []string{"base", "memcached", "rabbitmq"}},
		{"profile infra", Selection{Profile: "infra"}, []string{"base", "haproxy", "keepalived", "mariadb-server", "memcached", "openvswitch-base", "rabbitmq", "openvswitch-db-server", "openvswitch-vswitchd"}},
		{"profile main", Selection{Profile: "main"}, []string{"base", "nova-libvirt", "openstack-base", "glance-base", "heat-base", "horizon", "keystone-base", "neutron-base", "nova-base", "placement-base", "glance-api", "heat-api", "heat-engine", "keystone", "neutron-dhcp-agent", "neutron-l3-agent", "neutron-metadata-agent", "neutron-openvswitch-agent", "neutron-server", "nova-api", "nova-compute", "nova-conductor", "nova-novncproxy", "nova-scheduler", "nova-ssh", "placement-api"}},
		{"conf profile replaces a derived one", Selection{Profile: "infra", Profiles: map[string][]string{"infra": {"^haproxy$"}}}, []string{"base", "haproxy"}},
		{"custom profile", Selection{Profile: "mine", Profiles: map[string][]string{"mine": {"^glance-api$"}}}, []string{"base", "openstack-base", "glance-base", "glance-api"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pl := plan(t, tr, c.sel)
			if !reflect.DeepEqual(pl.Order, c.want) {
				t.Errorf("order %v, want %v", pl.Order, c.want)
			}
			if len(pl.Order)+len(pl.Unmatched) != len(tr.Images) {
				t.Errorf("built %v + unmatched %v do not cover the tree", pl.Order, pl.Unmatched)
			}
		})
	}
	all := plan(t, tr, Selection{})
	if len(all.Order) != len(tr.Images) || len(all.Unmatched) != 0 {
		t.Errorf("no selection: %d images, %d unmatched", len(all.Order), len(all.Unmatched))
	}
	// parents first
	pos := map[string]int{}
	for i, n := range all.Order {
		pos[n] = i
	}
	for _, n := range all.Order {
		if p := all.Images[n].Parent; p != "" && pos[p] > pos[n] {
			t.Errorf("%s comes before its parent %s", n, p)
		}
	}
}

func TestSelectionErrors(t *testing.T) {
	tr := embeddedTree(t)
	for _, c := range []struct {
		sel  Selection
		want string
	}{
		{Selection{Profile: "nope"}, `unknown profile "nope" (known: default, infra, main`},
		{Selection{Regexes: []string{"("}}, `image selection "("`},
		{Selection{Regexes: []string{"^zun"}}, "no image of the tree matches ^zun"},
	} {
		_, err := NewPlan(tr, tr.NewRenderer(defaultVars, nil), defaultVars, c.sel)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.sel, err, c.want)
		}
	}
}

func TestCycleAndMissingParent(t *testing.T) {
	m := fstest.MapFS{
		"users.yml":        {Data: []byte("kolla: 42400\n")},
		"a/Dockerfile.j2":  {Data: []byte("FROM {{ image_prefix }}b:{{ tag }}\n")},
		"b/Dockerfile.j2":  {Data: []byte("FROM {{ image_prefix }}a:{{ tag }}\n")},
		"c/Dockerfile.j2":  {Data: []byte("# c\nFROM {{ image_prefix }}d:{{ tag }}\n")},
		"ok/Dockerfile.j2": {Data: []byte("FROM debian:trixie\n")},
	}
	tr, err := LoadTree(m, "/tree")
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewPlan(tr, tr.NewRenderer(defaultVars, nil), defaultVars, Selection{Regexes: []string{"^a$"}})
	if err == nil || !strings.Contains(err.Error(), "FROM cycle: a -> b -> a") {
		t.Errorf("cycle: %v", err)
	}
	_, err = NewPlan(tr, tr.NewRenderer(defaultVars, nil), defaultVars, Selection{Regexes: []string{"^c$"}})
	if err == nil || !strings.Contains(err.Error(), `/tree/c/Dockerfile.j2:2: FROM kolla/d:2025.1: missing parent: no image "d"`) {
		t.Errorf("missing parent: %v", err)
	}
	// Neither mistake stops a selection that does not reach it.
	if _, err := NewPlan(tr, tr.NewRenderer(defaultVars, nil), defaultVars, Selection{Regexes: []string{"^ok$"}}); err != nil {
		t.Errorf("ok: %v", err)
	}
}

func TestListDependencies(t *testing.T) {
	var b bytes.Buffer
	plan(t, embeddedTree(t), Selection{Regexes: []string{"^keystone$", "^memcached$"}}).ListDependencies(&b)
	want := "base\n  memcached\n  openstack-base\n    keystone-base\n      keystone\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	plan(t, embeddedTree(t), Selection{Regexes: []string{"^keystone$"}, SkipParents: true}).ListDependencies(&b)
	if b.String() != "(keystone-base, not built)\n  keystone\n" {
		t.Errorf("skip-parents: got %q", b.String())
	}
}

func TestConf(t *testing.T) {
	c, err := ParseConf("koala-build.conf", []byte(`# comment
[DEFAULT]
namespace = lab
base-tag = 12
[profiles]
mine = ^keystone, ^glance-api$
[sources]
keystone-base = local:/src/keystone.tar.gz
glance-base = git:https://opendev.org/openstack/glance#stable/zed
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Defaults["namespace"] != "lab" || c.Defaults["base_tag"] != "12" {
		t.Errorf("defaults %v", c.Defaults)
	}
	if !reflect.DeepEqual(c.Profiles["mine"], []string{"^keystone", "^glance-api$"}) {
		t.Errorf("profiles %v", c.Profiles)
	}
	if s := c.Sources["glance-base"]; s.Type != "git" || s.Location != "https://opendev.org/openstack/glance" || s.Reference != "stable/zed" || s.Where != "koala-build.conf:9" {
		t.Errorf("git source %+v", s)
	}
	_, err = ParseConf("k.conf", []byte("[DEFAULT]\ncolour = red\n[nova]\nx\n[sources]\na = ftp:x\n[profiles]\np = (\n"))
	for _, want := range []string{`k.conf:2: unknown option "colour"`, "k.conf:3: unknown section [nova]", "k.conf:4: \"x\" is not key = value", "k.conf:6: source a", "k.conf:8: profile p: bad regex"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

// A local source lands in the build context as <name>-archive; a missing one and
// a missing runtime binary are reported before anything is built.
func TestWriteContexts(t *testing.T) {
	tr := embeddedTree(t)
	v := defaultVars
	v.InstallType = "source"
	pl, err := NewPlan(tr, tr.NewRenderer(v, nil), v, Selection{Regexes: []string{"^keystone$"}})
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	err = pl.WriteContexts(t.Context(), tr, RunOptions{WorkDir: work})
	for _, want := range []string{"base copies kolla-runtime: give --runtime-bin", "keystone-base adds keystone-base-archive: add `keystone-base = local:PATH`"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	rt := writeFile(t, "kolla-runtime", "#!/bin/true\n")
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "setup.py"), []byte("# keystone\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = pl.WriteContexts(t.Context(), tr, RunOptions{WorkDir: work, RuntimeBin: rt, Sources: map[string]Source{"keystone-base": {Type: "local", Location: src}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"base/Dockerfile", "base/kolla-runtime", "base/sudoers", "keystone/extend_start.sh", "keystone-base/keystone-base-archive/setup.py"} {
		if _, err := os.Stat(filepath.Join(work, f)); err != nil {
			t.Errorf("context file: %v", err)
		}
	}
	df, _ := os.ReadFile(filepath.Join(work, "keystone-base/Dockerfile"))
	if !strings.Contains(string(df), "ADD keystone-base-archive /keystone-base-source") {
		t.Errorf("source keystone-base Dockerfile:\n%s", df)
	}
}

func TestSummaryJSON(t *testing.T) {
	s := &Summary{Built: []string{"base"}, Failed: []Failure{{Name: "keystone", Status: StatusParentError, Error: "parent keystone-base was not built"}}, Unchanged: []string{"rabbitmq"}, Skipped: []string{}, Unmatched: []string{"nova"}, Seconds: map[string]float64{"base": 12.5}}
	p := filepath.Join(t.TempDir(), "s.json")
	if err := s.WriteJSON(p); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	data, _ := os.ReadFile(p)
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"built": []any{"base"}, "failed": []any{map[string]any{"name": "keystone", "status": "parent_error", "error": "parent keystone-base was not built"}}, "skipped_unchanged": []any{"rabbitmq"}, "skipped": []any{}, "unmatched": []any{"nova"}, "seconds": map[string]any{"base": 12.5}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	if s.OK() {
		t.Error("OK() with a failure")
	}
}
