package engine

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/koala-stack/koala/pkg/modules"
)

// pendingProbe reports the CheckPending paths it was given.
type pendingProbe struct{}

func (pendingProbe) Run(_ context.Context, t *modules.Task) (modules.Result, error) {
	return modules.Result{Data: map[string]any{"pending": t.CheckPending}}, nil
}

func (pendingProbe) Args() (accepted, required []string) { return nil, nil }

func init() { modules.Register(pendingProbe{}, "koala_test_pending_probe") }

// In check mode a file task that would change its dest reports it to the
// later tasks of the same host (kolla_container then knows a config file
// would have changed); a task that would not change, or a real run, does not.
func TestCheckModeTellsLaterTasksWhatWouldHaveChanged(t *testing.T) {
	dir := t.TempDir()
	same := filepath.Join(dir, "same.conf")
	if err := os.WriteFile(same, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pb, _ := loadPB(t, map[string]string{"site.yml": `- hosts: all
  gather_facts: false
  tasks:
    - copy: {dest: "` + filepath.Join(dir, "new.conf") + `", content: "new\n"}
    - copy: {dest: "` + same + `", content: "x\n"}
    - koala_test_pending_probe:
      register: probe
    - name: show
      debug: var=probe.pending
`})
	for _, checkMode := range []bool{true, false} {
		col := &collector{}
		_, err := Run(context.Background(), Options{Inventory: loadInv(t, "h1 ansible_connection=local\n"), Playbook: pb, Check: checkMode, Sinks: []Sink{col}})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"probe.pending": []string{filepath.Join(dir, "new.conf")}}
		if !checkMode {
			want = map[string]any{"probe.pending": []string(nil)}
		}
		if got := col.results("show")["h1"].Debug; !reflect.DeepEqual(got, any(want)) {
			t.Errorf("check=%v: pending %#v, want %#v", checkMode, got, want)
		}
	}
}

// The timeout keyword bounds a task: a command still running is cancelled
// and the host fails, naming the timeout; a quicker one is unaffected.
func TestTaskTimeout(t *testing.T) {
	pb, _ := loadPB(t, map[string]string{"site.yml": `- hosts: all
  gather_facts: false
  tasks:
    - name: quick
      command: "true"
      timeout: 60
    - name: hangs
      command: sleep 600
      timeout: 1
`})
	col := &collector{}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := Run(ctx, Options{Inventory: loadInv(t, "h1 ansible_connection=local\n"), Playbook: pb, Sinks: []Sink{col}}); err != nil {
		t.Fatal(err)
	}
	if r := col.results("quick")["h1"]; r == nil || r.Status != StatusChanged {
		t.Fatalf("quick: %+v", r)
	}
	r := col.results("hangs")["h1"]
	if r == nil || r.Status != StatusFailed || !strings.Contains(r.Msg, "timeout of 1s") {
		t.Fatalf("hangs: %+v", r)
	}
}

// In check mode a command is skipped, and the until, changed_when and
// failed_when that read its output are not evaluated: the wait is skipped
// instead of failing on an undefined stdout.
func TestCheckModeSkipsWaitsOnSkippedCommands(t *testing.T) {
	pb, _ := loadPB(t, map[string]string{"site.yml": `- hosts: all
  gather_facts: false
  tasks:
    - name: wait
      command: echo Synced
      register: state
      changed_when: false
      failed_when: state.rc != 0
      until: "'Synced' in state.stdout"
      retries: 2
      delay: 0
`})
	for _, checkMode := range []bool{true, false} {
		col := &collector{}
		if _, err := Run(context.Background(), Options{Inventory: loadInv(t, "h1 ansible_connection=local\n"), Playbook: pb, Check: checkMode, Sinks: []Sink{col}}); err != nil {
			t.Fatal(err)
		}
		want := map[bool]Status{true: StatusSkipped, false: StatusOK}[checkMode]
		if r := col.results("wait")["h1"]; r == nil || r.Status != want {
			t.Errorf("check=%v: %+v, want %s", checkMode, r, want)
		}
	}
}
