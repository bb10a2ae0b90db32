package kollaconfig

import (
	"bytes"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Where kolla_copy_cacerts finds the CAs kolla-ansible's
// kolla_copy_ca_into_containers ships (the host's
// /etc/kolla/<container>/ca-certificates/), where Debian keeps local CAs, and
// the bundle Debian's OpenSSL, Python and curl read by default.
const (
	CACertsSource = "/var/lib/kolla/config_files/ca-certificates"
	LocalCACerts  = "/usr/local/share/ca-certificates"
	CABundle      = "/etc/ssl/certs/ca-certificates.crt"
	// caPrefix marks the files kolla_copy_cacerts owns, as Kolla's script does.
	caPrefix = "kolla-customca-"
)

// CopyCACerts is kolla_copy_cacerts, Kolla's copy_cacerts.sh for Debian, with
// the same result as its update-ca-certificates: every certificate of
// CACertsSource is installed as LocalCACerts/kolla-customca-<name>.crt and is
// in CABundle; the ones an earlier start installed and that are gone from the
// source are taken out of both. It edits the bundle itself rather than running
// update-ca-certificates, whose fork-per-certificate loop took over two minutes
// per container start on a loaded host (the hashed links of /etc/ssl/certs are
// not made; Debian's clients read the bundle). Nothing is written when nothing
// changed, so a restart costs a few reads. Returns the exit status.
func CopyCACerts(getenv func(string) string, stdout, stderr io.Writer) int {
	rt := FromEnv(getenv, stderr)
	changed, err := rt.copyCACerts()
	if err != nil {
		fmt.Fprintf(stderr, "kolla_copy_cacerts: %v\n", err)
		return 1
	}
	if changed {
		fmt.Fprintf(stdout, "kolla_copy_cacerts: %s updated\n", CABundle)
	}
	return 0
}

func (rt *Runtime) copyCACerts() (bool, error) {
	dst := rt.path(LocalCACerts)
	oldFiles, err := filepath.Glob(filepath.Join(dst, caPrefix+"*"))
	if err != nil {
		return false, err
	}
	old := map[string][]byte{} // path -> content
	var oldBlocks [][]byte
	for _, f := range oldFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			return false, err
		}
		old[f] = data
		oldBlocks = append(oldBlocks, certBlocks(data)...)
	}

	entries, err := os.ReadDir(rt.path(CACertsSource))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("read %s: %w", CACertsSource, err)
	}
	want := map[string][]byte{} // installed path -> content
	var newBlocks [][]byte
	for _, e := range entries {
		if !e.Type().IsRegular() && e.Type()&fs.ModeSymlink == 0 {
			continue
		}
		data, err := os.ReadFile(filepath.Join(rt.path(CACertsSource), e.Name()))
		if err != nil {
			return false, err
		}
		blocks := certBlocks(data)
		if len(blocks) == 0 {
			return false, fmt.Errorf("%s/%s holds no PEM certificate", CACertsSource, e.Name())
		}
		name := strings.TrimSuffix(strings.TrimSuffix(e.Name(), ".crt"), ".pem")
		want[filepath.Join(dst, caPrefix+name+".crt")] = data
		newBlocks = append(newBlocks, blocks...)
	}
	if len(old) == 0 && len(want) == 0 {
		return false, nil
	}

	bundlePath := rt.path(CABundle)
	if p, err := filepath.EvalSymlinks(bundlePath); err == nil {
		bundlePath = p
	}
	bundle, err := os.ReadFile(bundlePath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	// The bundle without what an earlier start added, then this start's CAs.
	var out bytes.Buffer
	seen := map[string]bool{}
	for _, b := range certBlocks(bundle) {
		if containsBlock(oldBlocks, b) || seen[string(b)] {
			continue
		}
		seen[string(b)] = true
		out.Write(b)
	}
	for _, b := range newBlocks {
		if !seen[string(b)] {
			seen[string(b)] = true
			out.Write(b)
		}
	}

	changed := false
	for f, data := range old {
		if w, ok := want[f]; !ok || !bytes.Equal(w, data) {
			if err := os.Remove(f); err != nil {
				return false, fmt.Errorf("remove the previous CA %s: %w", f, err)
			}
			changed = true
		}
	}
	paths := make([]string, 0, len(want))
	for f := range want {
		paths = append(paths, f)
	}
	sort.Strings(paths)
	for _, f := range paths {
		if data, ok := old[f]; ok && bytes.Equal(data, want[f]) {
			continue
		}
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return false, err
		}
		if err := os.WriteFile(f, want[f], 0o644); err != nil {
			return false, fmt.Errorf("install CA %s: %w", f, err)
		}
		changed = true
	}
	if !bytes.Equal(out.Bytes(), normalised(bundle)) {
		if err := writeAtomic(bundlePath, out.Bytes(), 0o644); err != nil {
			return false, fmt.Errorf("write %s: %w", CABundle, err)
		}
		changed = true
	}
	return changed, nil
}

// certBlocks returns the PEM CERTIFICATE blocks of data, each re-encoded, so
// the same certificate compares equal whatever its line breaks.
func certBlocks(data []byte) [][]byte {
	var out [][]byte
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return out
		}
		if b.Type == "CERTIFICATE" {
			out = append(out, pem.EncodeToMemory(&pem.Block{Type: b.Type, Bytes: b.Bytes}))
		}
	}
}

func normalised(bundle []byte) []byte { return bytes.Join(certBlocks(bundle), nil) }

func containsBlock(list [][]byte, b []byte) bool {
	for _, x := range list {
		if bytes.Equal(x, b) {
			return true
		}
	}
	return false
}

func writeAtomic(path string, data []byte, mode fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
