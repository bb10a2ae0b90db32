package modules

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// caPool is the trust of modules that make TLS requests from the deploy host
// (uri's ca_path, keystone_register's cacert): the system's CAs plus every
// certificate in paths. A path is a PEM file, or, ending in "/", a directory
// whose files are all read (kolla_certificates_dir/ca/, what
// kolla_copy_ca_into_containers would put into kolla_toolbox); a directory that
// does not exist adds nothing, a file that does not exist is an error. No
// paths: nil, Go's default.
func caPool(paths []string) (*x509.CertPool, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	for _, p := range paths {
		if p == "" {
			continue
		}
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) && strings.HasSuffix(p, "/") {
			continue // a CA directory nobody made
		}
		if err != nil {
			return nil, fmt.Errorf("CA %w", err)
		}
		files := []string{p}
		if fi.IsDir() != strings.HasSuffix(p, "/") {
			return nil, fmt.Errorf("CA %s: a directory must be given with a trailing / and a file without", p)
		}
		if fi.IsDir() {
			entries, err := os.ReadDir(p)
			if err != nil {
				return nil, fmt.Errorf("CA directory: %w", err)
			}
			files = files[:0]
			for _, e := range entries {
				if !e.IsDir() && e.Name()[0] != '.' {
					files = append(files, filepath.Join(p, e.Name()))
				}
			}
			sort.Strings(files)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("CA %w", err)
			}
			if !pool.AppendCertsFromPEM(data) {
				return nil, fmt.Errorf("CA %s: no PEM certificate in it", f)
			}
		}
	}
	return pool, nil
}
