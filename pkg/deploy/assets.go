package deploy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	koala "github.com/koala-stack/koala"
)

// extractAssets writes the embedded roles/ and playbook/ under cacheDir, in a
// directory named by their content hash, and returns it. Modules would read
// role files from the embedded tree as well (through the engine), but the
// playbook's group_vars/ are read from disk (inventory.AddPlaybookVars), and a
// tree on disk is what an operator can read and copy to customise (then pass
// it with --playbook-dir).
func extractAssets(cacheDir string) (string, error) {
	sum := sha256.New()
	err := fs.WalkDir(koala.Assets, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(koala.Assets, p)
		if err != nil {
			return err
		}
		fmt.Fprintf(sum, "%s\x00%d\x00", p, len(data))
		sum.Write(data)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("read embedded roles: %w", err)
	}
	dir := filepath.Join(cacheDir, "assets-"+hex.EncodeToString(sum.Sum(nil))[:16])
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return dir, nil
	}
	tmp, err := os.MkdirTemp(cacheDir, ".assets-")
	if err != nil {
		return "", fmt.Errorf("write roles to %s: %w", cacheDir, err)
	}
	defer os.RemoveAll(tmp)
	if err := os.CopyFS(tmp, koala.Assets); err != nil {
		return "", fmt.Errorf("write roles to %s: %w", tmp, err)
	}
	if err := os.WriteFile(filepath.Join(tmp, ".complete"), nil, 0o644); err != nil {
		return "", err
	}
	// Another koala may have written the same tree meanwhile: both are equal.
	if err := os.Rename(tmp, dir); err != nil && !errors.Is(err, fs.ErrExist) && !errors.Is(err, syscall.ENOTEMPTY) {
		return "", fmt.Errorf("write roles to %s: %w", dir, err)
	}
	return dir, nil
}
