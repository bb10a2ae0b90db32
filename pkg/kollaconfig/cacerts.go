package kollaconfig

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Where kolla_copy_cacerts finds the CAs kolla-ansible's
// kolla_copy_ca_into_containers ships (the host's
// /etc/kolla/<container>/ca-certificates/) and where Debian's
// update-ca-certificates picks local CAs up.
const (
	CACertsSource = "/var/lib/kolla/config_files/ca-certificates"
	LocalCACerts  = "/usr/local/share/ca-certificates"
	// caPrefix marks the files kolla_copy_cacerts owns, as Kolla's script does.
	caPrefix = "kolla-customca-"
)

// CopyCACerts is kolla_copy_cacerts (Kolla's copy_cacerts.sh for Debian): it
// removes the CAs an earlier start installed, copies every file of
// CACertsSource to LocalCACerts as kolla-customca-<name>.crt (the suffix
// update-ca-certificates requires), and runs update-ca-certificates when
// anything was removed or added. A container started without CAs therefore
// stops trusting ones it trusted before. Returns the exit status.
func CopyCACerts(getenv func(string) string, stdout, stderr io.Writer) int {
	rt := FromEnv(getenv, stderr)
	if err := rt.copyCACerts(stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "kolla_copy_cacerts: %v\n", err)
		return 1
	}
	return 0
}

func (rt *Runtime) copyCACerts(stdout, stderr io.Writer) error {
	dst := rt.path(LocalCACerts)
	old, err := filepath.Glob(filepath.Join(dst, caPrefix+"*"))
	if err != nil {
		return err
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return fmt.Errorf("remove the previous CA %s: %w", f, err)
		}
	}
	entries, err := os.ReadDir(rt.path(CACertsSource))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read %s: %w", CACertsSource, err)
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() || e.Type()&fs.ModeSymlink != 0 {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	if len(names) == 0 && len(old) == 0 {
		return nil
	}
	if len(names) > 0 {
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return err
		}
	}
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(rt.path(CACertsSource), n))
		if err != nil {
			return err
		}
		target := filepath.Join(dst, caPrefix+strings.TrimSuffix(strings.TrimSuffix(n, ".crt"), ".pem")+".crt")
		if err := os.WriteFile(target, data, 0o644); err != nil {
			return fmt.Errorf("install CA %s: %w", n, err)
		}
	}
	args := []string{}
	if rt.Root != "" {
		// Tests: keep update-ca-certificates inside Root.
		args = append(args, "--localcertsdir", dst, "--etccertsdir", rt.path("/etc/ssl/certs"),
			"--certsconf", rt.path("/etc/ca-certificates.conf"), "--hooksdir", rt.path("/etc/ca-certificates/update.d"))
	}
	cmd := exec.Command("update-ca-certificates", args...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("update-ca-certificates: %w (the image needs Debian's ca-certificates package)", err)
	}
	return nil
}
