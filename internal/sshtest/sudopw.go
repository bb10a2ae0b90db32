package sshtest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// PasswordUser is a local user that User may become only with sudo asking
// for PasswordUser's password (sudoers targetpw), for tests of become with a
// password. The password is random, made once and kept (0600) in the shared
// state directory, so that concurrent test binaries agree on it.
const PasswordUser = "koalapw"

// SudoPassword makes PasswordUser and its sudo rule (once) and returns its
// password. It skips the test without root.
func SudoPassword(t testing.TB) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("sshtest: needs root to create a user and a sudo rule")
	}
	if _, _, _, err := prepare(); err != nil { // makes User and stateDir
		t.Fatalf("sshtest: %v", err)
	}
	pw, err := sudoPassword()
	if err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	return pw
}

func sudoPassword() (string, error) {
	lock, err := os.OpenFile(filepath.Join(stateDir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	file := filepath.Join(stateDir, "sudo-password")
	data, err := os.ReadFile(file)
	pw := strings.TrimSpace(string(data))
	if errors.Is(err, fs.ErrNotExist) || pw == "" {
		b := make([]byte, 12)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		pw = hex.EncodeToString(b)
		if err := os.WriteFile(file, []byte(pw+"\n"), 0o600); err != nil {
			return "", err
		}
	} else if err != nil {
		return "", err
	}
	if err := exec.Command("id", PasswordUser).Run(); err != nil {
		if out, err := exec.Command("useradd", "-M", "-s", "/bin/sh", PasswordUser).CombinedOutput(); err != nil {
			return "", fmt.Errorf("useradd %s: %w: %s", PasswordUser, err, out)
		}
	}
	chpasswd := exec.Command("chpasswd")
	chpasswd.Stdin = strings.NewReader(PasswordUser + ":" + pw + "\n")
	if out, err := chpasswd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("chpasswd %s: %w: %s", PasswordUser, err, out)
	}
	// Read after /etc/sudoers.d/koalatest (NOPASSWD for everything): the
	// last matching rule wins.
	rule := fmt.Sprintf("Defaults>%[1]s targetpw\nDefaults>%[1]s !lecture\n%[2]s ALL=(%[1]s) PASSWD: ALL\n", PasswordUser, User)
	return pw, os.WriteFile("/etc/sudoers.d/"+User+"-pw", []byte(rule), 0o440)
}
