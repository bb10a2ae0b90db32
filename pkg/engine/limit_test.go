package engine

import (
	"context"
	"strings"
	"testing"
)

// A --limit that matches no host stops the run before any play, naming the
// pattern and the nearest host or group; one that matches runs only there.
func TestLimitMatchingNoHostIsAnError(t *testing.T) {
	pb, _ := loadPB(t, map[string]string{
		"site.yml": "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: touch\n      debug: msg=hi\n",
	})
	inv := loadInv(t, "[control]\nnode1 ansible_connection=local\nnode2 ansible_connection=local\n")
	col := &collector{}
	_, err := Run(context.Background(), Options{Inventory: inv, Playbook: pb, Limit: "node3", Sinks: []Sink{col}})
	if err == nil || !strings.Contains(err.Error(), `--limit "node3" matches no host`) || !strings.Contains(err.Error(), `did you mean "node1"`) {
		t.Fatalf("err = %v, want a no-host error with a suggestion", err)
	}
	if len(col.events) != 0 {
		t.Fatalf("the run emitted %d events; want none before the error", len(col.events))
	}
	recap, err := Run(context.Background(), Options{Inventory: inv, Playbook: pb, Limit: "control:!node1", Sinks: []Sink{col}})
	if err != nil {
		t.Fatal(err)
	}
	if got := recap.Order; len(got) != 1 || got[0] != "node2" {
		t.Fatalf("ran on %v, want [node2]", got)
	}
}
