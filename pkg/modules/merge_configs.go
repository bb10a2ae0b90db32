package modules

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/koala-stack/koala/pkg/configmerge"
)

// mergeModule is kolla-ansible's merge_configs (oslo INI) and merge_yaml: it
// renders each source on the deploy host, merges them in order (later ones
// win) and writes the result as copy does: only when the host's file differs.
type mergeModule struct {
	yaml bool
}

func init() {
	Register(mergeModule{}, "merge_configs", "kolla.merge_configs")
	Register(mergeModule{yaml: true}, "merge_yaml", "kolla.merge_yaml")
}

func (m mergeModule) name() string {
	if m.yaml {
		return "merge_yaml"
	}
	return "merge_configs"
}

func (m mergeModule) Args() (accepted, required []string) {
	// whitespace (merge_configs) and yaml_width (merge_yaml) shape
	// kolla-ansible's output formatting; koala's output is fixed, so both are
	// accepted and ignored.
	return []string{"sources", "dest", "mode", "owner", "group", "whitespace", "yaml_width", "backup"}, []string{"sources", "dest"}
}

func (m mergeModule) Run(ctx context.Context, t *Task) (Result, error) {
	name := m.name()
	a := newArgs(t.Args)
	sources := a.list("sources")
	spec := putSpec{
		dest:   a.str("", "dest"),
		owner:  a.str("", "owner"),
		group:  a.str("", "group"),
		backup: a.boolean(false, "backup"),
		force:  true,
	}
	spec.mode, spec.hasMode = a.mode("mode")
	if spec.dest == "" {
		a.bad("dest is empty")
	}
	if len(sources) == 0 {
		a.bad("sources is empty")
	}
	if err := a.err(name); err != nil {
		return Result{}, err
	}
	var ini []configmerge.INISource
	var yml []configmerge.YAMLSource
	var used, skipped []any
	for _, src := range sources {
		data, display, found, err := t.mergeSource(src)
		if err != nil {
			return Result{}, fmt.Errorf("%s %s: %w", name, spec.dest, err)
		}
		if !found {
			skipped = append(skipped, src)
			continue
		}
		if t.Render == nil {
			return Result{}, fmt.Errorf("%s: no renderer configured (engine bug)", name)
		}
		out, err := t.Render(display, string(data))
		if err != nil {
			return Result{}, fmt.Errorf("%s %s: render %s: %w", name, spec.dest, display, err)
		}
		used = append(used, display)
		ini = append(ini, configmerge.INISource{Name: display, Data: []byte(out)})
		yml = append(yml, configmerge.YAMLSource{Name: display, Data: []byte(out)})
	}
	if len(used) == 0 {
		// kolla-ansible would write an empty file; an empty service config is
		// always a mistake (usually a wrong role_path), so say so instead.
		return failed("%s %s: none of the sources exists: %s", name, spec.dest, strings.Join(sources, ", ")), nil
	}
	var merged []byte
	var err error
	if m.yaml {
		merged, err = configmerge.MergeYAML(yml...)
	} else {
		merged, err = configmerge.MergeINI(ini...)
	}
	if err != nil {
		return Result{}, fmt.Errorf("%s %s: %w", name, spec.dest, err)
	}
	spec.content = merged
	r, err := t.put(ctx, spec)
	if err != nil {
		return r, err
	}
	if r.Data == nil {
		r.Data = map[string]any{}
	}
	r.Data["sources"] = used
	if len(skipped) > 0 {
		r.Data["skipped_sources"] = skipped
	}
	return r, nil
}

// mergeSource reads one source. As in kolla-ansible, an absolute path that
// does not exist (an override file the operator did not write) is skipped:
// found is false. A relative name is looked up like a template's src, and
// not finding it is an error: that is a role's bug.
func (t *Task) mergeSource(src string) (data []byte, display string, found bool, err error) {
	if !strings.HasPrefix(src, "/") {
		data, display, _, err = t.readSource("templates", src)
		if err != nil {
			return nil, "", false, err
		}
		return data, display, true, nil
	}
	data, err = os.ReadFile(src)
	switch {
	case err == nil:
		return data, src, true, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, "", false, nil
	}
	return nil, "", false, fmt.Errorf("read source: %w", err)
}
