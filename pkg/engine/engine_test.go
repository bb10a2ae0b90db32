package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/koala-stack/koala/pkg/inventory"
	"github.com/koala-stack/koala/pkg/playbook"
	"github.com/koala-stack/koala/pkg/template"
)

// collector is a Sink that keeps every event.
type collector struct {
	mu     sync.Mutex
	events []Event
}

func (c *collector) Handle(e Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, e)
}

// results returns the HostResults of the task named name, by host.
func (c *collector) results(name string) map[string]*HostResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]*HostResult{}
	for _, e := range c.events {
		if r, ok := e.(*HostResult); ok && r.Task == name {
			out[r.Host] = r
		}
	}
	return out
}

// taskOrder lists TaskStart names in order.
func (c *collector) taskOrder() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, e := range c.events {
		if s, ok := e.(*TaskStart); ok {
			out = append(out, s.Task)
		}
	}
	return out
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// loadPB writes files into a temporary directory and loads site.yml there.
func loadPB(t *testing.T, files map[string]string) (*playbook.Playbook, string) {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, files)
	pb, err := LoadPlaybook(filepath.Join(dir, "site.yml"), nil)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return pb, dir
}

func loadInv(t *testing.T, ini string) *inventory.Inventory {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hosts.ini")
	if err := os.WriteFile(p, []byte(ini), 0o644); err != nil {
		t.Fatal(err)
	}
	inv, err := inventory.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func TestSelected(t *testing.T) {
	for _, c := range []struct {
		task, only, skip []string
		want             bool
	}{
		{nil, nil, nil, true},
		{[]string{"a"}, nil, nil, true},
		{[]string{"a"}, []string{"b"}, nil, false},
		{[]string{"a", "b"}, []string{"b"}, nil, true},
		{nil, []string{"b"}, nil, false},
		{[]string{"always"}, []string{"b"}, nil, true},
		{[]string{"always"}, []string{"b"}, []string{"always"}, false},
		{[]string{"never"}, nil, nil, false},
		{[]string{"never", "debug"}, nil, nil, false},
		{[]string{"never", "debug"}, []string{"debug"}, nil, true},
		{[]string{"never"}, []string{"all"}, nil, false},
		{[]string{"a"}, nil, []string{"a"}, false},
		{[]string{"a"}, []string{"a"}, []string{"a"}, false},
		{[]string{"a"}, []string{"tagged"}, nil, true},
		{nil, []string{"tagged"}, nil, false},
		{nil, []string{"untagged"}, nil, true},
		{[]string{"a"}, nil, []string{"tagged"}, false},
		{nil, nil, []string{"untagged"}, false},
	} {
		if got := Selected(c.task, c.only, c.skip); got != c.want {
			t.Errorf("Selected(%v, only %v, skip %v) = %v, want %v", c.task, c.only, c.skip, got, c.want)
		}
	}
}

// TestPrecedence runs only engine actions (no host is contacted) and asserts
// which layer each variable comes from.
func TestPrecedence(t *testing.T) {
	pb, _ := loadPB(t, map[string]string{
		"site.yml": `- hosts: web
  gather_facts: false
  vars: {l4: play, l5: play, l6: play, l7: play, l8: play, l9: play, l10: play}
  vars_files: [more.yml]
  roles:
    - role: r
  tasks:
    - block:
        - name: check
          vars: {l7: task, l8: task, l9: task, l10: task}
          assert:
            that:
              - l1 == 'defaults'
              - l2 == 'group'
              - l3 == 'host'
              - l4 == 'play'
              - l5 == 'vars_files'
              - l6 == 'block'
              - l7 == 'task'
              - l8 == 'set_fact'
              - l9 == 'extra'
              - l10 == 'cli'
              - derived == 'web1-defaults'
      vars: {l6: block, l7: block}
`,
		"more.yml":                  "l5: vars_files\n",
		"roles/r/defaults/main.yml": "{l1: defaults, l2: defaults, l3: defaults, l4: defaults, derived: '{{ inventory_hostname }}-{{ l1 }}'}\n",
		"roles/r/vars/main.yml":     "{l6: rolevars}\n",
		"roles/r/tasks/main.yml":    "- name: set\n  set_fact: {l8: set_fact, l9: set_fact, l10: set_fact}\n- name: rolecheck\n  assert:\n    that: [l6 == 'rolevars', l5 == 'vars_files']\n",
	})
	inv := loadInv(t, "[web]\nweb1 l3=host\n[web:vars]\nl2=group\nl3=group\n")
	col := &collector{}
	recap, err := Run(context.Background(), Options{
		Inventory: inv, Playbook: pb, Sinks: []Sink{col},
		ExtraVars: []map[string]any{{"l9": "extra", "l10": "extra"}, {"l10": "cli"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"check", "rolecheck"} {
		r := col.results(name)["web1"]
		if r == nil || r.Status != StatusOK {
			t.Errorf("%s: %+v", name, r)
		}
	}
	if recap.Failed() {
		t.Errorf("recap %+v", recap.Hosts["web1"])
	}
}

// TestLazyTemplatedVars checks that a variable defined as a template is
// rendered where it is used, with the using host's values, and that loop
// items, registered results and hostvars are visible.
func TestLazyTemplatedVars(t *testing.T) {
	pb, _ := loadPB(t, map[string]string{
		"site.yml": `- hosts: all
  gather_facts: false
  vars:
    base: "/srv/{{ inventory_hostname }}"
    paths: "{{ services | map('regex_replace', '^', base ~ '/') | list }}"
    services: [a, b]
  tasks:
    - name: item
      set_fact: {seen: "{{ seen | default([]) + [base ~ '/' ~ item] }}"}
      loop: "{{ services }}"
    - name: check
      assert:
        that:
          - seen == ['/srv/' ~ inventory_hostname ~ '/a', '/srv/' ~ inventory_hostname ~ '/b']
          - hostvars['h2']['color'] == 'blue'
          - hostvars['h2']['addr'] == 'blue-h2'
          - addr == color ~ '-' ~ inventory_hostname
          - groups['all'] | length == 2
          - "'h1' in ansible_play_hosts"
`,
	})
	inv := loadInv(t, "h1 color=red\nh2 color=blue\n[all:vars]\naddr={{ color }}-{{ inventory_hostname }}\n")
	col := &collector{}
	recap, err := Run(context.Background(), Options{Inventory: inv, Playbook: pb, Sinks: []Sink{col}})
	if err != nil {
		t.Fatal(err)
	}
	for h, r := range col.results("check") {
		if r.Status != StatusOK {
			t.Errorf("%s: %s %s", h, r.Status, r.Msg)
		}
	}
	if recap.Failed() || len(col.results("check")) != 2 {
		t.Errorf("recap %+v", recap)
	}
}

func TestRuntimeErrorNamesTaskAndHost(t *testing.T) {
	pb, _ := loadPB(t, map[string]string{
		"site.yml": "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: uses undefined\n      debug: msg={{ nope }}\n",
	})
	inv := loadInv(t, "h1\n")
	col := &collector{}
	recap, err := Run(context.Background(), Options{Inventory: inv, Playbook: pb, Sinks: []Sink{col}})
	if err != nil {
		t.Fatal(err)
	}
	r := col.results("uses undefined")["h1"]
	if r == nil || r.Status != StatusFailed || !strings.Contains(r.Msg, "nope") || !strings.Contains(r.Pos, "site.yml:4") {
		t.Fatalf("result %+v", r)
	}
	if !recap.Failed() || recap.Hosts["h1"].Failed != 1 {
		t.Errorf("recap %+v", recap.Hosts["h1"])
	}
}

func TestTruthyStrings(t *testing.T) {
	if truthy("no") || truthy("False") || !truthy("yes") || !truthy([]any{1}) || truthy(template.Omit == nil) {
		t.Error("truthy")
	}
}

func TestNoLogHidesResults(t *testing.T) {
	pb, _ := loadPB(t, map[string]string{
		"site.yml": `- hosts: all
  gather_facts: false
  vars: {secret: hunter2}
  tasks:
    - name: show
      debug: msg="{{ secret }}"
      no_log: true
    - name: loop
      debug: msg="{{ item }}"
      loop: ["{{ secret }}"]
      no_log: true
    - name: boom
      fail: msg="bad {{ secret }}"
      no_log: true
`,
	})
	col := &collector{}
	if _, err := Run(context.Background(), Options{Inventory: loadInv(t, "h1\n"), Playbook: pb, Sinks: []Sink{col}}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"show", "loop", "boom"} {
		r := col.results(name)["h1"]
		if r == nil || !r.Hidden {
			t.Fatalf("%s: %+v", name, r)
		}
		if s := fmt.Sprintf("%+v", *r); strings.Contains(s, "hunter2") {
			t.Errorf("%s leaks the secret: %s", name, s)
		}
	}
	if r := col.results("boom")["h1"]; r.Status != StatusFailed || r.Msg != hiddenMsg {
		t.Errorf("boom: %+v", r)
	}
}

func TestCancelStopsRun(t *testing.T) {
	pb, _ := loadPB(t, map[string]string{
		"site.yml": "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: wait\n      pause: seconds=3600\n    - name: never\n      debug: msg=x\n",
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	col := &collector{}
	sink := SinkFunc(func(e Event) {
		col.Handle(e)
		if s, ok := e.(*TaskStart); ok && s.Task == "wait" {
			cancel()
		}
	})
	_, err := Run(ctx, Options{Inventory: loadInv(t, "h1\nh2\n"), Playbook: pb, Sinks: []Sink{sink}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if len(col.results("never")) != 0 {
		t.Error("a task after the cancel ran")
	}
}

func TestEndHostAndFailedHostDropsOut(t *testing.T) {
	pb, _ := loadPB(t, map[string]string{
		"site.yml": `- hosts: all
  gather_facts: false
  tasks:
    - meta: end_host
      when: inventory_hostname == 'h1'
    - name: fail h2
      fail: {}
      when: inventory_hostname == 'h2'
    - name: after
      debug: msg=x
- hosts: all
  gather_facts: false
  tasks:
    - name: second play
      debug: msg=x
`,
	})
	col := &collector{}
	recap, err := Run(context.Background(), Options{Inventory: loadInv(t, "h1\nh2\nh3\n"), Playbook: pb, Sinks: []Sink{col}})
	if err != nil {
		t.Fatal(err)
	}
	if got := col.results("after"); len(got) != 1 || got["h3"] == nil {
		t.Errorf("after ran on %v", got)
	}
	if got := col.results("second play"); len(got) != 2 || got["h2"] != nil {
		t.Errorf("second play ran on %v", got)
	}
	if !reflect.DeepEqual(recap.FailedHosts(), []string{"h2"}) {
		t.Errorf("failed hosts %v", recap.FailedHosts())
	}
}

func TestDynamicInventory(t *testing.T) {
	pb, _ := loadPB(t, map[string]string{
		"site.yml": `- hosts: all
  gather_facts: false
  tasks:
    - name: group
      group_by: {key: "color_{{ color }}"}
    - name: add
      add_host: {name: extra1, groups: added, answer: 42}
- hosts: color_blue:added
  gather_facts: false
  tasks:
    - name: dynamic
      assert: {that: ["inventory_hostname != 'extra1' or answer == 42"]}
`,
	})
	col := &collector{}
	_, err := Run(context.Background(), Options{Inventory: loadInv(t, "h1 color=red\nh2 color=blue\nh3 color=blue\n"), Playbook: pb, Sinks: []Sink{col}})
	if err != nil {
		t.Fatal(err)
	}
	if got := col.results("add"); len(got) != 1 {
		t.Errorf("add_host ran %d times, want once", len(got))
	}
	got := col.results("dynamic")
	if len(got) != 3 || got["h2"] == nil || got["h3"] == nil || got["extra1"] == nil || got["extra1"].Status != StatusOK || got["h3"].Status != StatusOK {
		t.Errorf("dynamic groups: %v", got)
	}
}

func TestRoleDependenciesAndRolesPath(t *testing.T) {
	shared := t.TempDir()
	writeFiles(t, shared, map[string]string{
		"base/tasks/main.yml":    "- name: base task\n  set_fact: {order: \"{{ order | default([]) + ['base'] }}\"}\n",
		"base/defaults/main.yml": "base_port: 1\n",
	})
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"site.yml": `- hosts: all
  gather_facts: false
  roles: [app, other]
  tasks:
    - name: check
      assert: {that: ["order == ['base', 'app', 'other']", "base_port == 1"]}
`,
		"roles/app/meta/main.yml":    "dependencies:\n  - role: base\n",
		"roles/app/tasks/main.yml":   "- name: app task\n  set_fact: {order: \"{{ order + ['app'] }}\"}\n",
		"roles/other/meta/main.yml":  "dependencies: [base]\n",
		"roles/other/tasks/main.yml": "- name: other task\n  set_fact: {order: \"{{ order + ['other'] }}\"}\n",
	})
	pb, err := LoadPlaybook(filepath.Join(dir, "site.yml"), []playbook.Source{{FS: os.DirFS(shared), Dir: ".", Display: "shared"}})
	if err != nil {
		t.Fatal(err)
	}
	col := &collector{}
	if _, err := Run(context.Background(), Options{Inventory: loadInv(t, "h1\n"), Playbook: pb, Sinks: []Sink{col}}); err != nil {
		t.Fatal(err)
	}
	if r := col.results("check")["h1"]; r == nil || r.Status != StatusOK {
		t.Errorf("check: %+v (tasks ran: %v)", r, col.taskOrder())
	}
}

func TestTaskNamesAreTemplated(t *testing.T) {
	pb, _ := loadPB(t, map[string]string{
		"site.yml": `- hosts: all
  gather_facts: false
  vars: {project_name: keystone}
  tasks:
    - name: "Check {{ project_name }} containers"
      debug: msg=hi
    - name: "Raw {{ nope }}"
      debug: msg=hi
`,
	})
	col := &collector{}
	if _, err := Run(context.Background(), Options{Inventory: loadInv(t, "h1\n"), Playbook: pb, Sinks: []Sink{col}}); err != nil {
		t.Fatal(err)
	}
	if got := col.taskOrder(); len(got) != 2 || got[0] != "Check keystone containers" || got[1] != "Raw {{ nope }}" {
		t.Errorf("task names %q, want the first rendered and the undefined one raw", got)
	}
	if r := col.results("Check keystone containers")["h1"]; r == nil || r.Status != StatusOK {
		t.Errorf("the host result carries the rendered name too: %+v", r)
	}
	for _, e := range col.events {
		if end, ok := e.(*TaskEnd); ok && end.Elapsed <= 0 {
			t.Errorf("task_end %q has no elapsed time", end.Task)
		}
	}
}

// ansible_play_hosts leaves out the hosts that failed, and has a rescued
// host again (the engine keeps the list between failures).
func TestPlayHostsAfterFailureAndRescue(t *testing.T) {
	pb, _ := loadPB(t, map[string]string{
		"site.yml": `- hosts: all
  gather_facts: false
  tasks:
    - name: before
      assert: {that: ["ansible_play_hosts == ['h1', 'h2', 'h3']"]}
    - name: h3 fails
      fail: {msg: down}
      when: inventory_hostname == 'h3'
    - name: after a failure
      assert: {that: ["ansible_play_hosts == ['h1', 'h2']"]}
    - block:
        - name: h2 fails in a block
          fail: {msg: rescued}
          when: inventory_hostname == 'h2'
        - name: rest of the block
          assert: {that: ["ansible_play_hosts == ['h1']"]}
      rescue:
        - name: in rescue
          debug: msg=rescue
    - name: after the rescue
      assert: {that: ["ansible_play_hosts == ['h1', 'h2']"]}
`,
	})
	col := &collector{}
	if _, err := Run(context.Background(), Options{Inventory: loadInv(t, "h1\nh2\nh3\n"), Playbook: pb, Sinks: []Sink{col}}); err != nil {
		t.Fatal(err)
	}
	for task, hosts := range map[string][]string{"before": {"h1", "h2", "h3"}, "after a failure": {"h1", "h2"}, "rest of the block": {"h1"}, "after the rescue": {"h1", "h2"}} {
		rs := col.results(task)
		for _, h := range hosts {
			if r := rs[h]; r == nil || r.Status != StatusOK {
				t.Errorf("%s on %s: %+v", task, h, r)
			}
		}
		if len(rs) != len(hosts) {
			t.Errorf("%s ran on %d hosts, want %v", task, len(rs), hosts)
		}
	}
}
