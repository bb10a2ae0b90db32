package template

import (
	"fmt"
	"strings"
	"testing"
)

// benchSrc is bench/ansible-baseline/templates/svc.conf.j2: a loop over a
// group with a hostvars lookup per member.
const benchSrc = `[DEFAULT]
host = {{ inventory_hostname }}
bind = {{ ansible_host }}
debug = {{ debug | default(false) | bool }}
{% for g in groups['fleet'] %}
peer_{{ loop.index }} = {{ hostvars[g]['ansible_host'] }}:{{ port }}
{% endfor %}
[database]
connection = mysql+pymysql://svc:{{ secret }}@{{ vip }}:3306/{{ item }}
`

// benchVars builds the vars of one host of a 200-host fleet with 3 peers in
// the group and 500 unrelated variables, the size of kolla's globals.
func benchVars() map[string]any {
	hostvars := map[string]any{}
	for i := 0; i < 200; i++ {
		hostvars[fmt.Sprintf("node%03d", i)] = map[string]any{"ansible_host": fmt.Sprintf("10.0.%d.%d", i/250, i%250)}
	}
	vars := map[string]any{
		"inventory_hostname": "node000",
		"ansible_host":       "10.0.0.0",
		"groups":             map[string]any{"fleet": []any{"node000", "node001", "node002"}},
		"hostvars":           hostvars,
		"port":               8080,
		"secret":             "s3cr3t",
		"vip":                "10.0.9.9",
		"item":               "db",
	}
	for i := 0; i < 500; i++ {
		vars[fmt.Sprintf("global_%d", i)] = "value"
	}
	return vars
}

// BenchmarkRender renders the template once per iteration, as the engine
// does 40 times per host for 200 hosts (8000 renders per run).
func BenchmarkRender(b *testing.B) {
	e := New()
	vars := benchVars()
	if _, err := e.Render("svc.conf.j2", benchSrc, vars); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.Render("svc.conf.j2", benchSrc, vars); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEval evaluates a typical `when:` condition.
func BenchmarkEval(b *testing.B) {
	e := New()
	vars := benchVars()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := e.Eval("when", "inventory_hostname in groups['fleet'] and not (debug | default(false) | bool)", vars); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderLazy is BenchmarkRender with the host's address a lazy
// variable ("{{ ansible_host }}"), as role defaults make most variables.
func BenchmarkRenderLazy(b *testing.B) {
	e := New()
	vars := benchVars()
	vars["bind_address"] = e.Lazy("bind_address", "{{ ansible_host }}", vars)
	src := strings.Replace(benchSrc, "{{ ansible_host }}", "{{ bind_address }}", 1)
	if out, err := e.Render("svc.conf.j2", src, vars); err != nil || !strings.Contains(out, "bind = 10.0.0.0") {
		b.Fatal(out, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.Render("svc.conf.j2", src, vars); err != nil {
			b.Fatal(err)
		}
	}
}
