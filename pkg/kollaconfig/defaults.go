package kollaconfig

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// The image's own files that config.json overrides are backed up the first
// time they are replaced, so that a file later dropped from config.json goes
// back to the image's version (or away, if the image had none) instead of
// lingering from an older configuration. This is Kolla's defaults state
// (set_configs.py since 2025.1), with the same file and JSON layout.
const (
	DefaultsDir   = "/etc/kolla/defaults"
	defaultsState = DefaultsDir + "/state"
)

// defaultEntry records one overridden path: Dest is the backup of the image's
// file under DefaultsDir, or nil when the image had nothing there.
//
// Upstream swaps source and dest in memory while restoring and saves the
// swapped entries, so its second restore copies the running file over the
// backup; here entries are never mutated.
type defaultEntry struct {
	Source             string  `json:"source"`
	PreserveProperties bool    `json:"preserve_properties"`
	Dest               *string `json:"dest"`
}

func (rt *Runtime) loadDefaults() (map[string]defaultEntry, error) {
	state := map[string]defaultEntry{}
	data, err := os.ReadFile(rt.path(defaultsState))
	if errors.Is(err, fs.ErrNotExist) {
		return state, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read defaults state: %w", err)
	}
	if err := json.Unmarshal(data, &state); err != nil {
		return nil, known("InvalidConfig", "defaults state %s is corrupt (%v): remove it and restart the container from a fresh image", rt.path(defaultsState), err)
	}
	return state, nil
}

// currentDests lists the in-container destinations config.json writes, one per
// matched source.
func (rt *Runtime) currentDests(cfg *Config) (map[string]string, error) {
	dests := map[string]string{}
	for _, cf := range cfg.ConfigFiles {
		sources, err := rt.sources(cf)
		if err != nil {
			return nil, err
		}
		for _, src := range sources {
			dests[rt.inContainer(rt.destFor(cf, src))] = src
		}
	}
	return dests, nil
}

// handleDefaults restores every recorded path to the image's version, forgets
// the ones config.json no longer lists, then records (and backs up) the
// destinations config.json is about to overwrite for the first time.
func (rt *Runtime) handleDefaults(cfg *Config) error {
	state, err := rt.loadDefaults()
	if err != nil {
		return err
	}
	restore := ConfigFile{PreserveProperties: true}
	for _, path := range sortedKeys(state) {
		e := state[path]
		if e.Dest == nil {
			if err := rt.deletePath(rt.path(path)); err != nil {
				return err
			}
			continue
		}
		rt.logf("INFO", "Restoring the image's %s", path)
		if err := rt.deletePath(rt.path(path)); err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(rt.path(path)), 0o755); err != nil {
			return fmt.Errorf("restore %s: %w", path, err)
		}
		if err := rt.mergeInto(restore, rt.path(*e.Dest), rt.path(path)); err != nil {
			return fmt.Errorf("restore %s from %s: %w", path, *e.Dest, err)
		}
	}
	dests, err := rt.currentDests(cfg)
	if err != nil {
		return err
	}
	// A restored path config.json no longer lists is the image's again: forget
	// it, so --check agrees once the container has restarted (upstream keeps
	// the entry and reports StateMismatch from then on).
	for _, path := range sortedKeys(state) {
		if _, ok := dests[path]; ok {
			continue
		}
		if e := state[path]; e.Dest != nil {
			if err := rt.deletePath(rt.path(*e.Dest)); err != nil {
				return err
			}
		}
		delete(state, path)
	}
	for _, dest := range sortedKeys(dests) {
		if _, ok := state[dest]; ok {
			continue
		}
		e := defaultEntry{Source: dest, PreserveProperties: true}
		if _, err := os.Lstat(rt.path(dest)); err == nil {
			backup := DefaultsDir + dest
			rt.logf("INFO", "Saving the image's %s as %s", dest, backup)
			if err := os.MkdirAll(filepath.Dir(rt.path(backup)), 0o755); err != nil {
				return fmt.Errorf("back up %s: %w", dest, err)
			}
			if err := rt.deletePath(rt.path(backup)); err != nil {
				return err
			}
			if err := rt.mergeInto(restore, rt.path(dest), rt.path(backup)); err != nil {
				return fmt.Errorf("back up %s: %w", dest, err)
			}
			e.Dest = &backup
		}
		state[dest] = e
	}
	data, err := json.MarshalIndent(state, "", "    ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(rt.path(DefaultsDir), 0o755); err != nil {
		return fmt.Errorf("save defaults state: %w", err)
	}
	if err := os.WriteFile(rt.path(defaultsState), data, 0o600); err != nil {
		return fmt.Errorf("save defaults state: %w", err)
	}
	return nil
}

// checkDefaults reports recorded paths config.json no longer writes: the next
// start would restore or remove them, so the running state differs.
func (rt *Runtime) checkDefaults(cfg *Config) ([]string, error) {
	state, err := rt.loadDefaults()
	if err != nil {
		return nil, err
	}
	dests, err := rt.currentDests(cfg)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, path := range sortedKeys(state) {
		if _, ok := dests[path]; !ok {
			removed = append(removed, path)
		}
	}
	if len(removed) == 0 {
		return nil, nil
	}
	return []string{fmt.Sprintf("The following config files are tracked in state but missing from config.json. They would be restored or removed: [%s]", strings.Join(removed, ", "))}, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
