package engine

import (
	"context"
	"testing"
)

// A run_once set_fact gives its facts to every host of the batch, as
// ansible-core does (checked with ansible-playbook 2.14 on the same play):
// kolla-ansible's roles compute a value once and read it on every host.
func TestRunOnceSetFactReachesEveryHost(t *testing.T) {
	col := runPlays(t, `- hosts: all
  gather_facts: false
  tasks:
    - name: once
      set_fact:
        picked: "{{ inventory_hostname }}"
      run_once: true
    - name: read
      debug:
        msg: "{{ picked | default('unset') }}"
`)
	got := col.results("read")
	for _, h := range []string{"h1", "h2", "h3"} {
		if got[h] == nil || got[h].Debug != "h1" {
			t.Errorf("%s: picked = %+v, want h1", h, got[h])
		}
	}
}

// runPlays runs site.yml on h1..h3 (local) and returns the hosts that ran
// each named task, in the collector's per-task result maps.
func runPlays(t *testing.T, site string) *collector {
	t.Helper()
	pb, _ := loadPB(t, map[string]string{"site.yml": site})
	inv := loadInv(t, "h1 ansible_connection=local\nh2 ansible_connection=local\nh3 ansible_connection=local\n")
	col := &collector{}
	if _, err := Run(context.Background(), Options{Inventory: inv, Playbook: pb, Sinks: []Sink{col}}); err != nil {
		t.Fatal(err)
	}
	return col
}

const play2 = `
- hosts: all
  gather_facts: false
  tasks:
    - name: play2
      debug: {msg: play2}
`

// What ansible-playbook 2.14 ran for the same playbooks: after
// any_errors_fatal, max_fail_percentage, a failed run_once task, or a batch
// where every host failed, nothing more runs, later plays included.
func TestFailLimitsEndTheRun(t *testing.T) {
	for name, play1 := range map[string]string{
		"any_errors_fatal": `- hosts: all
  gather_facts: false
  any_errors_fatal: true
  tasks:
    - fail: {msg: boom}
      when: inventory_hostname == 'h2'
    - name: after
      debug: {msg: after}
`,
		"max_fail_percentage": `- hosts: all
  gather_facts: false
  max_fail_percentage: 30
  tasks:
    - fail: {msg: boom}
      when: inventory_hostname == 'h1'
    - name: after
      debug: {msg: after}
`,
		"failed run_once": `- hosts: all
  gather_facts: false
  tasks:
    - fail: {msg: boom}
      run_once: true
    - name: after
      debug: {msg: after}
`,
		"every host of a batch failed": `- hosts: all
  gather_facts: false
  serial: 1
  tasks:
    - fail: {msg: boom}
      when: inventory_hostname == 'h1'
    - name: after
      debug: {msg: after}
`,
	} {
		t.Run(name, func(t *testing.T) {
			col := runPlays(t, play1+play2)
			if got := col.results("after"); len(got) != 0 {
				t.Errorf("play 1 went on after the failure on %d hosts", len(got))
			}
			if got := col.results("play2"); len(got) != 0 {
				t.Errorf("play 2 ran on %d hosts", len(got))
			}
		})
	}
}

// meta: end_play ends every batch of the play, end_batch only the current
// one; both ask their when of the batch's first host (ansible-core 2.14).
func TestEndPlayAndEndBatch(t *testing.T) {
	for meta, wantAfter := range map[string]int{"end_play": 0, "end_batch": 2} {
		t.Run(meta, func(t *testing.T) {
			col := runPlays(t, `- hosts: all
  gather_facts: false
  serial: 1
  tasks:
    - meta: `+meta+`
      when: inventory_hostname == 'h1'
    - name: after
      debug: {msg: after}
`+play2)
			after := col.results("after")
			if len(after) != wantAfter || after["h1"] != nil {
				t.Errorf("after ran on %d hosts (h1: %v), want %d, not h1", len(after), after["h1"] != nil, wantAfter)
			}
			if got := col.results("play2"); len(got) != 3 {
				t.Errorf("play 2 ran on %d hosts, want 3", len(got))
			}
		})
	}
}
