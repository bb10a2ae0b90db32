package template

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
)

func testVars() map[string]any {
	return map[string]any{
		"inventory_hostname": "ctl1",
		"ansible_host":       "10.0.0.11",
		"group_names":        []any{"control", "network"},
		"play_hosts":         []any{"ctl1", "ctl2", "cmp1"},
		"ansible_play_hosts": []any{"ctl1", "ctl2", "cmp1"},
		"groups": map[string]any{
			"all":     []any{"ctl1", "ctl2", "cmp1"},
			"control": []any{"ctl1", "ctl2"},
			"compute": []any{"cmp1"},
		},
		"hostvars": map[string]any{
			"ctl1": map[string]any{"ansible_host": "10.0.0.11", "api_interface": "eth0"},
			"ctl2": map[string]any{"ansible_host": "10.0.0.12", "api_interface": "eth1"},
			"cmp1": map[string]any{"ansible_host": "fd00::21"},
		},
		"enable_foo":  "no",
		"enable_bar":  "yes",
		"debug":       false,
		"port":        5000,
		"ratio":       1.5,
		"empty":       "",
		"nothing":     nil,
		"names":       []any{"b", "a", "b", "c"},
		"services":    map[string]any{"api": map[string]any{"enabled": true, "port": 80}, "worker": map[string]any{"enabled": "no", "port": 81}},
		"users":       []any{map[string]any{"name": "nova", "uid": 42436}, map[string]any{"name": "glance", "uid": 42415, "admin": true}},
		"result":      map[string]any{"changed": true, "failed": false, "rc": 0, "stdout": "ok"},
		"path":        "/etc/kolla/nova-api/nova.conf",
		"ipv6":        "fd00::1",
		"fn_upper":    Func(func(args []any, kw map[string]any) (any, error) { return strings.ToUpper(fmt.Sprint(args...)), nil }),
		"nested":      map[string]any{"a": map[string]any{"b": 1}},
		"int_string":  "42",
		"json_string": `{"a": [1, 2.5, "x"], "b": null}`,
	}
}

func render(t *testing.T, src string) string {
	t.Helper()
	out, err := New().Render("t.j2", src, testVars())
	if err != nil {
		t.Fatalf("Render(%q): %v", src, err)
	}
	return out
}

func eval(t *testing.T, expr string) any {
	t.Helper()
	v, err := New().Eval("expr", expr, testVars())
	if err != nil {
		t.Fatalf("Eval(%q): %v", expr, err)
	}
	return v
}

// TestFilters covers every filter koala adds, through expressions as roles write them.
var filterCases = []struct {
	expr string
	want any
}{
	{"enable_bar | bool", true},
	{"enable_foo | bool", false},
	{"'True' | bool", true},
	{"1 | bool", true},
	{"'y' | bool", false},
	{"' ON ' | bool", true},
	{"nothing | bool", false},
	{"undefined_thing | default('x')", "x"},
	{"undefined_thing | d('x')", "x"},
	{"nothing | default('x')", nil},
	{"empty | default('x', true)", "x"},
	{"port | default(1)", 5000},
	{"undefined_thing | default(omit)", Omit},
	{"hostvars['cmp1']['api_interface'] | default('eth9')", "eth9"},
	{"hostvars.ctl2.api_interface | default('eth9')", "eth1"},
	{"missing.attr['key'].x | default('deep')", "deep"},
	{"hostvars.cmp1.facts.eth0.ipv4 | default('none')", "none"},
	{"{'b': 1, 'a': [true, none, 1.5, 'x<y']} | to_json", `{"a": [true, null, 1.5, "x<y"], "b": 1}`},
	{"{'b': 1, 'a': [1]} | to_nice_json", "{\n    \"a\": [\n        1\n    ],\n    \"b\": 1\n}"},
	{"{'a': 1} | to_nice_json(indent=2)", "{\n  \"a\": 1\n}"},
	{"json_string | from_json", map[string]any{"a": []any{1, 2.5, "x"}, "b": nil}},
	{"{'b': 1, 'a': {'c': [1, 2]}} | to_yaml", "a:\n  c:\n    - 1\n    - 2\nb: 1\n"},
	{"{'b': 1, 'a': {'c': 2}} | to_nice_yaml", "a:\n    c: 2\nb: 1\n"},
	{"'a: [1, 2]' | from_yaml", map[string]any{"a": []any{1, 2}}},
	{"'koala' | b64encode", "a29hbGE="},
	{"'a29hbGE=' | b64decode", "koala"},
	{"'eth0.100' | regex_replace('\\\\.', '_')", "eth0_100"},
	{`'v1.2.3' | regex_replace('^v(\d+)\.(\d+).*$', '\\1-\\2')`, "1-2"},
	{`'abc' | regex_replace('(?P<x>b)', '[\\g<x>]')`, "a[b]c"},
	{"'ABC' | regex_replace('b', 'x', ignorecase=true)", "AxC"},
	{"['a', 'b'] | regex_replace('a', 'z')", "['z', 'b']"},
	{"'host-12.x' | regex_search('[0-9]+')", "12"},
	{`'k=v' | regex_search('(\w)=(\w)', '\\2', '\\1')`, []any{"v", "k"}},
	{"'nope' | regex_search('[0-9]+')", nil},
	{"'a1b22' | regex_findall('[0-9]+')", []any{"1", "22"}},
	{"'a.b' | regex_escape", `a\.b`},
	{"names | join(',')", "b,a,b,c"},
	{"names | join", "babc"},
	{"users | join(', ', attribute='name')", "nova, glance"},
	{"names | unique", []any{"b", "a", "c"}},
	{"['a', 'b'] | union(['b', 'c'])", []any{"a", "b", "c"}},
	{"['a', 'b', 'c'] | difference(['b'])", []any{"a", "c"}},
	{"['a', 'b', 'c'] | intersect(['c', 'b', 'x'])", []any{"b", "c"}},
	{"['a', 'b'] | symmetric_difference(['b', 'c'])", []any{"a", "c"}},
	{"services | dict2items | map(attribute='key') | list", []any{"api", "worker"}},
	{"{'a': 1} | dict2items(key_name='k', value_name='v')", []any{map[string]any{"k": "a", "v": 1}}},
	{"[{'key': 'a', 'value': 1}, {'key': 'b', 'value': 2}] | items2dict", map[string]any{"a": 1, "b": 2}},
	{"[{'n': 'a', 'v': 1}] | items2dict(key_name='n', value_name='v')", map[string]any{"a": 1}},
	{"users | map(attribute='name') | list", []any{"nova", "glance"}},
	{"users | map(attribute='admin', default=false) | list", []any{false, true}},
	{"names | map('upper') | list", []any{"B", "A", "B", "C"}},
	{"groups['control'] | map('extract', hostvars, 'ansible_host') | list", []any{"10.0.0.11", "10.0.0.12"}},
	{"['ctl1'] | map('extract', hostvars, ['api_interface']) | list", []any{"eth0"}},
	{"path | basename", "nova.conf"},
	{"path | dirname", "/etc/kolla/nova-api"},
	{"'dir/' | basename", ""},
	{"['/etc', 'kolla', 'x.conf'] | path_join", "/etc/kolla/x.conf"},
	{"'koala' | hash('sha256')", "c88cf9468f1701ff059abe2c172a0da5edd6af83ae80ca1a7579e291c38df6d9"},
	{"'koala' | hash('md5')", "a564de63c2d0da68cf47586ee05984d7"},
	{"'koala' | hash", "7a7363eeef16de26b23884c99b9f0700458ed74f"},
	{"'koala' | checksum", "7a7363eeef16de26b23884c99b9f0700458ed74f"},
	{"ipv6 | ipwrap", "[fd00::1]"},
	{"'10.0.0.1' | ipwrap", "10.0.0.1"},
	{"['10.0.0.1', 'fd00::1', 'host'] | ipwrap", []any{"10.0.0.1", "[fd00::1]", "host"}},
	{"ipv6 | put_address_in_context('url')", "[fd00::1]"},
	{"ipv6 | put_address_in_context('memcache')", "inet6:[fd00::1]"},
	{"'10.1.2.3/24' | ipaddr('address')", "10.1.2.3"},
	{"'10.1.2.3/24' | ipaddr('network')", "10.1.2.0"},
	{"'10.1.2.3/24' | ipaddr('netmask')", "255.255.255.0"},
	{"'10.1.2.3/24' | ipaddr('prefix')", 24},
	{"'10.1.2.3/24' | ipaddr('broadcast')", "10.1.2.255"},
	{"'junk' | ipaddr", false},
	{"['10.0.0.1', 'fd00::1', 'junk'] | ipv4", []any{"10.0.0.1"}},
	{"['10.0.0.1', 'fd00::1'] | ipv6", []any{"fd00::1"}},
	{"int_string | int", 42},
	{"'4.7' | int", 4},
	{"'x' | int", 0},
	{"'x' | int(7)", 7},
	{"'ff' | int(base=16)", 255},
	{"true | int", 1},
	{"'1.5' | float", 1.5},
	{"port | string", "5000"},
	{"debug | string", "False"},
	{"'AbC' | lower", "abc"},
	{"'AbC' | upper", "ABC"},
	{"'abC' | capitalize", "Abc"},
	{"'  x ' | trim", "x"},
	{"'a-b-c' | replace('-', '_')", "a_b_c"},
	{"names | length", 4},
	{"services | length", 2},
	{"'héllo' | length", 5},
	{"names | count", 4},
	{"names | first", "b"},
	{"names | last", "c"},
	{"'a,b' | split(',')", []any{"a", "b"}},
	{"names | sort", []any{"a", "b", "b", "c"}},
	{"names | sort(reverse=true)", []any{"c", "b", "b", "a"}},
	{"users | sort(attribute='uid') | map(attribute='name') | list", []any{"glance", "nova"}},
	{"names | reverse | list", []any{"c", "b", "a", "b"}},
	{"[3, 1, 2] | min", 1},
	{"[3, 1, 2] | max", 3},
	{"[1, 2, 3] | sum", 6},
	{"[1, [2, [3]]] | flatten", []any{1, 2, 3}},
	{"[1, [2, [3]]] | flatten(levels=1)", []any{1, 2, []any{3}}},
	{"[1, 2] | zip(['a', 'b']) | list", []any{[]any{1, "a"}, []any{2, "b"}}},
	{"[1, 2] | product(['a', 'b']) | list", []any{[]any{1, "a"}, []any{1, "b"}, []any{2, "a"}, []any{2, "b"}}},
	{"[1, 2] | product([]) | list", []any{}},
	{"{'a': {'x': 1}, 'b': 1} | combine({'a': {'y': 2}})", map[string]any{"a": map[string]any{"y": 2}, "b": 1}},
	{"{'a': {'x': 1}} | combine({'a': {'y': 2}}, recursive=true)", map[string]any{"a": map[string]any{"x": 1, "y": 2}}},
	{"{'l': [1]} | combine({'l': [2]}, list_merge='append')", map[string]any{"l": []any{1, 2}}},
	{"[1, 0, 2, none] | select | list", []any{1, 2}},
	{"[1, 2, 3, 4] | select('even') | list", []any{2, 4}},
	{"[1, 2, 3, 4] | reject('even') | list", []any{1, 3}},
	{"[1, 5, 9] | select('gt', 4) | list", []any{5, 9}},
	{"users | selectattr('admin', 'defined') | map(attribute='name') | list", []any{"glance"}},
	{"users | rejectattr('admin', 'defined') | map(attribute='name') | list", []any{"nova"}},
	{"users | selectattr('name', 'equalto', 'nova') | map(attribute='uid') | first", 42436},
	{"services | dict2items | selectattr('value.enabled', 'sameas', true) | map(attribute='key') | list", []any{"api"}},
	{"users | selectattr('name', 'match', '^g') | map(attribute='name') | list", []any{"glance"}},
	{"debug | ternary('on', 'off')", "off"},
	{"nothing | ternary('on', 'off', 'unset')", "unset"},
	{"\"it's\" | quote", `'it'"'"'s'`},
	{"'simple' | quote", "simple"},
	{"'a\\nb' | indent(2)", "a\n  b"},
	{"'a\\nb' | indent(2, true)", "  a\n  b"},
	{"'%s:%d' | format('host', 80)", "host:80"},
	{"'%05.1f%%' | format(3.14159)", "003.1%"},
	{"-3 | abs", 3},
	{"2.567 | round(1)", 2.6},
	{"2.5 | round(method='floor')", 2.0},
	{"names | type_debug", "list"},
	{"'2.10.1' | version_compare('2.9', '>')", true},
	{"'a' | mandatory", "a"},
	{"'koala' | md5", "a564de63c2d0da68cf47586ee05984d7"},
	{"'koala' | sha1", "7a7363eeef16de26b23884c99b9f0700458ed74f"},
	{"{'b': 1, 'a': 2} | dictsort", []any{[]any{"a", 2}, []any{"b", 1}}},
	{"{'b': 1, 'a': 2} | dictsort(by='value')", []any{[]any{"b", 1}, []any{"a", 2}}},
	{"{'b': 1, 'a': 2} | dictsort(reverse=true)", []any{[]any{"b", 1}, []any{"a", 2}}},
}

func TestFilters(t *testing.T) {
	e := New()
	vars := testVars()
	for _, c := range filterCases {
		got, err := e.Eval("expr", c.expr, vars)
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.expr, got, c.want)
		}
	}
}

// TestCoverage fails when a filter or test is added without a case above.
func TestCoverage(t *testing.T) {
	var filterExprs, testExprs strings.Builder
	for _, c := range filterCases {
		filterExprs.WriteString(c.expr + "\n")
	}
	for expr := range testCases {
		testExprs.WriteString(expr + "\n")
	}
	seen := map[string]bool{}
	for _, re := range []string{`\|\s*(\w+)`, `map\('(\w+)'`, `(?:select|reject)\('(\w+)'`, `(?:selectattr|rejectattr)\('[\w.]+', '(\w+)'`} {
		for _, m := range regexp.MustCompile(re).FindAllStringSubmatch(filterExprs.String()+testExprs.String(), -1) {
			seen[m[1]] = true
		}
	}
	for _, name := range filterNames {
		if !seen[name] && !strings.HasPrefix(name, "test_") { // test_*: TestRegister's
			t.Errorf("filter %s has no case in TestFilters", name)
		}
	}
	isTest := regexp.MustCompile(`\bis (?:not )?(\w+)`)
	for _, m := range isTest.FindAllStringSubmatch(testExprs.String()+filterExprs.String(), -1) {
		seen[m[1]] = true
	}
	for _, name := range testNames {
		if !seen[name] && !strings.HasPrefix(name, "test_") {
			t.Errorf("test %s has no case in TestTests", name)
		}
	}
}

func TestFilterErrors(t *testing.T) {
	cases := map[string]string{
		"'%%' | b64decode":                     "not base64",
		"'x' | hash('crc')":                    "unknown hash type",
		"'[' | regex_replace('[', 'x')":        "bad regular expression",
		"missing | mandatory":                  `mandatory variable "missing" not defined`,
		"'x' | from_json":                      "not JSON",
		"'x' | ipaddr('bogus')":                "not supported",
		"{'a': 1} | map(attribute='x') | list": `no attribute "x"`,
		"'x' | put_address_in_context('y')":    "context must be",
		"'%d' | format('x')":                   "needs a number",
	}
	for expr, want := range cases {
		_, err := New().Eval("expr", expr, testVars())
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to contain %q", expr, err, want)
		}
	}
}

var testCases = map[string]bool{
	"port is defined":                        true,
	"nope is defined":                        false,
	"nope is undefined":                      true,
	"nope is not defined":                    true,
	"hostvars.cmp1.api_interface is defined": false,
	"nothing is none":                        true,
	"port is number":                         true,
	"port is integer":                        true,
	"ratio is float":                         true,
	"path is string":                         true,
	"services is mapping":                    true,
	"names is iterable":                      true,
	"names is sequence":                      true,
	"debug is boolean":                       true,
	"debug is sameas false":                  true,
	"port is eq(5000)":                       true,
	"port is ne 5000":                        false,
	"port is gt(10)":                         true,
	"port is divisibleby 1000":               true,
	"3 is odd":                               true,
	"'ctl1' is in(groups.control)":           true,
	"groups.control is contains('ctl2')":     true,
	"['a'] is subset(names)":                 true,
	"names is superset(['a', 'c'])":          true,
	"path is match('/etc')":                  true,
	"path is match('kolla')":                 false,
	"path is search('kolla')":                true,
	"'2.10' is version('2.9', '>=')":         true,
	"'2.10' is version('2.9', 'lt')":         false,
	"'1.0.0' is version('1.0')":              false,
	"result is changed":                      true,
	"result is failed":                       false,
	"result is succeeded":                    true,
	"result is skipped":                      false,
	"'abc' is lower":                         true,
	"0 is falsy":                             true,
	"debug is false":                         true,
	"debug is true":                          false,
	"port is equalto(5000)":                  true,
	"port is lt 5000":                        false,
	"port is le 5000":                        true,
	"port is ge 5001":                        false,
	"path is regex('k.lla')":                 true,
	"4 is even":                              true,
	"result is failure":                      false,
	"result is success":                      true,
	"result is successful":                   true,
	"result is change":                       true,
	"result is skip":                         false,
	"1 is truthy":                            true,
}

func TestTests(t *testing.T) {
	for expr, want := range testCases {
		if got := eval(t, expr); got != want {
			t.Errorf("%s = %v, want %v", expr, got, want)
		}
	}
}

// TestWhen evaluates `when:` conditions as playbooks write them.
func TestWhen(t *testing.T) {
	cases := map[string]bool{
		"port is defined and not (enable_foo | bool)":                   true,
		"not (enable_bar | bool)":                                       false,
		"enable_bar | bool and inventory_hostname in groups['control']": true,
		"'control' in group_names":                                      true,
		"'compute' not in group_names":                                  true,
		"inventory_hostname == groups['control'][0]":                    true,
		"inventory_hostname == groups.control | last":                   false,
		"groups['compute'] | length > 0":                                true,
		"nope is not defined or nope":                                   true,
		"port > 100 and port < 9000":                                    true,
		"100 < port < 9000":                                             true,
		"hostvars[inventory_hostname]['ansible_host'] == ansible_host":  true,
		"ansible_play_hosts | length == 3":                              true,
		"{{ port == 5000 }}":                                            true,
		"result.rc == 0 and 'ok' in result.stdout":                      true,
		"services.api.enabled | bool":                                   true,
		"services['worker']['enabled'] | bool":                          false,
		"not debug":                                                     true,
		"(port | string) ~ 'x' == '5000x'":                              true,
		"'%s:%d' % (inventory_hostname, port) == 'ctl1:5000'":           true,
		"'%s' % port == '5000'":                                         true,
		"'=' * 3 == '==='":                                              true,
	}
	e := New()
	for expr, want := range cases {
		v, err := e.Eval("site.yml:12", expr, testVars())
		if err != nil {
			t.Errorf("%s: %v", expr, err)
			continue
		}
		if Truthy(v) != want {
			t.Errorf("%s = %#v, want %v", expr, v, want)
		}
	}
}

func TestTruthy(t *testing.T) {
	truthy := []any{true, 1, 0.5, "yes", "True", "on", "1", "anything", []any{0}, map[string]any{"a": 1}}
	falsy := []any{false, 0, 0.0, nil, "", "no", "False", "off", "0", " no ", "N", "f", "None", []any{}, map[string]any{}}
	for _, v := range truthy {
		if !Truthy(v) {
			t.Errorf("Truthy(%#v) = false", v)
		}
	}
	for _, v := range falsy {
		if Truthy(v) {
			t.Errorf("Truthy(%#v) = true", v)
		}
	}
}

func TestStrictUndefined(t *testing.T) {
	src := "[DEFAULT]\nhost = {{ inventory_hostname }}\n{% for h in groups['control'] %}\npeer = {{ hostvars[h].ansible_host }}\n{% endfor %}\n\nbind = {{ bind_address }}\n"
	_, err := New().Render("roles/x/templates/x.conf.j2", src, testVars())
	want := `roles/x/templates/x.conf.j2:7: undefined variable "bind_address"`
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %s", err, want)
	}
	var u *UndefinedError
	if !errors.As(err, &u) || u.Name != "bind_address" {
		t.Errorf("errors.As UndefinedError: %v", u)
	}

	cases := []struct{ src, want string }{
		{"a\n{{ hostvars['cmp1']['api_interface'] }}", `t.j2:2: undefined variable "hostvars['cmp1']['api_interface']"`},
		{"a\n\n{{ hostvars[h] }}", `t.j2:3: undefined variable "h"`},
		{"{% if x %}a{% endif %}", `t.j2:1: undefined variable "x"`},
		{"{% for x in missing %}{% endfor %}", `t.j2:1: undefined variable "missing"`},
		{"{{ missing.attr }}", `t.j2:1: undefined variable "missing"`},
		{"{{ missing | upper }}", `t.j2:1: undefined variable "missing"`},
		{"{{ 1 + missing }}", `t.j2:1: undefined variable "missing"`},
		{"{{ missing is string }}", `t.j2:1: undefined variable "missing"`},
		{"x\n{{ users[5] }}", `t.j2:2: undefined variable "users[5]"`},
		{"{{ 'a' if false }}", `t.j2:1: undefined variable "'a' if false"`},
		{"{% if port and\n  nope %}{% endif %}", `t.j2:2: undefined variable "nope"`},
		{"{# a\ncomment #}\n{{ x }}", `t.j2:3: undefined variable "x"`},
		{"{% raw %}\n{{ a }}\n{% endraw %}\n{{ b }}", `t.j2:4: undefined variable "b"`},
		{"{{ hostvars.cmp1.facts.eth0 }}", `t.j2:1: undefined variable "hostvars.cmp1.facts"`},
	}
	for _, c := range cases {
		_, err := New().Render("t.j2", c.src, testVars())
		if err == nil || err.Error() != c.want {
			t.Errorf("%q: error %v, want %s", c.src, err, c.want)
		}
	}

	// An expression on one line has no line number: the caller's name says where.
	_, err = New().Eval("site.yml:12 when", "nope | bool", testVars())
	if err == nil || err.Error() != `site.yml:12 when: undefined variable "nope"` {
		t.Errorf("Eval error = %v", err)
	}
}

func TestTrimBlocks(t *testing.T) {
	src := "{# header\n   comment #}\n[a]\n{% if true %}\nx = 1\n{% endif %}\n{% for i in [1, 2] %}\ny{{ i }}\n{% endfor %}\n  {%- if true %} z{% endif %}\n"
	want := "[a]\nx = 1\ny1\ny2\n z" // the newline after the last endif goes too
	e := New()
	for i := 0; i < 3; i++ { // trimming happens once, not on every render
		if got := render(t, src); got != want {
			t.Fatalf("render %d = %q, want %q", i, got, want)
		}
		if got, _ := e.Render("t", src, nil); got != want {
			t.Fatalf("cached render %d = %q, want %q", i, got, want)
		}
	}
}

func TestSyntaxErrors(t *testing.T) {
	e := New()
	cases := []struct{ src, want string }{
		{"a\n{{ x | nosuchfilter }}", "t.j2:2: syntax error: Filter 'nosuchfilter' does not exist."},
		{"{{ x is nosuchtest }}", "t.j2:1: syntax error: Test 'nosuchtest' does not exist."},
		{"a\nb\n{% for x in %}{% endfor %}", "t.j2:3: syntax error"},
		{"{% if x %}", "t.j2:1: syntax error"},
		{"{{ [1, 2 }}", "t.j2:1: syntax error"},
		{"{{ 'unterminated }}", "t.j2:1: syntax error"},
		{"{{ 10 | random }}", "t.j2:1: syntax error: Usage of filter 'random' is not allowed"},
		{"a\n{% set %}", "t.j2:2: syntax error: Expected an identifier."},
		{"{{ x | default('a' }}", "t.j2:1: syntax error: Expected ',' or ')' in the argument list."},
		{"a\n{% set %}", "t.j2:2: syntax error: Expected an identifier."},
		{"{{ x | default('a' }}", "t.j2:1: syntax error: Expected ',' or ')' in the argument list."},
	}
	for _, c := range cases {
		err := e.Check("t.j2", c.src)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("Check(%q) = %v, want prefix %q", c.src, err, c.want)
		}
	}
	if err := e.Check("t.j2", "{{ x | default('a') }}"); err != nil {
		t.Errorf("Check of a valid template: %v", err)
	}
	if err := e.CheckExpr("w", "x is defined and"); err == nil {
		t.Error("CheckExpr accepted an incomplete expression")
	}
	if err := e.CheckExpr("w", "x is defined and y | bool"); err != nil {
		t.Errorf("CheckExpr: %v", err)
	}
}

func TestTemplateNative(t *testing.T) {
	e := New()
	in := map[string]any{
		"list":                         "{{ groups['control'] }}",
		"map":                          "{{ {'a': port} }}",
		"bool":                         "{{ enable_bar | bool }}",
		"int":                          "{{ port + 1 }}",
		"string":                       "port {{ port }}",
		"spaced":                       "{{port}}",
		"plain":                        "no template here",
		"number":                       7,
		"omitted":                      "{{ nope | default(omit) }}",
		"nested":                       []any{"{{ ratio }}", map[string]any{"k": "{{ debug }}", "gone": "{{ omit }}"}},
		"{{ inventory_hostname }}_key": "x",
	}
	got, err := e.Template("task", in, testVars())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"list":     []any{"ctl1", "ctl2"},
		"map":      map[string]any{"a": 5000},
		"bool":     true,
		"int":      5001,
		"string":   "port 5000",
		"spaced":   5000,
		"plain":    "no template here",
		"number":   7,
		"nested":   []any{1.5, map[string]any{"k": false}},
		"ctl1_key": "x",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Template =\n%#v\nwant\n%#v", got, want)
	}
	if in["int"] != "{{ port + 1 }}" {
		t.Error("Template modified its input")
	}
}

func TestDeterminism(t *testing.T) {
	vars := testVars()
	big := map[string]any{}
	for i := 0; i < 50; i++ {
		big[fmt.Sprintf("key%02d", i)] = map[string]any{"v": i, "w": []any{i, "x"}}
	}
	vars["big"] = big
	src := "{% for k, v in big.items() %}{{ k }}={{ v.v }};{% endfor %}\n" +
		"{% for k in big %}{{ k }},{% endfor %}\n" +
		"{% for k, v in big %}{{ v.w | join('/') }},{% endfor %}\n" +
		"{{ big | to_json }}\n{{ big | to_nice_yaml }}\n{{ big }}\n{{ big | dict2items | map(attribute='key') | join(',') }}\n"
	e := New()
	first, err := e.Render("det.j2", src, vars)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(first, "key00=0;key01=1;") {
		t.Errorf("map not walked in key order: %.40s", first)
	}
	for i := 0; i < 50; i++ {
		out, err := New().Render("det.j2", src, vars)
		if err != nil {
			t.Fatal(err)
		}
		if out != first {
			t.Fatalf("render %d differs", i)
		}
	}
}

func TestConcurrentRender(t *testing.T) {
	e := New()
	src := "{% for h in groups['all'] %}\n{{ h }}={{ hostvars[h].ansible_host }}\n{% endfor %}\n"
	want, err := e.Render("c.j2", src, testVars())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				out, err := e.Render("c.j2", src, testVars())
				if err != nil || out != want {
					t.Errorf("concurrent render: %q, %v", out, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestRenderFileAndInclude(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "part.j2"), []byte("part {{ port }}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	main := filepath.Join(dir, "main.j2")
	if err := os.WriteFile(main, []byte("{% include 'part.j2' %}end\n{{ nope }}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := New().RenderFile(main, testVars())
	if err == nil || err.Error() != main+`:2: undefined variable "nope"` {
		t.Errorf("RenderFile error = %v", err)
	}
	if err := os.WriteFile(main, []byte("{% include 'part.j2' %}end\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := New().RenderFile(main, testVars())
	if err != nil || out != "part 5000\nend\n" {
		t.Errorf("RenderFile = %q, %v", out, err)
	}
	if _, err := New().RenderFile(filepath.Join(dir, "absent.j2"), nil); err == nil {
		t.Error("RenderFile of a missing file succeeded")
	}
}

func TestCallsAndGlobals(t *testing.T) {
	cases := map[string]any{
		"range(3) | list":       []any{0, 1, 2},
		"range(1, 7, 3) | list": []any{1, 4},
		"fn_upper('a', 'b')":    "AB",
		"omit is defined":       true,
	}
	for expr, want := range cases {
		if got := eval(t, expr); !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", expr, got, want)
		}
	}
}

func TestLazy(t *testing.T) {
	e := New()
	host := func(name, addr string) map[string]any {
		vars := map[string]any{"inventory_hostname": name, "network_interface": "eth0", "addr": addr}
		raw := map[string]any{
			"api_interface": "{{ network_interface }}",
			"api_address":   "{{ addr }}",
			"api_url":       "http://{{ api_address | ipwrap }}:5000",
			"ports":         []any{"{{ 5000 + 1 }}", 80},
			"services":      map[string]any{"api": map[string]any{"image": "{{ registry }}/api", "enabled": "{{ enable_api | bool }}"}},
			"registry":      "quay.io",
			"enable_api":    "yes",
			"self_loop":     "{{ self_loop }}",
			"ab":            "{{ ba }}",
			"ba":            "{{ ab }}",
			"broken":        "{{ nope }}",
		}
		for k, v := range raw {
			vars[k] = e.Lazy(k, v, vars)
		}
		return vars
	}
	h1, h2 := host("h1", "10.0.0.1"), host("h2", "fd00::2")
	hostvars := map[string]any{"h1": h1, "h2": h2}
	h1["hostvars"], h2["hostvars"] = hostvars, hostvars

	if v := e.Lazy("plain", "no templates", h1); v != "no templates" {
		t.Errorf("Lazy of a plain string = %#v", v)
	}
	cases := map[string]string{
		"{{ api_interface }}":              "eth0",
		"{{ api_url }}":                    "http://10.0.0.1:5000",
		"{{ hostvars['h2'].api_url }}":     "http://[fd00::2]:5000",
		"{{ hostvars.h2['api_address'] }}": "fd00::2",
		"{{ ports | sum }}":                "5081",
		"{{ services.api.image }}":         "quay.io/api",
		"{{ services | to_json }}":         `{"api": {"enabled": true, "image": "quay.io/api"}}`,
		"{% for k, v in services.items() %}{{ k }}:{{ v.enabled }}{% endfor %}": "api:True",
		"{% for h in ['h1', 'h2'] %}{{ hostvars[h].api_address }} {% endfor %}": "10.0.0.1 fd00::2 ",
		"{{ services.api.enabled is sameas true }}":                             "True",
		"{{ ports }}": "[5001, 80]",
		// extract reads two entries of hostvars; the broken value in it is never rendered
		"{{ ['h1', 'h2'] | map('extract', hostvars, 'api_address') | join(' ') }}":      "10.0.0.1 fd00::2",
		"{{ ['h2'] | map('extract', hostvars, ['services', 'api', 'image']) | first }}": "quay.io/api",
	}
	for src, want := range cases {
		got, err := e.Render("t.j2", src, h1)
		if err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", src, got, err, want)
		}
	}
	if v, err := e.Eval("when", "services.api.enabled and ports[0] == 5001", h1); err != nil || v != true {
		t.Errorf("Eval over lazy values = %#v, %v", v, err)
	}
	if v, err := e.Template("task", h2["api_url"], h1); err != nil || v != "http://[fd00::2]:5000" {
		t.Errorf("Template of a lazy value = %#v, %v", v, err)
	}
	if v, err := e.Template("task", map[string]any{"p": "{{ ports }}"}, h1); err != nil || !reflect.DeepEqual(v, map[string]any{"p": []any{5001, 80}}) {
		t.Errorf("Template over lazy values = %#v, %v", v, err)
	}
	loops := map[string]string{
		"{{ self_loop }}": "t.j2:1: recursive loop detected in variables: self_loop -> self_loop",
		"x\n{{ ab }}":     "t.j2:2: recursive loop detected in variables: ab -> ba -> ab",
	}
	for src, want := range loops {
		_, err := e.Render("t.j2", src, h1)
		if err == nil || err.Error() != want {
			t.Errorf("%s: error %v, want %s", src, err, want)
		}
	}
	_, err := e.Render("t.j2", "a\n{{ broken }}", h1)
	if err == nil || err.Error() != `t.j2:2: broken: undefined variable "nope"` {
		t.Errorf("error inside a lazy value = %v", err)
	}
}

func TestImportsAndInheritance(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"macros.j2": "{% macro install(pkgs) %}RUN apt-get install -y {{ pkgs | join(' ') }}{% endmacro %}\n" +
			"{% macro user(name, uid=42400) %}{{ name }}:{{ uid }}:{{ port }}{% endmacro %}\n",
		"base.j2":  "FROM debian\n{% block header %}{% endblock %}\nRUN build\n{% block footer %}{% endblock %}\n",
		"child.j2": "{% extends \"base.j2\" %}\n{% import \"macros.j2\" as macros with context %}\n{% block header %}\n{{ macros.install(['a', 'b']) }}\n{% endblock %}\n",
		"from.j2":  "{% from \"macros.j2\" import install, user as u %}{{ install(['c']) }} {{ u('nova') }} {{ u('x', 1) }}\n",
		"pongo.j2": "{% import \"macros.j2\" user %}{{ user('glance') }}\n",
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cases := map[string]string{
		"child.j2": "FROM debian\nRUN apt-get install -y a b\nRUN build\n",
		"from.j2":  "RUN apt-get install -y c nova:42400:5000 x:1:5000\n",
		"pongo.j2": "glance:42400:5000\n",
	}
	e := New()
	for name, want := range cases {
		got, err := e.RenderFile(filepath.Join(dir, name), testVars())
		if err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want)
		}
	}
}

type mapLoader map[string]string

func (m mapLoader) Abs(base, name string) string { return name }
func (m mapLoader) Get(path string) (io.Reader, error) {
	src, ok := m[path]
	if !ok {
		return nil, fmt.Errorf("%s: no such template", path)
	}
	return strings.NewReader(src), nil
}

func init() {
	RegisterFilter("test_shout", func(in any, args []any, kw map[string]any) (any, error) {
		return strings.ToUpper(fmt.Sprint(in)) + "!", nil
	})
	RegisterTest("test_short", func(in any, args []any, kw map[string]any) (bool, error) {
		return len(fmt.Sprint(in)) < 4, nil
	})
}

func TestRegister(t *testing.T) {
	if got := eval(t, "'hi' | test_shout"); got != "HI!" {
		t.Errorf("registered filter = %#v", got)
	}
	if got := eval(t, "'hi' is test_short and not ('long one' is test_short)"); got != true {
		t.Errorf("registered test = %#v", got)
	}
}

func TestLoader(t *testing.T) {
	e := NewWithLoader(mapLoader{
		"images/base/Dockerfile.j2": "FROM debian\n{% block footer %}{% endblock %}\n",
		"override.j2":               "{% extends \"images/base/Dockerfile.j2\" %}{% block footer %}RUN {{ port }}{% endblock %}",
	})
	out, err := e.RenderFile("override.j2", testVars())
	if err != nil || out != "FROM debian\nRUN 5000" /* trim_blocks drops the newline after endblock */ {
		t.Errorf("RenderFile through a loader = %q, %v", out, err)
	}
	if _, err := e.RenderFile("absent.j2", nil); err == nil || !strings.Contains(err.Error(), "absent.j2: no such template") {
		t.Errorf("missing template: %v", err)
	}
}

// length counts a list in place: the engine's groups are []string, and a
// copy of a 1,000-host group per host made a run quadratic in its hosts.
func TestLengthCountsInPlace(t *testing.T) {
	group := make([]string, 1000)
	for _, in := range []any{group, map[string][]string{"a": nil, "b": nil}, "héllo"} {
		want := map[string]int{"[]string": 1000, "map[string][]string": 2, "string": 5}[fmt.Sprintf("%T", in)]
		if n, err := lengthFilter(in, nil, nil); err != nil || n != want {
			t.Errorf("length of %T: %v %v, want %d", in, n, err, want)
		}
	}
	if a := testing.AllocsPerRun(10, func() { lengthFilter(group, nil, nil) }); a > 2 {
		t.Errorf("length of a 1,000-element []string: %.0f allocations, want at most 2 (no copy)", a)
	}
}
