// Package kollaconfig is koala's kolla_set_configs: it reads Kolla's config.json
// contract inside a container, copies the service's configuration files into place
// with the requested owners and modes, applies extra permissions, writes
// /run_command, and can check whether the running files still match their sources.
//
// It follows openstack/kolla's docker/base/set_configs.py: same keys, same
// strategies (KOLLA_CONFIG_STRATEGY), same exit codes (0 done, 1 known error,
// 2 unexpected) and the same error class names in messages. Every absolute path
// is resolved under Runtime.Root so tests run against a temporary directory.
package kollaconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Defaults of the in-image contract (Kolla's paths).
const (
	DefaultConfigFile = "/var/lib/kolla/config_files/config.json"
	DefaultRunCommand = "/run_command"
	DefaultConfigured = "/configured"
)

// Config is config.json.
type Config struct {
	Command     string       `json:"command"`
	ConfigFiles []ConfigFile `json:"config_files"`
	Permissions []Permission `json:"permissions"`

	hasCommand bool
}

// ConfigFile is one entry of config_files.
type ConfigFile struct {
	Source             string `json:"source"`
	Dest               string `json:"dest"`
	Owner              string `json:"owner"`
	Perm               string `json:"perm"`
	Optional           bool   `json:"optional"`
	PreserveProperties bool   `json:"preserve_properties"`
	Merge              bool   `json:"merge"`
}

// Permission is one entry of permissions.
type Permission struct {
	Path    string   `json:"path"`
	Owner   string   `json:"owner"`
	Perm    string   `json:"perm"`
	Recurse bool     `json:"recurse"`
	Exclude []string `json:"exclude"`
}

// Error is a known failure: Kind is the class name set_configs.py uses (so log
// searches keep working) and Code the process exit status.
type Error struct {
	Kind string
	Msg  string
	Code int
}

func (e *Error) Error() string { return e.Kind + ": " + e.Msg }

func known(kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...), Code: 1}
}

// ExitCode maps an error from this package to set_configs.py's exit status:
// 0 for nil, the known error's code, 2 for anything unexpected.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 2
}

// Runtime is where kolla_set_configs works: the file system root, the contract's
// files, the strategy and where it logs.
type Runtime struct {
	Root       string // prefix for every absolute path, "" for the real root
	ConfigFile string // config.json, taken as is (not under Root)
	RunCommand string // taken as is
	Configured string // COPY_ONCE marker, taken as is
	Strategy   string // KOLLA_CONFIG_STRATEGY
	Log        io.Writer
}

// FromEnv builds a Runtime from the environment: KOLLA_CONFIG_STRATEGY, and for
// tests KOLLA_ROOT (a prefix for every path), KOLLA_CONFIG_FILE,
// KOLLA_RUN_COMMAND and KOLLA_CONFIGURED.
func FromEnv(getenv func(string) string, log io.Writer) *Runtime {
	rt := &Runtime{Root: getenv("KOLLA_ROOT"), Strategy: getenv("KOLLA_CONFIG_STRATEGY"), Log: log}
	pick := func(env, def string) string {
		if v := getenv(env); v != "" {
			return v
		}
		return rt.path(def)
	}
	rt.ConfigFile = pick("KOLLA_CONFIG_FILE", DefaultConfigFile)
	rt.RunCommand = pick("KOLLA_RUN_COMMAND", DefaultRunCommand)
	rt.Configured = pick("KOLLA_CONFIGURED", DefaultConfigured)
	return rt
}

// path resolves an absolute in-container path under Root.
func (rt *Runtime) path(p string) string {
	if rt.Root == "" {
		return p
	}
	return filepath.Join(rt.Root, p)
}

// inContainer is the inverse of path: what a path under Root is called inside
// the container.
func (rt *Runtime) inContainer(p string) string {
	if rt.Root == "" {
		return p
	}
	rel, err := filepath.Rel(rt.Root, p)
	if err != nil || strings.HasPrefix(rel, "..") {
		return p
	}
	return "/" + rel
}

func (rt *Runtime) logf(level, format string, args ...any) {
	if rt.Log == nil {
		return
	}
	ts := time.Now().Format("2006-01-02 15:04:05.000")
	fmt.Fprintf(rt.Log, "%s %s %s\n", ts, level, fmt.Sprintf(format, args...))
}

// Load reads and validates config.json.
func (rt *Runtime) Load() (*Config, error) {
	rt.logf("INFO", "Loading config file at %s", rt.ConfigFile)
	data, err := os.ReadFile(rt.ConfigFile)
	if err != nil {
		return nil, known("InvalidConfig", "Could not read file %s: %v (is /etc/kolla/<service>/ mounted at /var/lib/kolla/config_files/?)", rt.ConfigFile, err)
	}
	cfg, err := parse(data)
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		line := 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))
		return nil, known("InvalidConfig", "%s:%d: invalid JSON: %v", rt.ConfigFile, line, err)
	case err != nil:
		return nil, known("InvalidConfig", "%s: %v", rt.ConfigFile, err)
	}
	rt.logf("INFO", "Validating config file")
	if err := rt.validate(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// parse decodes config.json, rejecting unknown keys in entries (set_configs.py
// fails on them too, with a Python traceback).
func parse(data []byte) (*Config, error) {
	var raw struct {
		Command     *string           `json:"command"`
		ConfigFiles []json.RawMessage `json:"config_files"`
		Permissions []json.RawMessage `json:"permissions"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	cfg, err := decodeEntries(raw.ConfigFiles, raw.Permissions)
	if err != nil {
		return nil, err
	}
	if raw.Command != nil {
		cfg.Command, cfg.hasCommand = *raw.Command, true
	}
	return cfg, nil
}

func decodeEntries(files, perms []json.RawMessage) (*Config, error) {
	cfg := &Config{}
	for i, m := range files {
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(m, &keys); err != nil {
			return nil, fmt.Errorf("config_files[%d]: %w", i, err)
		}
		for _, k := range []string{"source", "dest"} {
			if _, ok := keys[k]; !ok {
				return nil, fmt.Errorf("config_files[%d]: missing required key %q", i, k)
			}
		}
		var cf ConfigFile
		if err := strictDecode(m, &cf); err != nil {
			return nil, fmt.Errorf("config_files[%d]: %w", i, err)
		}
		_, hasOwner := keys["owner"]
		_, hasPerm := keys["perm"]
		if (!hasOwner || !hasPerm) && !cf.PreserveProperties {
			return nil, fmt.Errorf("config_files[%d] (%s): Config needs preserve_properties or owner and perm", i, cf.Source)
		}
		cfg.ConfigFiles = append(cfg.ConfigFiles, cf)
	}
	for i, m := range perms {
		var p Permission
		if err := strictDecode(m, &p); err != nil {
			return nil, fmt.Errorf("permissions[%d]: %w", i, err)
		}
		if p.Path == "" || p.Owner == "" {
			return nil, fmt.Errorf("permissions[%d]: needs path and owner", i)
		}
		cfg.Permissions = append(cfg.Permissions, p)
	}
	return cfg, nil
}

func strictDecode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// validate checks what set_configs.py checks, plus every owner, mode and exclude
// pattern up front, so a bad entry stops the run before any file is touched.
func (rt *Runtime) validate(cfg *Config) error {
	if !cfg.hasCommand {
		return known("InvalidConfig", `Config is missing required "command" key`)
	}
	for _, cf := range cfg.ConfigFiles {
		if cf.PreserveProperties { // owner and perm are ignored then, as upstream
			continue
		}
		if _, err := parsePerm(cf.Perm); err != nil {
			return known("InvalidConfig", "config_files entry %s: %v", cf.Source, err)
		}
		if _, _, err := rt.lookupOwner(cf.Owner); err != nil {
			return err
		}
	}
	for _, p := range cfg.Permissions {
		if p.Perm != "" {
			if _, err := parsePerm(p.Perm); err != nil {
				return known("InvalidConfig", "permissions entry %s: %v", p.Path, err)
			}
		}
		if _, _, err := rt.lookupOwner(p.Owner); err != nil {
			return err
		}
		for _, ex := range p.Exclude {
			if _, err := regexp.Compile(ex); err != nil {
				return known("InvalidConfig", "permissions entry %s: exclude %q: %v", p.Path, ex, err)
			}
		}
	}
	return nil
}

// parsePerm reads a mode as set_configs.py does: octal, with or without a leading
// 0 or 0o ("0600", "600", "0o600").
func parsePerm(s string) (uint32, error) {
	t := strings.TrimPrefix(strings.TrimPrefix(s, "0o"), "0O")
	v, err := strconv.ParseUint(t, 8, 32)
	if err != nil || v > 0o7777 {
		return 0, fmt.Errorf("perm %q is not an octal mode like \"0600\"", s)
	}
	return uint32(v), nil
}

// userGroup splits "user", "user:" and "user:group" as set_configs.py does.
func userGroup(owner string) (string, string) {
	user, group, ok := strings.Cut(owner, ":")
	if !ok || group == "" {
		return user, user
	}
	return user, group
}
