package inventory

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// writeInv writes content to a temp file with the given name and returns its path.
func writeInv(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustLoad(t *testing.T, sources ...string) *Inventory {
	t.Helper()
	inv, err := Load(sources...)
	if err != nil {
		t.Fatalf("Load(%v): %v", sources, err)
	}
	return inv
}

func TestShlexSplit(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  bool
	}{
		{`h a=1 b="2 3"`, []string{"h", "a=1", "b=2 3"}, false},
		{`h a='x y' # comment`, []string{"h", "a=x y"}, false},
		{`h a=abc#def b=1`, []string{"h", "a=abc"}, false}, // '#' inside a word starts a comment
		{`h a="" b=`, []string{"h", "a=", "b="}, false},
		{`h a="q\"uote" b='back\slash'`, []string{"h", `a=q"uote`, `b=back\slash`}, false},
		{`h a=\"x`, []string{"h", `a="x`}, false},
		{`h a="open`, nil, true},
		{`h a=\`, nil, true},
	}
	for _, tt := range tests {
		got, err := shlexSplit(tt.in)
		if (err != nil) != tt.err || !tt.err && !reflect.DeepEqual(got, tt.want) {
			t.Errorf("shlexSplit(%q) = %q, %v; want %q (error %v)", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestINIValue(t *testing.T) {
	tests := []struct {
		in   string
		want any
	}{
		{"1", 1},
		{"-3", -3},
		{"0x10", 16},
		{"0o17", 15},
		{"1_000", 1000},
		{"0022", "0022"}, // leading zeros are a SyntaxError in Python 3
		{"00", 0},
		{"1.5", 1.5},
		{"1e3", 1000.0},
		{".5", 0.5},
		{"True", true},
		{"False", false},
		{"None", nil},
		{"true", "true"},
		{"yes", "yes"},
		{"'x'", "x"},
		{`"a\tb"`, "a\tb"},
		{`'a' "b"`, "ab"},
		{`r'\n'`, `\n`},
		{`b'hi'`, "hi"},
		{"[1, 'a', [None]]", []any{1, "a", []any{nil}}},
		{"(1,)", []any{1}},
		{"(1)", 1},
		{"1, 2", []any{1, 2}},
		{"{'a': 1, 2: True}", map[string]any{"a": 1, "2": true}},
		{"{1, 2}", []any{1, 2}},
		{"{}", map[string]any{}},
		{"1 # comment", 1},
		{"abc # comment", "abc # comment"},
		{"1j", "1j"},
		{"--1", "--1"},
		{"x = y", "x = y"},
		{"[1,", "[1,"},
		{"99999999999999999999", "99999999999999999999"},
		{"", ""},
		{strings.Repeat("[", 500), strings.Repeat("[", 500)},
	}
	for _, tt := range tests {
		if got := iniValue(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("iniValue(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
}

func TestExpandHostPattern(t *testing.T) {
	tests := []struct {
		in    string
		hosts []string
		port  int
		err   string
	}{
		{"node[01:03]", []string{"node01", "node02", "node03"}, -1, ""},
		{"node[1:3]:2222", []string{"node1", "node2", "node3"}, 2222, ""},
		{"web[a:c].example.com", []string{"weba.example.com", "webb.example.com", "webc.example.com"}, -1, ""},
		{"n[01:10:2]", []string{"n01", "n03", "n05", "n07", "n09"}, -1, ""},
		{"x[0:1]y[a:b]", []string{"x0ya", "x0yb", "x1ya", "x1yb"}, -1, ""},
		{"n[y:B]", []string{"ny", "nz", "nA", "nB"}, -1, ""},
		{"n[:2]", []string{"n0", "n1", "n2"}, -1, ""},
		{"10.0.0.[1:2]", []string{"10.0.0.1", "10.0.0.2"}, -1, ""},
		{"[2001:db8::1]:23", []string{"2001:db8::1"}, 23, ""},
		{"2001:db8::1", []string{"2001:db8::1"}, -1, ""},
		{"host.example.com:22", []string{"host.example.com"}, 22, ""},
		{"n[01:3]", nil, 0, "equal-length"},
		{"n[c:a]", nil, 0, "begin <= end"},
		{"n[1:]", nil, 0, "end value"},
		{"n[1:2:0]", nil, 0, "step"},
		{"n[1]", nil, 0, "begin:end"},
		{"n[1:99999999]", nil, 0, "more than"},
	}
	for _, tt := range tests {
		hosts, port, err := expandHostPattern(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("expandHostPattern(%q) error = %v, want it to mention %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(hosts, tt.hosts) || port != tt.port {
			t.Errorf("expandHostPattern(%q) = %q, %d, %v; want %q, %d", tt.in, hosts, port, err, tt.hosts, tt.port)
		}
	}
}

func TestINIErrors(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"undefined child", "[a:children]\nb\n", "hosts.ini:2: section [a:children] includes undefined group \"b\""},
		{"vars only", "[a]\nh\n[b:vars]\nx=1\n", "hosts.ini:3: section [b:vars]"},
		{"unknown type", "[a:hostz]\n", "hosts.ini:1: section [a:hostz] has unknown type"},
		{"spaces in section", "[a b]\n", "hosts.ini:1: invalid section entry"},
		{"bad host var", "h1 novalue\n", "hosts.ini:1: expected key=value host variable"},
		{"bad var line", "[a]\nh\n[a:vars]\njustakey\n", "hosts.ini:4: expected key=value"},
		{"bad child line", "[a]\n[b:children]\na extra\n", "hosts.ini:3: expected a group name"},
		{"cycle", "[a:children]\nb\n[b:children]\na\n", "hosts.ini:4: adding group \"a\" as a child of \"b\" creates a loop"},
		{"self cycle", "[a:children]\na\n", "creates a loop"},
		{"trailing colon", "h1:\n", "hosts.ini:1: invalid host pattern \"h1:\""},
		{"yaml marker", "[a]\n---\n", "hosts.ini:2: invalid host pattern \"---\""},
		{"unclosed quote", "h1 a='x\n", "hosts.ini:1: cannot parse host definition"},
		{"bad range", "n[3:1:0]\n", "hosts.ini:1: host range"},
		{"bad priority", "[a]\nh\n[a:vars]\nansible_group_priority=high\n", "hosts.ini:4: ansible_group_priority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeInv(t, "hosts.ini", tt.content)
			_, err := Load(p)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestINIReportsAllMistakes(t *testing.T) {
	p := writeInv(t, "hosts.ini", "h1 novalue\n[a:bogus]\nignored line\n[b]\nh2 x\n[c:children]\nnope\n")
	_, err := Load(p)
	for _, want := range []string{"hosts.ini:1:", "hosts.ini:2:", "hosts.ini:5:", "hosts.ini:7:"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not report %s", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "hosts.ini:3:") {
		t.Errorf("a line of a bad section was reported: %v", err)
	}
}

func TestYAMLErrors(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"hosts list", "all:\n  hosts:\n    - a\n", "hosts.yml:3: \"hosts\" entry of group \"all\" must be a mapping"},
		{"host vars list", "all:\n  hosts:\n    a: [1]\n", "hosts.yml:3: variables of host \"a\" must be a mapping"},
		{"cycle", "a:\n  children:\n    b:\n      children:\n        a:\n", "creates a loop"},
		{"plugin", "plugin: aws_ec2\n", "plugin configuration files"},
		{"vault", "all:\n  vars:\n    x: !vault |\n      abc\n", "hosts.yml:3: vault value: not an ansible-vault text"},
		{"syntax", "all:\n  hosts:\n    a: b: c\n", "hosts.yml:3: invalid YAML: mapping values are not allowed"},
		{"not a mapping", "- a\n- b\n", "hosts.yml:1: a YAML inventory must be a mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeInv(t, "hosts.yml", tt.content)
			_, err := Load(p)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestYAMLValues(t *testing.T) {
	inv := mustLoad(t, "testdata/inventory.yml")
	got := inv.HostVars("bastion")
	want := map[string]any{
		"enable_thing": true, "disabled": false, "mode": 493, "big": 1000, "sexagesimal": 90,
		"notfloat": "1e3", "realfloat": 1500.0, "date": "2024-01-02", "quoted": "yes", "nothing": nil,
		"ansible_host": "192.0.2.1",
	}
	for k, v := range want {
		if !reflect.DeepEqual(got[k], v) {
			t.Errorf("bastion %s = %#v, want %#v", k, got[k], v)
		}
	}
	ctl := inv.HostVars("ctl02")
	if !reflect.DeepEqual(ctl["dns"], []any{"9.9.9.9"}) || ctl["ntp"] != "pool.ntp.org" {
		t.Errorf("merge key: ctl02 dns=%v ntp=%v, want [9.9.9.9] and pool.ntp.org", ctl["dns"], ctl["ntp"])
	}
	if p := inv.HostVars("ctl04")["ansible_port"]; p != 2201 {
		t.Errorf("ctl04 ansible_port = %v, want 2201", p)
	}
	if !reflect.DeepEqual(inv.GroupHosts("storage"), []string{"st01"}) {
		t.Errorf("storage = %v, want [st01] (hosts given as a bare string)", inv.GroupHosts("storage"))
	}
}

func TestPrecedence(t *testing.T) {
	inv := mustLoad(t, "testdata/priority.ini")
	// h1: b (depth 1, priority 0) < top (depth 1) < a (depth 2).
	// h2: b < top < a < c (same depth and priority: by name).
	tests := []struct {
		host string
		want map[string]any
	}{
		{"h1", map[string]any{"x": "a", "y": "a", "z": "top", "w": "top"}},
		{"h2", map[string]any{"x": "a", "y": "c", "z": "c", "w": "top"}},
	}
	for _, tt := range tests {
		got := inv.HostVars(tt.host)
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("%s: %s = %v, want %v", tt.host, k, got[k], v)
			}
		}
	}

	// Inline host vars beat group_vars files; host_vars files beat both;
	// group_vars/all.yml is found before all.json.
	d := mustLoad(t, "testdata/dirinv")
	for _, c := range []struct {
		host, key string
		want      any
	}{
		{"ctl02", "api_interface", "eth9"}, // inline > group_vars/control
		{"ctl01", "api_interface", "eth1"}, // group_vars/control > group_vars/all
		{"cmp01", "api_interface", "eth7"}, // host_vars file
		{"cmp02", "api_interface", "eth2"}, // group_vars/compute.json
		{"ctl01", "control_only", 2},       // later file in a group_vars dir wins
		{"ctl01", "backup", nil},           // editor backups are skipped
		{"ctl01", "never", nil},            // all.json is shadowed by all.yml
		{"mon01", "region", "RegionOne"},   // not in openstack
		{"ctl01", "region", "RegionTwo"},   // openstack overrides all
		{"ctl02", "host_file", true},       // host_vars file without extension
		{"cmp02", "big", 1000.0},           // JSON number with exponent is a float
	} {
		if got := d.HostVars(c.host)[c.key]; !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s %s = %#v, want %#v", c.host, c.key, got, c.want)
		}
	}
	// With two sources, group_vars files apply source by source: the second
	// source's openstack (shallow) beats the first one's control (deep), but
	// group_vars/all of any source stays below every group's files.
	two := mustLoad(t, "testdata/dirinv", "testdata/second/hosts")
	for _, c := range []struct {
		host, key string
		want      any
	}{
		{"ctl01", "control_only", "from-second-openstack"},
		{"ctl02", "api_interface", "eth9"},
		{"ctl03", "api_interface", "eth1"},
		{"ctl01", "api_interface", "eth-second-host"},
		{"mon01", "api_interface", "eth-second-all"},
	} {
		if got := two.HostVars(c.host)[c.key]; !reflect.DeepEqual(got, c.want) {
			t.Errorf("two sources: %s %s = %#v, want %#v", c.host, c.key, got, c.want)
		}
	}
	if d.HasGroup("ignored") {
		t.Error("ignored.ini in an inventory directory was loaded")
	}
}

func TestGroupsAndHosts(t *testing.T) {
	inv := mustLoad(t, "testdata/tricky.ini")
	if got := inv.GroupNames("db1"); !reflect.DeepEqual(got, []string{"app", "db", "web"}) {
		t.Errorf("GroupNames(db1) = %v", got)
	}
	if got := inv.GroupNames("lonely"); !reflect.DeepEqual(got, []string{"ungrouped"}) {
		t.Errorf("GroupNames(lonely) = %v, want [ungrouped]", got)
	}
	if got := inv.GroupNames("later_grouped"); !reflect.DeepEqual(got, []string{"app", "web"}) {
		t.Errorf("GroupNames(later_grouped) = %v: a host listed in a group later leaves ungrouped", got)
	}
	if got := inv.GroupHosts("db"); !reflect.DeepEqual(got, []string{"db1", "db5"}) {
		t.Errorf("GroupHosts(db) = %v", got)
	}
	if got := inv.GroupHosts("app"); len(got) != 14 || got[len(got)-1] != "cache01" {
		t.Errorf("GroupHosts(app) = %v, want web's hosts then cache01", got)
	}
	if got := inv.GroupHosts("nosuch"); got != nil {
		t.Errorf("GroupHosts(nosuch) = %v, want nil", got)
	}
	hosts := inv.Hosts()
	if hosts[0] != "lonely" || hosts[1] != "later_grouped" || len(hosts) != 15 {
		t.Errorf("Hosts() = %v, want definition order", hosts)
	}
	if !slices.IsSorted(inv.Groups()) || !slices.Contains(inv.Groups(), "ungrouped") {
		t.Errorf("Groups() = %v, want sorted with ungrouped", inv.Groups())
	}
	hv := inv.HostVars("web01")
	want := map[string]any{"ansible_port": 2222, "ansible_user": "kolla", "ansible_become": "true", "color": "green", "http_port": 80}
	for k, v := range want {
		if hv[k] != v {
			t.Errorf("web01 %s = %#v, want %#v", k, hv[k], v)
		}
	}
	if hv["inventory_file"] == nil || hv["inventory_dir"] == nil {
		t.Errorf("web01 lacks inventory_file/inventory_dir: %v", hv)
	}
	// The copy is deep: changing it does not change the inventory.
	hv["nested"].(map[string]any)["a"] = "changed"
	if inv.HostVars("web01")["nested"].(map[string]any)["a"] == "changed" {
		t.Error("HostVars returned shared nested data")
	}
	if lv := inv.HostVars("localhost"); lv["ansible_connection"] != "local" || lv["color"] != "white" {
		t.Errorf("implicit localhost vars = %v", lv)
	}
	if inv.HostVars("nosuch") != nil {
		t.Error("HostVars of an unknown host is not nil")
	}
}

func TestMatch(t *testing.T) {
	inv := mustLoad(t, "testdata/tricky.ini")
	web := "web01 web02 web03 weba.example.com webb.example.com webc.example.com db1 db5 db9 2001:db8::1 10.0.0.1 10.0.0.2 later_grouped"
	tests := []struct{ pattern, want string }{
		{"all", "lonely " + web + " cache01"},
		{"*", "lonely " + web + " cache01"},
		{"web", web},
		{"web*", web},
		{"~web0[12]", "web01 web02"},
		{"web:db", web},
		{"web:&db", "db1 db5"},
		{"web:!db", "web01 web02 web03 weba.example.com webb.example.com webc.example.com db9 2001:db8::1 10.0.0.1 10.0.0.2 later_grouped"},
		{"!db:&app:web", "web01 web02 web03 weba.example.com webb.example.com webc.example.com db9 2001:db8::1 10.0.0.1 10.0.0.2 later_grouped"},
		{"app:!web", "cache01"},
		{"!web", "lonely cache01"},
		{"web[0]", "web01"},
		{"web[1:2]", "web02 web03"},
		{"web[-1]", "later_grouped"},
		{"db[0:0]", "db1"},
		{"db[1:]", "db5"},
		{"app[2:4]", "web03 weba.example.com webb.example.com"},
		{"nosuch", ""},
		{"localhost", "localhost"},
		{"web0?", "web01 web02 web03"},
		{"*.example.com", "weba.example.com webb.example.com webc.example.com"},
		{"db1,web01,db1", "db1 web01"},
		{"db1, cache01", "db1 cache01"},
		{"2001:db8::1", "2001:db8::1"},
		{"w*:&app:!db5", "web01 web02 web03 weba.example.com webb.example.com webc.example.com db1 db9 2001:db8::1 10.0.0.1 10.0.0.2 later_grouped"},
		{"cache01:db", "cache01 db1 db5"},
		{"db*", "db1 db5 db9"}, // group db, and hosts matching the glob
		{"~db", "db1 db5 db9"},
	}
	for _, tt := range tests {
		got, err := inv.Match(tt.pattern)
		if err != nil {
			t.Errorf("Match(%q): %v", tt.pattern, err)
			continue
		}
		if strings.Join(got, " ") != tt.want {
			t.Errorf("Match(%q) = %q\nwant %q", tt.pattern, strings.Join(got, " "), tt.want)
		}
	}
	for _, bad := range []string{"db[5]", "~web(", "web[-99]"} {
		if _, err := inv.Match(bad); err == nil {
			t.Errorf("Match(%q) did not fail", bad)
		}
	}
}

func TestAddHost(t *testing.T) {
	inv := mustLoad(t, "testdata/tricky.ini")
	before := inv.HostVars("db1")["color"]
	inv.AddHost("new1", nil, map[string]any{"v": 1})
	if got := inv.GroupNames("new1"); !reflect.DeepEqual(got, []string{"ungrouped"}) {
		t.Errorf("new host groups = %v, want [ungrouped]", got)
	}
	inv.AddHost("new1", []string{"dyn", "db"}, nil)
	if got := inv.GroupNames("new1"); !reflect.DeepEqual(got, []string{"app", "db", "dyn"}) {
		t.Errorf("after group_by: %v", got)
	}
	hv := inv.HostVars("new1")
	if hv["v"] != 1 || hv["color"] != "red" {
		t.Errorf("new1 vars = %v, want v=1 and db's color", hv)
	}
	if m, _ := inv.Match("dyn"); !reflect.DeepEqual(m, []string{"new1"}) {
		t.Errorf("Match(dyn) = %v", m)
	}
	if got := inv.GroupHosts("db"); got[len(got)-1] != "new1" {
		t.Errorf("GroupHosts(db) = %v: cache not refreshed", got)
	}
	if inv.HostVars("db1")["color"] != before {
		t.Error("AddHost changed another host's vars")
	}
	// Concurrent readers and writers must be safe (run with -race).
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				_ = inv.HostVars("web01")
				_ = inv.GroupHosts("web")
				_, _ = inv.Match("app")
				if i == 0 && j%10 == 0 {
					inv.AddHost("racer", []string{"dyn"}, map[string]any{"j": j})
				}
			}
		}()
	}
	wg.Wait()
}

func TestLoadSources(t *testing.T) {
	if _, err := Load(); err == nil {
		t.Error("Load() with no source did not fail")
	}
	if _, err := Load("testdata/does-not-exist"); err == nil || !strings.Contains(err.Error(), "does-not-exist") {
		t.Errorf("missing source error = %v", err)
	}
	inv := mustLoad(t, "a1,b2:2200,")
	if !reflect.DeepEqual(inv.Hosts(), []string{"a1", "b2"}) || inv.HostVars("b2")["ansible_port"] != 2200 {
		t.Errorf("host list: hosts %v, b2 vars %v", inv.Hosts(), inv.HostVars("b2"))
	}
	// A file without extension holding INI is parsed as INI after YAML fails;
	// one that is a YAML mapping is parsed as YAML.
	ini := writeInv(t, "hosts", "[g]\nh1\n")
	yml := writeInv(t, "inv", "g:\n  hosts:\n    h2:\n")
	both := mustLoad(t, ini, yml)
	if got := both.GroupHosts("g"); !reflect.DeepEqual(got, []string{"h1", "h2"}) {
		t.Errorf("merged sources: g = %v", got)
	}
	// An INI error in a file without extension names the INI line.
	_, err := Load(writeInv(t, "hosts", "[g]\nh1 novalue\n"))
	if err == nil || !strings.Contains(err.Error(), "hosts:2:") {
		t.Errorf("error = %v, want hosts:2", err)
	}
}

func TestOutputFormats(t *testing.T) {
	tests := []struct {
		v    any
		json string
		str  string
	}{
		{1000.0, "1000.0", "1000.0"},
		{1e16, "1e+16", "1e+16"},
		{1.5e-5, "1.5e-05", "1.5e-05"},
		{0.0001, "0.0001", "0.0001"},
		{-2.5, "-2.5", "-2.5"},
		{"a\"b\n", `"a\"b\n"`, "a\"b\n"},
		{"é\x01", "\"é\\u0001\"", "é\x01"},
		{[]any{"it's", nil, true}, "[\n    \"it's\",\n    null,\n    true\n]", `["it's", None, True]`},
		{map[string]any{}, "{}", "{}"},
	}
	for _, tt := range tests {
		if got := string(pyJSON(tt.v)); got != tt.json {
			t.Errorf("pyJSON(%#v) = %s, want %s", tt.v, got, tt.json)
		}
		if got := pyStr(tt.v); got != tt.str {
			t.Errorf("pyStr(%#v) = %s, want %s", tt.v, got, tt.str)
		}
	}
}

// BenchmarkHostVars measures the engine's hot path: merged vars of one of 200
// hosts in kolla-ansible's multinode group layout.
func BenchmarkHostVars(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("[control]\nctl[001:200] api_interface=eth0 tags=\"['a', 'b']\"\n[all:vars]\nregion=RegionOne\n")
	for i := range 50 {
		sb.WriteString("[svc" + strconv.Itoa(i) + ":children]\ncontrol\n[svc" + strconv.Itoa(i) + ":vars]\nv" + strconv.Itoa(i) + "=1\n")
	}
	p := filepath.Join(b.TempDir(), "hosts")
	if err := os.WriteFile(p, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	inv, err := Load(p)
	if err != nil {
		b.Fatal(err)
	}
	hosts := inv.Hosts()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		_ = inv.HostVars(hosts[i%len(hosts)])
	}
}
