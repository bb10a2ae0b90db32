package kollaconfig

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
)

// Apply runs the configured strategy: COPY_ALWAYS copies on every start,
// COPY_ONCE only while the /configured marker is absent (afterwards it returns
// an ImmutableConfig error with exit code 0, as set_configs.py does).
func (rt *Runtime) Apply(cfg *Config) error {
	rt.logf("INFO", "Kolla config strategy set to: %s", rt.Strategy)
	switch rt.Strategy {
	case "COPY_ALWAYS":
	case "COPY_ONCE":
		if _, err := os.Lstat(rt.Configured); err == nil {
			return &Error{Kind: "ImmutableConfig", Msg: "The config strategy prevents copying new configs", Code: 0}
		}
	default:
		return known("InvalidConfig", "KOLLA_CONFIG_STRATEGY is not set properly (%q): want COPY_ALWAYS or COPY_ONCE", rt.Strategy)
	}
	if err := rt.handleDefaults(cfg); err != nil {
		return err
	}
	if err := rt.copyConfig(cfg); err != nil {
		return err
	}
	if err := rt.handlePermissions(cfg.Permissions); err != nil {
		return err
	}
	if rt.Strategy == "COPY_ONCE" {
		f, err := os.OpenFile(rt.Configured, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return fmt.Errorf("mark %s: %w", rt.Configured, err)
		}
		return f.Close()
	}
	return nil
}

func (rt *Runtime) copyConfig(cfg *Config) error {
	rt.logf("INFO", "Copying service configuration files")
	for _, cf := range cfg.ConfigFiles {
		if err := rt.copyEntry(cf); err != nil {
			return err
		}
	}
	rt.logf("INFO", "Writing out command to execute")
	if err := os.WriteFile(rt.RunCommand, []byte(cfg.Command), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", rt.RunCommand, err)
	}
	// Readable by the unprivileged service user whatever the umask.
	return os.Chmod(rt.RunCommand, 0o644)
}

// sources expands an entry's glob under Root; a missing non-optional source is a
// MissingRequiredSource error.
func (rt *Runtime) sources(cf ConfigFile) ([]string, error) {
	matches, err := filepath.Glob(rt.path(cf.Source))
	if err != nil {
		return nil, known("InvalidConfig", "source %q: %v", cf.Source, err)
	}
	if len(matches) == 0 && !cf.Optional {
		return nil, known("MissingRequiredSource", "%s file is not found (add it to the service's config directory or mark the entry optional)", cf.Source)
	}
	return matches, nil
}

// destFor is the destination of one matched source: dest itself, or
// dest/<basename> when dest ends with a slash.
func (rt *Runtime) destFor(cf ConfigFile, source string) string {
	if strings.HasSuffix(cf.Dest, "/") {
		return filepath.Join(rt.path(cf.Dest), filepath.Base(source))
	}
	return rt.path(cf.Dest)
}

func (rt *Runtime) copyEntry(cf ConfigFile) error {
	sources, err := rt.sources(cf)
	if err != nil {
		return err
	}
	for _, src := range sources {
		dest := rt.destFor(cf, src)
		if !cf.Merge {
			if err := rt.deletePath(dest); err != nil {
				return err
			}
		}
		if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
			return fmt.Errorf("create parent of %s: %w", dest, err)
		}
		if err := rt.mergeInto(cf, src, dest); err != nil {
			return fmt.Errorf("Unable to merge %s with %s: %w", src, dest, err)
		}
	}
	return nil
}

// mergeInto copies src onto dest: a directory is merged entry by entry (files in
// dest that src lacks stay), a file replaces dest.
func (rt *Runtime) mergeInto(cf ConfigFile, src, dest string) error {
	info, err := os.Stat(src)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return rt.copyFile(cf, src, dest)
	}
	if di, err := os.Lstat(dest); err == nil && !di.IsDir() {
		if err := rt.deletePath(dest); err != nil {
			return err
		}
	}
	if di, err := os.Stat(dest); err != nil || !di.IsDir() {
		rt.logf("INFO", "Creating directory %s", dest)
		if err := os.MkdirAll(dest, 0o755); err != nil {
			return err
		}
	}
	if err := rt.setProperties(cf, src, dest); err != nil {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := rt.mergeInto(cf, filepath.Join(src, e.Name()), filepath.Join(dest, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func (rt *Runtime) copyFile(cf ConfigFile, src, dest string) error {
	if err := rt.deletePath(dest); err != nil {
		return err
	}
	rt.logf("INFO", "Copying %s to %s", src, dest)
	if cf.Merge && cf.PreserveProperties {
		if li, err := os.Lstat(src); err == nil && li.Mode()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(src)
			if err != nil {
				return err
			}
			return os.Symlink(target, dest)
		}
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dest, os.O_CREATE|os.O_EXCL|os.O_WRONLY, info.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return rt.setProperties(cf, src, dest)
}

// setProperties gives dest the source's mode, times and owner
// (preserve_properties) or the entry's owner and perm.
func (rt *Runtime) setProperties(cf ConfigFile, src, dest string) error {
	if !cf.PreserveProperties {
		uid, gid, err := rt.lookupOwner(cf.Owner)
		if err != nil {
			return err
		}
		perm, err := parsePerm(cf.Perm)
		if err != nil {
			return known("InvalidConfig", "config_files entry %s: %v", cf.Source, err)
		}
		rt.setPerms(dest, uid, gid, perm, true)
		return nil
	}
	rt.logf("INFO", "Copying permissions from %s onto %s", src, dest)
	var st syscall.Stat_t
	if err := syscall.Stat(src, &st); err != nil {
		return err
	}
	if err := syscall.Chmod(dest, st.Mode&0o7777); err != nil {
		return err
	}
	info, err := os.Stat(src)
	if err != nil {
		return err
	}
	if err := os.Chtimes(dest, info.ModTime(), info.ModTime()); err != nil {
		return err
	}
	return os.Lchown(dest, int(st.Uid), int(st.Gid))
}

func (rt *Runtime) deletePath(path string) error {
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	rt.logf("INFO", "Deleting %s", path)
	if err := os.RemoveAll(path); err != nil {
		return fmt.Errorf("delete %s: %w", path, err)
	}
	return nil
}

// dirPerm adds the search bit wherever the read bit is set, so a directory given
// a file mode like 0600 stays usable (set_configs.py does the same).
func dirPerm(perm uint32) uint32 {
	for _, bits := range [][2]uint32{{0o400, 0o100}, {0o040, 0o010}, {0o004, 0o001}} {
		if perm&bits[0] != 0 {
			perm |= bits[1]
		}
	}
	return perm
}

// setPerms chowns and chmods one path. Failures are logged and skipped, as
// set_configs.py does: a read-only bind mount must not stop the service.
func (rt *Runtime) setPerms(path string, uid, gid int, perm uint32, hasPerm bool) {
	rt.logf("INFO", "Setting permission for %s", path)
	info, err := os.Stat(path)
	if err != nil {
		rt.logf("WARNING", "%s does not exist", path)
		return
	}
	if err := os.Chown(path, uid, gid); err != nil {
		rt.logf("ERROR", "Failed to change ownership of %s to %d:%d: %v", path, uid, gid, err)
	}
	if !hasPerm {
		return
	}
	if info.IsDir() {
		perm = dirPerm(perm)
	}
	if err := syscall.Chmod(path, perm); err != nil {
		rt.logf("ERROR", "Failed to set permission of %s to %04o: %v", path, perm, err)
	}
}

func (rt *Runtime) handlePermissions(perms []Permission) error {
	for _, p := range perms {
		uid, gid, err := rt.lookupOwner(p.Owner)
		if err != nil {
			return err
		}
		var perm uint32
		if p.Perm != "" {
			if perm, err = parsePerm(p.Perm); err != nil {
				return known("InvalidConfig", "permissions entry %s: %v", p.Path, err)
			}
		}
		var excludes []*regexp.Regexp
		for _, ex := range p.Exclude {
			re, err := regexp.Compile(ex)
			if err != nil {
				return known("InvalidConfig", "permissions entry %s: exclude %q: %v", p.Path, ex, err)
			}
			excludes = append(excludes, re)
		}
		matches, err := filepath.Glob(rt.path(p.Path))
		if err != nil {
			return known("InvalidConfig", "permissions path %q: %v", p.Path, err)
		}
		for _, dest := range matches {
			rt.setPerms(dest, uid, gid, perm, p.Perm != "")
			if info, err := os.Stat(dest); !p.Recurse || err != nil || !info.IsDir() {
				continue
			}
			err := filepath.WalkDir(dest, func(path string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if path == dest || excluded(excludes, rt.inContainer(path)) {
					return nil
				}
				rt.setPerms(path, uid, gid, perm, p.Perm != "")
				return nil
			})
			if err != nil {
				return fmt.Errorf("set permissions under %s: %w", dest, err)
			}
		}
	}
	return nil
}

// excluded reports whether any exclude pattern matches anywhere in path
// (set_configs.py uses re.search on the full path).
func excluded(excludes []*regexp.Regexp, path string) bool {
	for _, re := range excludes {
		if re.MatchString(path) {
			return true
		}
	}
	return false
}
