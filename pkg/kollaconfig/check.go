package kollaconfig

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Check compares the running state with config.json (kolla_set_configs --check):
// /run_command against command, the recorded image defaults against the
// destinations still listed, and every destination against its source's
// content, and against the entry's mode and owner (or the source's with
// preserve_properties). Every difference is logged; the returned error (exit 1)
// is named after the first kind found, in upstream's order:
// ConfigFileCommandDiffers, StateMismatch, ConfigFileBadState. Files in a
// destination directory that no source provides are not reported, as upstream.
func (rt *Runtime) Check(cfg *Config) error {
	var diffs, bad []string
	kind := ""
	running, err := os.ReadFile(rt.RunCommand)
	switch {
	case err != nil:
		diffs = append(diffs, fmt.Sprintf("%s: cannot read the running command: %v", rt.RunCommand, err))
	case string(running) != cfg.Command:
		diffs = append(diffs, fmt.Sprintf("Running command differs. %s != %s", cfg.Command, running))
	}
	if len(diffs) > 0 {
		kind = "ConfigFileCommandDiffers"
	}
	stale, err := rt.checkDefaults(cfg)
	if err != nil {
		return err
	}
	if len(stale) > 0 && kind == "" {
		kind = "StateMismatch"
	}
	diffs = append(diffs, stale...)
	for _, cf := range cfg.ConfigFiles {
		sources, err := rt.sources(cf)
		if err != nil {
			return err
		}
		for _, src := range sources {
			var d []string
			if info, err := os.Stat(src); err == nil && info.IsDir() {
				d, err = rt.cmpDir(cf, src, rt.destFor(cf, src))
				if err != nil {
					return err
				}
			} else {
				d = rt.cmpFile(cf, src, rt.destFor(cf, src))
			}
			if len(d) > 0 {
				diffs = append(diffs, d...)
				bad = append(bad, rt.inContainer(src))
			}
		}
	}
	for _, d := range diffs {
		rt.logf("ERROR", "%s", d)
	}
	switch {
	case len(diffs) == 0:
		return nil
	case kind != "":
		return known(kind, "%s", diffs[0])
	default:
		return known("ConfigFileBadState", "Following files are in bad state: [%s]", strings.Join(bad, ", "))
	}
}

// want is the mode and owner a destination should have.
type want struct {
	perm     uint32
	uid, gid int
}

func (rt *Runtime) wantFor(cf ConfigFile, src string, dir bool) (want, error) {
	if cf.PreserveProperties {
		var st syscall.Stat_t
		if err := syscall.Stat(src, &st); err != nil {
			return want{}, fmt.Errorf("stat %s: %w", src, err)
		}
		return want{st.Mode & 0o7777, int(st.Uid), int(st.Gid)}, nil
	}
	uid, gid, err := rt.lookupOwner(cf.Owner)
	if err != nil {
		return want{}, err
	}
	perm, err := parsePerm(cf.Perm)
	if err != nil {
		return want{}, known("InvalidConfig", "config_files entry %s: %v", cf.Source, err)
	}
	if dir {
		perm = dirPerm(perm)
	}
	return want{perm, uid, gid}, nil
}

// cmpProps reports how dest's mode and owner differ from w.
func (rt *Runtime) cmpProps(dest string, w want) []string {
	var st syscall.Stat_t
	if err := syscall.Stat(dest, &st); err != nil {
		return []string{fmt.Sprintf("%s: %v", dest, err)}
	}
	var d []string
	if got := st.Mode & 0o7777; got != w.perm {
		d = append(d, fmt.Sprintf("%s: does not have expected perm: %04o, actual: %04o", dest, w.perm, got))
	}
	if int(st.Uid) != w.uid {
		d = append(d, fmt.Sprintf("%s: does not have expected user: %s, actual: %s", dest,
			rt.nameOf("/etc/passwd", w.uid), rt.nameOf("/etc/passwd", int(st.Uid))))
	}
	if int(st.Gid) != w.gid {
		d = append(d, fmt.Sprintf("%s: does not have expected group: %s, actual: %s", dest,
			rt.nameOf("/etc/group", w.gid), rt.nameOf("/etc/group", int(st.Gid))))
	}
	return d
}

func (rt *Runtime) cmpFile(cf ConfigFile, src, dest string) []string {
	if cf.Merge && cf.PreserveProperties {
		if li, err := os.Lstat(src); err == nil && li.Mode()&fs.ModeSymlink != 0 {
			want, _ := os.Readlink(src)
			if got, err := os.Readlink(dest); err != nil || got != want {
				return []string{fmt.Sprintf("%s: is not a symlink to %s", dest, want)}
			}
			return nil
		}
	}
	a, err := os.ReadFile(src)
	if err != nil {
		return []string{fmt.Sprintf("%s: cannot read source: %v", src, err)}
	}
	b, err := os.ReadFile(dest)
	if err != nil {
		return []string{fmt.Sprintf("%s: missing or unreadable (source %s): %v", dest, src, err)}
	}
	if !bytes.Equal(a, b) {
		return []string{fmt.Sprintf("The content of source file(%s) and dest file(%s) are not equal.", src, dest)}
	}
	w, err := rt.wantFor(cf, src, false)
	if err != nil {
		return []string{err.Error()}
	}
	return rt.cmpProps(dest, w)
}

func (rt *Runtime) cmpDir(cf ConfigFile, src, dest string) ([]string, error) {
	var diffs []string
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dest, rel)
		if !d.IsDir() {
			diffs = append(diffs, rt.cmpFile(cf, path, target)...)
			return nil
		}
		if info, err := os.Stat(target); err != nil || !info.IsDir() {
			diffs = append(diffs, fmt.Sprintf("%s: is not a directory (source %s)", target, path))
			return fs.SkipDir
		}
		w, err := rt.wantFor(cf, path, true)
		if err != nil {
			return err
		}
		diffs = append(diffs, rt.cmpProps(target, w)...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("compare %s with %s: %w", src, dest, err)
	}
	return diffs, nil
}
