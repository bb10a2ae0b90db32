package engine

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/koala-stack/koala/internal/sshtest"
	"github.com/koala-stack/koala/pkg/transport"
)

// fleetEnv is a fleet of real sshd hosts shared by the subtests of
// TestIntegration, and a directory every host can write into (the hosts are
// loopback addresses of this machine, so they share its file system).
type fleetEnv struct {
	f   *sshtest.Fleet
	out string
}

func (e *fleetEnv) run(t *testing.T, files map[string]string, extraInv string, mut func(*Options)) (*Recap, *collector) {
	t.Helper()
	pb, _ := loadPB(t, files)
	inv := loadInv(t, e.f.InventoryINI()+extraInv)
	pool := transport.NewPool(transport.PoolOptions{KnownHostsFile: e.f.KnownHosts})
	defer pool.Close()
	col := &collector{}
	opts := Options{
		Inventory: inv, Playbook: pb, Connector: pool, Sinks: []Sink{col},
		ExtraVars: []map[string]any{{"out": e.out}},
	}
	if mut != nil {
		mut(&opts)
	}
	recap, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return recap, col
}

func (e *fleetEnv) read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.out, name))
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return string(b)
}

func wantStatus(t *testing.T, col *collector, task string, want map[string]Status) {
	t.Helper()
	got := map[string]Status{}
	for h, r := range col.results(task) {
		got[h] = r.Status
		if r.Status == StatusFailed && want[h] != StatusFailed {
			t.Logf("%s on %s: %s\n%s\n%s", task, h, r.Msg, r.Stdout, r.Stderr)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("task %q: statuses %v, want %v", task, got, want)
	}
}

func TestIntegration(t *testing.T) {
	f := sshtest.Start(t, 3)
	out, err := os.MkdirTemp("", "koala-engine-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(out) })
	if err := os.Chmod(out, 0o777); err != nil {
		t.Fatal(err)
	}
	e := &fleetEnv{f: f, out: out}
	all := func(s Status) map[string]Status {
		return map[string]Status{"host1": s, "host2": s, "host3": s}
	}

	t.Run("handlers", func(t *testing.T) {
		_, col := e.run(t, map[string]string{"site.yml": `- hosts: fleet
  gather_facts: false
  tasks:
    - name: change
      command: "true"
      notify: [second, first]
    - name: change again
      command: "true"
      notify: [first, topic]
    - name: only host1
      command: "true"
      when: inventory_hostname == 'host1'
      notify: third
    - meta: flush_handlers
    - name: after flush
      command: "true"
      notify: first
  handlers:
    - name: first
      shell: echo first >> {{ out }}/h-{{ inventory_hostname }}
    - name: second
      shell: echo second >> {{ out }}/h-{{ inventory_hostname }}
    - name: by topic
      listen: topic
      shell: echo topic >> {{ out }}/h-{{ inventory_hostname }}
    - name: third
      shell: echo third >> {{ out }}/h-{{ inventory_hostname }}
`}, "", nil)
		for _, h := range []string{"host1", "host2", "host3"} {
			want := "first\nsecond\ntopic\nfirst\n"
			if h == "host1" {
				want = "first\nsecond\ntopic\nthird\nfirst\n"
			}
			if got := e.read(t, "h-"+h); got != want {
				t.Errorf("%s handlers ran:\n%s\nwant:\n%s", h, got, want)
			}
		}
		wantStatus(t, col, "third", map[string]Status{"host1": StatusChanged})
	})

	t.Run("loops and register", func(t *testing.T) {
		recap, col := e.run(t, map[string]string{"site.yml": `- hosts: fleet
  gather_facts: false
  tasks:
    - name: echo
      command: echo {{ item }}
      loop: [a, b, c]
      register: r
      changed_when: false
    - name: dict
      command: echo {{ item.key }}={{ item.value }} {{ i }}
      with_dict: {x: 1, y: 2}
      loop_control: {label: "{{ item.key }}", index_var: i}
      register: d
      changed_when: false
    - name: check
      assert:
        that:
          - r.results | map(attribute='stdout') | list == ['a', 'b', 'c']
          - r.results[1].item == 'b'
          - d.results | map(attribute='stdout') | list == ['x=1 0', 'y=2 1']
          - not r.changed
`}, "", nil)
		wantStatus(t, col, "check", all(StatusOK))
		if items := col.results("dict")["host1"].Items; len(items) != 2 || items[0].Label != "x" {
			t.Errorf("dict items %+v", items)
		}
		if recap.Failed() {
			t.Errorf("recap failed")
		}
	})

	// copy and file inspect a loop's items ahead in one round trip; Ansible's
	// semantics stay: items apply in order, when and register per item, a
	// failed item fails the task after the later items ran.
	t.Run("loop inspected ahead", func(t *testing.T) {
		site := map[string]string{"site.yml": `- hosts: fleet
  gather_facts: false
  tasks:
    - name: dirs
      file: {path: "{{ out }}/lp-{{ inventory_hostname }}-{{ item }}", state: directory, mode: "0755"}
      loop: [a, b]
    - name: files
      copy: {content: "{{ item }}\n", dest: "{{ out }}/lp-{{ inventory_hostname }}-{{ item }}/f"}
      loop: [a, missing, b, skipped]
      when: item != 'skipped'
      register: r
      ignore_errors: true
    - name: check
      assert:
        that:
          - r.results | map(attribute='changed') | list == [want, false, want, false]
          - r.results[1].failed
          - r.results[3].skipped
          - r.results[2].item == 'b'
          - r.failed
`}
		for _, want := range []string{"true", "false"} {
			_, col := e.run(t, site, "", func(o *Options) { o.ExtraVars = append(o.ExtraVars, map[string]any{"want": want == "true"}) })
			wantStatus(t, col, "files", all(StatusIgnored))
			wantStatus(t, col, "check", all(StatusOK))
			wantStatus(t, col, "dirs", all(map[string]Status{"true": StatusChanged, "false": StatusOK}[want]))
		}
		if got := e.read(t, "lp-host2-b/f"); got != "b\n" {
			t.Errorf("lp-host2-b/f: %q", got)
		}
	})

	t.Run("delegate_to and run_once", func(t *testing.T) {
		_, col := e.run(t, map[string]string{"site.yml": `- hosts: fleet
  gather_facts: false
  tasks:
    - name: delegated
      shell: echo {{ inventory_hostname }} >> {{ out }}/delegated-$(whoami)-{{ inventory_hostname }}; echo $SSH_CONNECTION
      delegate_to: host3
      register: dl
      changed_when: false
    - name: once
      command: echo {{ inventory_hostname }}
      run_once: true
      register: once
      changed_when: false
    - name: check
      assert:
        that:
          - dl.stdout.split(' ')[2] == hostvars['host3']['ansible_host']
          - once.stdout == 'host1'
`}, "", nil)
		wantStatus(t, col, "check", all(StatusOK))
		wantStatus(t, col, "once", map[string]Status{"host1": StatusOK})
		if r := col.results("delegated")["host1"]; r.Delegate != "host3" {
			t.Errorf("delegate %q", r.Delegate)
		}
	})

	t.Run("serial", func(t *testing.T) {
		_, col := e.run(t, map[string]string{"site.yml": `- hosts: fleet
  gather_facts: false
  serial: [1, 2]
  tasks:
    - name: a
      shell: echo a-{{ inventory_hostname }} >> {{ out }}/serial
    - name: b
      shell: echo b-{{ inventory_hostname }} >> {{ out }}/serial
`}, "", nil)
		lines := strings.Fields(e.read(t, "serial"))
		if len(lines) != 6 || lines[0] != "a-host1" || lines[1] != "b-host1" ||
			!strings.HasPrefix(lines[2], "a-") || !strings.HasPrefix(lines[3], "a-") || !strings.HasPrefix(lines[4], "b-") {
			t.Errorf("serial order %v", lines)
		}
		var batches [][]string
		for _, ev := range col.events {
			if p, ok := ev.(*PlayStart); ok {
				batches = append(batches, p.Hosts)
			}
		}
		if !reflect.DeepEqual(batches, [][]string{{"host1"}, {"host2", "host3"}}) {
			t.Errorf("batches %v", batches)
		}
	})

	t.Run("check mode", func(t *testing.T) {
		recap, col := e.run(t, map[string]string{"site.yml": `- hosts: fleet
  gather_facts: false
  tasks:
    - name: write
      copy: {content: "hello\n", dest: "{{ out }}/check-{{ inventory_hostname }}"}
    - name: forced real
      copy: {content: "real\n", dest: "{{ out }}/real-{{ inventory_hostname }}"}
      check_mode: false
`}, "", func(o *Options) { o.Check = true; o.Diff = true })
		wantStatus(t, col, "write", all(StatusChanged))
		if _, err := os.Stat(filepath.Join(e.out, "check-host1")); !os.IsNotExist(err) {
			t.Errorf("check mode wrote the file: %v", err)
		}
		if got := e.read(t, "real-host2"); got != "real\n" {
			t.Errorf("check_mode: false did not write: %q", got)
		}
		if recap.Hosts["host1"].Changed != 2 {
			t.Errorf("recap %+v", recap.Hosts["host1"])
		}
	})

	t.Run("unreachable host", func(t *testing.T) {
		recap, col := e.run(t, map[string]string{"site.yml": `- hosts: all
  gather_facts: false
  tasks:
    - name: first
      command: "true"
    - name: second
      command: "true"
`}, "ghost ansible_host=127.0.2.254 ansible_port=1 ansible_user=nobody\n", nil)
		wantStatus(t, col, "first", map[string]Status{"host1": StatusChanged, "host2": StatusChanged, "host3": StatusChanged, "ghost": StatusUnreachable})
		wantStatus(t, col, "second", all(StatusChanged))
		if !recap.Failed() || recap.Hosts["ghost"].Unreachable != 1 || recap.Hosts["host1"].Failed != 0 {
			t.Errorf("recap ghost %+v", recap.Hosts["ghost"])
		}
		if r := col.results("first")["ghost"]; !strings.Contains(r.Msg, "ghost") {
			t.Errorf("unreachable message does not name the host: %q", r.Msg)
		}
	})

	t.Run("block rescue always", func(t *testing.T) {
		recap, col := e.run(t, map[string]string{"site.yml": `- hosts: fleet
  gather_facts: false
  tasks:
    - block:
        - name: maybe fail
          command: "false"
          when: inventory_hostname == 'host1'
        - name: after failure
          command: "true"
      rescue:
        - name: rescue
          command: "true"
      always:
        - name: always
          command: "true"
    - block:
        - name: fail unrescued
          command: "false"
          when: inventory_hostname == 'host2'
      always:
        - name: always2
          command: "true"
    - name: last
      command: "true"
`}, "", nil)
		wantStatus(t, col, "after failure", map[string]Status{"host2": StatusChanged, "host3": StatusChanged})
		wantStatus(t, col, "rescue", map[string]Status{"host1": StatusChanged})
		wantStatus(t, col, "always", all(StatusChanged))
		wantStatus(t, col, "always2", all(StatusChanged))
		wantStatus(t, col, "last", map[string]Status{"host1": StatusChanged, "host3": StatusChanged})
		if s := recap.Hosts["host1"]; s.Rescued != 1 || s.Failed != 0 {
			t.Errorf("host1 %+v", s)
		}
		if s := recap.Hosts["host2"]; s.Failed != 1 {
			t.Errorf("host2 %+v", s)
		}
		if r := col.results("fail unrescued")["host2"]; r.RC == nil || *r.RC != 1 {
			t.Errorf("failure result %+v", r)
		}
	})

	t.Run("until retries", func(t *testing.T) {
		_, col := e.run(t, map[string]string{"site.yml": `- hosts: host1
  gather_facts: false
  tasks:
    - name: count
      shell: echo x >> {{ out }}/until; wc -l < {{ out }}/until
      register: c
      until: c.stdout | int >= 3
      retries: 5
      delay: 0
    - name: give up
      command: "false"
      register: g
      until: g.rc == 0
      retries: 1
      delay: 0
      ignore_errors: true
`}, "", nil)
		r := col.results("count")["host1"]
		if r.Status != StatusChanged || r.Attempts != 3 {
			t.Errorf("count: %s after %d attempts", r.Status, r.Attempts)
		}
		if g := col.results("give up")["host1"]; g.Status != StatusIgnored || g.Attempts != 2 {
			t.Errorf("give up: %s after %d attempts", g.Status, g.Attempts)
		}
	})

	t.Run("include and import", func(t *testing.T) {
		_, col := e.run(t, map[string]string{
			"site.yml": `- hosts: fleet
  gather_facts: false
  vars: {which: extra}
  tasks:
    - import_role: {name: r, tasks_from: setup}
    - include_role: {name: r}
      vars: {greeting: hi}
    - include_tasks: "{{ which }}.yml"
      when: inventory_hostname != 'host3'
`,
			"extra.yml":                 "- name: from include\n  command: echo {{ which }}\n",
			"roles/r/defaults/main.yml": "greeting: hello\n",
			"roles/r/tasks/setup.yml":   "- name: role setup\n  command: echo {{ greeting }}\n  register: s\n",
			"roles/r/tasks/main.yml":    "- name: role main\n  command: echo {{ greeting }}\n  register: m\n- name: role check\n  assert: {that: [s.stdout == 'hello', m.stdout == 'hi']}\n",
		}, "", nil)
		wantStatus(t, col, "role setup", all(StatusChanged))
		wantStatus(t, col, "role check", all(StatusOK))
		wantStatus(t, col, "from include", map[string]Status{"host1": StatusChanged, "host2": StatusChanged})
	})

	t.Run("become", func(t *testing.T) {
		_, col := e.run(t, map[string]string{"site.yml": `- hosts: fleet
  gather_facts: false
  tasks:
    - name: who
      command: id -un
      become: true
      register: w
    - name: plain
      command: id -un
      register: p
    - assert: {that: [w.stdout == 'root', "p.stdout == 'koalatest'"]}
`}, "", nil)
		wantStatus(t, col, "assert", all(StatusOK))
	})

	t.Run("facts and hostvars", func(t *testing.T) {
		_, col := e.run(t, map[string]string{"site.yml": `- hosts: fleet
  tasks:
    - name: check
      assert:
        that:
          - ansible_facts is defined
          - hostvars['host2']['ansible_host'] == '127.0.2.2'
          - groups['fleet'] | length == 3
`}, "", nil)
		wantStatus(t, col, "Gathering Facts", all(StatusOK))
		wantStatus(t, col, "check", all(StatusOK))
	})
}
