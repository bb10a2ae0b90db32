package engine

import (
	"context"
	"testing"
)

// delegate_to is templated per loop item, and delegate_facts puts each item's
// facts on its own delegate: kolla-ansible's way of gathering the facts of the
// hosts outside --limit.
func TestDelegateToLoopItemWithDelegateFacts(t *testing.T) {
	pb, _ := loadPB(t, map[string]string{
		"site.yml": `- hosts: all
  gather_facts: false
  tasks:
    - name: gather others
      setup:
        gather_subset: [min]
      delegate_to: "{{ item }}"
      delegate_facts: true
      loop: "{{ groups['all'] | difference(ansible_play_hosts_all) }}"
      run_once: true
    - name: read others
      debug:
        msg: "{{ hostvars['h2']['ansible_hostname'] is defined }} {{ hostvars['h6']['ansible_hostname'] is defined }} {{ ansible_hostname is defined }}"
`,
	})
	// Five items, gathered at once (gathersForOthers), each on its own host.
	inv := loadInv(t, "h1 ansible_connection=local\nh2 ansible_connection=local\nh3 ansible_connection=local\nh4 ansible_connection=local\nh5 ansible_connection=local\nh6 ansible_connection=local\n")
	col := &collector{}
	recap, err := Run(context.Background(), Options{Inventory: inv, Playbook: pb, Limit: "h1", Sinks: []Sink{col}})
	if err != nil {
		t.Fatal(err)
	}
	if recap.Failed() {
		t.Fatalf("failed: %+v", col.results("gather others")["h1"])
	}
	g := col.results("gather others")["h1"]
	if g == nil || len(g.Items) != 5 {
		t.Fatalf("gather others: %+v", g)
	}
	r := col.results("read others")["h1"]
	if r == nil || r.Debug != "True True False" {
		t.Fatalf("facts landed on the wrong hosts: %+v", r)
	}
}
