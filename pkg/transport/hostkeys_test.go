package transport

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/koala-stack/koala/internal/sshtest"
)

// Ansible's host key habits against a real sshd: ansible.cfg's
// host_key_checking (as a fallback variable), -o StrictHostKeyChecking= in
// the ssh arguments (the first one wins, as on ssh's command line) and in
// ~/.ssh/config; ansible.cfg's remote_user and private_key_file.
func TestHostKeyHabits(t *testing.T) {
	f := sshtest.Start(t, 1)
	h := f.Hosts[0]
	dir := t.TempDir()
	changed, empty := filepath.Join(dir, "changed"), filepath.Join(dir, "empty")
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	other, _ := ssh.NewPublicKey(pub)
	os.WriteFile(changed, []byte(knownhosts.Line([]string{knownhosts.Normalize(h.Address())}, other)+"\n"), 0o600)
	os.WriteFile(empty, nil, 0o600)

	hostVars := map[string]any{"ansible_host": h.Addr, "ansible_port": h.Port}
	cfg := func(kv ...string) map[string]any {
		m := map[string]any{"ansible_user": h.User, "ansible_ssh_private_key_file": h.KeyFile}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	with := func(m map[string]any, kv ...string) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	for _, tc := range []struct {
		name      string
		known     string
		vars, cfg map[string]any
		sshConfig string
		want      error // nil: connects
	}{
		{"default, changed key", changed, hostVars, cfg(), "", ErrHostKeyChanged},
		{"ansible.cfg host_key_checking=False", changed, hostVars, cfg("ansible_host_key_checking", "false"), "", nil},
		{"host var wins over ansible.cfg", changed, with(hostVars, "ansible_host_key_checking", "true"), cfg("ansible_host_key_checking", "false"), "", ErrHostKeyChanged},
		{"StrictHostKeyChecking=no in ansible_ssh_common_args", changed, with(hostVars, "ansible_ssh_common_args", "-o StrictHostKeyChecking=no"), cfg(), "", nil},
		{"StrictHostKeyChecking=yes, unknown host", empty, with(hostVars, "ansible_ssh_extra_args", "-o 'StrictHostKeyChecking yes'"), cfg(), "", ErrHostKeyUnknown},
		{"ssh_args before host_key_checking=False", empty, hostVars, cfg("ansible_ssh_args", "-C -o StrictHostKeyChecking=yes", "ansible_host_key_checking", "false"), "", ErrHostKeyUnknown},
		{"host_key_checking=False before ssh_common_args", changed, with(hostVars, "ansible_ssh_common_args", "-o StrictHostKeyChecking=yes"), cfg("ansible_host_key_checking", "false"), "", nil},
		{"~/.ssh/config StrictHostKeyChecking yes", empty, hostVars, cfg(), "Host " + h.Addr + "\n  StrictHostKeyChecking yes\n", ErrHostKeyUnknown},
		{"inventory over ~/.ssh/config", empty, with(hostVars, "ansible_ssh_common_args", "-o StrictHostKeyChecking=accept-new"), cfg(), "Host *\n  StrictHostKeyChecking yes\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			known := filepath.Join(t.TempDir(), "known_hosts")
			data, _ := os.ReadFile(tc.known)
			os.WriteFile(known, data, 0o600)
			opts := PoolOptions{KnownHostsFile: known}
			if tc.sshConfig != "" {
				opts.SSHConfigFile = filepath.Join(t.TempDir(), "config")
				os.WriteFile(opts.SSHConfigFile, []byte(tc.sshConfig), 0o600)
			}
			c, err := newPool(t, opts).Get(testCtx(t), SpecFromVars(h.Name, tc.vars, tc.cfg))
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Errorf("got %v, want %v", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := mustExec(t, c, "id -un"); got != h.User {
				t.Errorf("logged in as %q, want ansible.cfg's remote_user %q", got, h.User)
			}
			if after, _ := os.ReadFile(known); string(after) != string(data) && tc.name != "inventory over ~/.ssh/config" {
				t.Errorf("known_hosts written with checking off:\n%s", after)
			}
		})
	}
}

func TestSpecFallback(t *testing.T) {
	cfg := map[string]any{"ansible_user": "cfg", "ansible_timeout": "9", "ansible_ssh_args": "-J jump1"}
	s := SpecFromVars("h", map[string]any{"ansible_ssh_user": "inv", "ansible_ssh_common_args": "-J jump2"}, cfg)
	if s.User != "inv" || s.ConnectTimeout.Seconds() != 9 || s.ProxyJump != "jump1" || s.bad != nil {
		t.Errorf("got %+v", s)
	}
	for _, vars := range []map[string]any{
		{"ansible_host_key_checking": "maybe"},
		{"ansible_ssh_common_args": "-o StrictHostKeyChecking=perhaps"},
	} {
		if s := SpecFromVars("h", vars); s.bad == nil {
			t.Errorf("%v: no error", vars)
		}
	}
	if s := SpecFromVars("h", map[string]any{"ansible_port": strconv.Itoa(22)}); s.HostKeyPolicy != nil {
		t.Errorf("no setting: policy %v", *s.HostKeyPolicy)
	}
}
