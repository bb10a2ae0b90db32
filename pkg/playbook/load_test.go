package playbook

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/koala-stack/koala/pkg/modules"
	"github.com/koala-stack/koala/pkg/template"
)

func load(t *testing.T, files map[string]string) (*Playbook, error) {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, body := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(body)}
	}
	return Load(Source{FS: fsys, Dir: ".", Display: "pb"}, "site.yml", Options{CheckTemplate: template.New().Check, Modules: modules.Catalog{}})
}

func problems(t *testing.T, err error) []string {
	t.Helper()
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("want Errors, got %v", err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Error())
	}
	return out
}

func TestLoadPositionsAndStructure(t *testing.T) {
	pb, err := load(t, map[string]string{
		"site.yml": `- hosts: all
  vars: {a: 1}
  roles:
    - web
  tasks:
    - name: one
      command: echo hi chdir=/tmp
    - block:
        - shell: "ls | wc -l"
      rescue:
        - debug: msg=rescued
    - import_tasks: more.yml
      tags: [x]
  handlers:
    - name: restart
      command: "true"
`,
		"more.yml": `- name: imported
  ansible.builtin.file:
    path: /tmp/x
    state: directory
`,
		"roles/web/tasks/main.yml":    "- name: role task\n  debug: msg={{ greeting }}\n",
		"roles/web/defaults/main.yml": "greeting: hello\n",
		"roles/web/handlers/main.yml": "- name: reload web\n  command: \"true\"\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	p := pb.Plays[0]
	if p.Pos.String() != "pb/site.yml:1" {
		t.Errorf("play pos %s", p.Pos)
	}
	// roles come first, as one block per role
	if len(p.Tasks) != 4 || !p.Tasks[0].IsBlock || p.Tasks[0].Block[0].Name != "role task" {
		t.Fatalf("tasks: %+v", p.Tasks)
	}
	rt := p.Tasks[0].Block[0]
	if rt.Pos.String() != "pb/roles/web/tasks/main.yml:1" || rt.Role == nil || rt.Role.Defaults["greeting"] != "hello" {
		t.Errorf("role task %s role %+v", rt.Pos, rt.Role)
	}
	one := p.Tasks[1]
	if one.Pos.Line != 6 || one.Action != "command" {
		t.Errorf("task one: line %d action %s", one.Pos.Line, one.Action)
	}
	if want := map[string]any{RawParams: "echo hi", "chdir": "/tmp"}; !reflect.DeepEqual(one.Args, want) {
		t.Errorf("args %v, want %v", one.Args, want)
	}
	blk := p.Tasks[2]
	if !blk.IsBlock || len(blk.Block) != 1 || len(blk.Rescue) != 1 || blk.Block[0].Pos.Line != 9 {
		t.Errorf("block %+v", blk)
	}
	imp := p.Tasks[3]
	if !imp.IsBlock || imp.Block[0].Action != "file" || imp.Block[0].Pos.String() != "pb/more.yml:1" || imp.Tags[0] != "x" {
		t.Errorf("import %+v", imp)
	}
	// Role handlers come before the play's, as in Ansible.
	if len(p.Handlers) != 2 || p.Handlers[0].Name != "reload web" || p.Handlers[1].Name != "restart" {
		t.Errorf("handlers %+v", p.Handlers)
	}
}

func TestLoadReportsEveryProblemAtOnce(t *testing.T) {
	_, err := load(t, map[string]string{
		"site.yml": `- hosts: all
  tasks:
    - name: typo keyword
      command: "true"
      whn: x
    - name: unknown module
      comand: ls
    - name: bad arg
      copy:
        dset: /tmp/x
        content: hi
    - name: bad template
      debug:
        msg: "{{ foo | }}"
    - name: missing src
      template: src=nope.j2 dest=/tmp/x
    - name: missing include
      include_tasks: gone.yml
    - name: missing role
      include_role: name=nobody
    - name: bad loop_control
      debug: msg=x
      loop: [1]
      loop_control: {loopvar: y}
    - name: free form on copy
      copy: just words
    - name: bad notify
      command: "true"
      notify: restrat
  handlers:
    - name: restart
      command: "true"
    - debug: msg=anonymous
`,
	})
	got := strings.Join(problems(t, err), "\n")
	for _, want := range []string{
		`pb/site.yml:5: unknown task keyword or module "whn" (did you mean "when"?)`,
		`pb/site.yml:7: unknown task keyword or module "comand" (did you mean "command"?)`,
		`pb/site.yml:10: copy: unknown argument "dset" (did you mean "dest"?)`,
		`pb/site.yml:14: debug msg: template syntax`,
		`pb/site.yml:16: template: template "nope.j2" not found`,
		`pb/site.yml:18: tasks file pb/gone.yml not found`,
		`pb/site.yml:20: role "nobody" not found`,
		`pb/site.yml:24: unknown loop_control key "loopvar" (did you mean "loop_var"?)`,
		`pb/site.yml:26: copy: argument "just" is not of the form key=value`,
		`pb/site.yml:27: notify: no handler named or listening to "restrat" in this play (did you mean "restart"?)`,
		`pb/site.yml:33: handler has neither name nor listen`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing problem %q in:\n%s", want, got)
		}
	}
}

func TestLoadYAMLSyntaxError(t *testing.T) {
	_, err := load(t, map[string]string{"site.yml": "- hosts: all\n  tasks:\n    - name: x\n     debug: msg=1\n"})
	got := problems(t, err)
	if len(got) != 1 || !strings.HasPrefix(got[0], "pb/site.yml:2: YAML syntax:") {
		t.Errorf("got %q", got)
	}
}

func TestLoadPlayProblems(t *testing.T) {
	_, err := load(t, map[string]string{"site.yml": `- name: no hosts
  tsks: []
- hosts: all
  serial: "abc"
  roles: [ghost]
`})
	got := strings.Join(problems(t, err), "\n")
	for _, want := range []string{
		`pb/site.yml:1: play has no hosts`,
		`pb/site.yml:2: unknown play keyword "tsks" (did you mean "tasks"?)`,
		`pb/site.yml:4: serial: "abc" is not a host count or a percentage`,
		`pb/site.yml:5: role "ghost" not found (looked in pb/roles/ghost)`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
}

func TestTemplateFileChecked(t *testing.T) {
	_, err := load(t, map[string]string{
		"site.yml":            "- hosts: all\n  tasks:\n    - template: src=a.j2 dest=/tmp/a\n",
		"templates/a.j2":      "line\n{% for x in y %}\nno endfor\n",
		"roles/r/tasks/x.yml": "",
	})
	got := strings.Join(problems(t, err), "\n")
	if !strings.Contains(got, "pb/templates/a.j2: template syntax (used by pb/site.yml:3)") {
		t.Errorf("got:\n%s", got)
	}
}

func TestParseKV(t *testing.T) {
	for _, c := range []struct {
		action, in string
		want       map[string]any
		err        bool
	}{
		{"file", `path="{{ base }}/{{ item }}" state=directory mode=0755`,
			map[string]any{"path": "{{ base }}/{{ item }}", "state": "directory", "mode": "0755"}, false},
		{"copy", `dest='/tmp/a b' content="it's"`, map[string]any{"dest": "/tmp/a b", "content": "it's"}, false},
		{"debug", `msg="{{ a ~ ' ' ~ b }}"`, map[string]any{"msg": "{{ a ~ ' ' ~ b }}"}, false},
		{"shell", `echo a=b | tee /tmp/x creates=/tmp/x`, map[string]any{RawParams: "echo a=b | tee /tmp/x", "creates": "/tmp/x"}, false},
		{"command", `ls "/tmp/a b"`, map[string]any{RawParams: `ls "/tmp/a b"`}, false},
		{"meta", `flush_handlers`, map[string]any{RawParams: "flush_handlers"}, false},
		// A multi-line script (shell: |) keeps its newlines and indentation.
		{"shell", "set -e\nwhile read -r a; do\n  echo \"$a\"\ndone < /etc/hosts\n", map[string]any{RawParams: "set -e\nwhile read -r a; do\n  echo \"$a\"\ndone < /etc/hosts"}, false},
		{"shell", "echo  a\ncreates=/x\necho b", map[string]any{RawParams: "echo  a\necho b", "creates": "/x"}, false},
		{"copy", `dest="/tmp/x`, nil, true},
		{"file", `{{ oops`, nil, true},
	} {
		got, err := ParseKV(c.action, c.in)
		if (err != nil) != c.err {
			t.Errorf("%s %q: err %v", c.action, c.in, err)
			continue
		}
		if !c.err && !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s %q: got %v want %v", c.action, c.in, got, c.want)
		}
	}
}

func TestBatches(t *testing.T) {
	hosts := []string{"h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8", "h9", "h10"}
	sizes := func(serial ...string) []int {
		var ss []Serial
		for _, s := range serial {
			v, err := ParseSerial(s)
			if err != nil {
				t.Fatal(err)
			}
			ss = append(ss, v)
		}
		var out []int
		for _, b := range Batches(hosts, ss) {
			out = append(out, len(b))
		}
		return out
	}
	for _, c := range []struct {
		serial []string
		want   []int
	}{
		{nil, []int{10}},
		{[]string{"3"}, []int{3, 3, 3, 1}},
		{[]string{"30%"}, []int{3, 3, 3, 1}},
		{[]string{"1", "2", "50%"}, []int{1, 2, 5, 2}},
		{[]string{"5%"}, []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}}, // never less than one host
		{[]string{"100"}, []int{10}},
		{[]string{"0"}, []int{10}},
	} {
		if got := sizes(c.serial...); !reflect.DeepEqual(got, c.want) {
			t.Errorf("serial %v: got %v want %v", c.serial, got, c.want)
		}
	}
	if _, err := ParseSerial("150%"); err == nil {
		t.Error("150% accepted")
	}
}

func FuzzLoadPlaybook(f *testing.F) {
	f.Add("- hosts: all\n  tasks:\n    - command: ls\n")
	f.Add("- hosts: all\n  roles: [x]\n  tasks:\n    - block:\n        - debug: msg={{ a }}\n      rescue: []\n")
	f.Add("- import_playbook: site.yml\n")
	f.Add("- hosts: all\n  tasks:\n    - include_tasks: site.yml\n    - copy: src=a dest=b\n      loop: '{{ x }}'\n")
	f.Add("[1, {a: *b}]")
	f.Fuzz(func(t *testing.T, src string) {
		fsys := fstest.MapFS{"site.yml": &fstest.MapFile{Data: []byte(src)}}
		pb, err := Load(Source{FS: fsys, Dir: ".", Display: "pb"}, "site.yml", Options{CheckTemplate: template.New().Check, Modules: modules.Catalog{}})
		if err == nil && pb == nil {
			t.Fatal("nil playbook without error")
		}
	})
}
