package modules

import (
	"os"
	"os/exec"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

func TestParseFacts(t *testing.T) {
	for _, fixture := range []string{"testdata/setup-iproute.txt", "testdata/setup-proc.txt"} {
		t.Run(fixture, func(t *testing.T) {
			out, err := os.ReadFile(fixture)
			if err != nil {
				t.Fatal(err)
			}
			f := parseFacts(string(out))
			want := map[string]any{
				"ansible_hostname": "vm", "ansible_fqdn": "vm", "ansible_nodename": "vm",
				"ansible_distribution": "Debian", "ansible_distribution_version": "12.11",
				"ansible_distribution_major_version": "12", "ansible_distribution_release": "bookworm",
				"ansible_os_family": "Debian", "ansible_architecture": "x86_64",
				"ansible_processor_vcpus": 2, "ansible_memtotal_mb": 24105, "ansible_user_id": "root",
				"ansible_user_dir": "/root", "ansible_pkg_mgr": "apt", "ansible_virtualization_type": "docker",
				"ansible_interfaces":         []any{"docker0", "eth0", "ifb0", "ifb1", "lo", "veth16e63d1"},
				"ansible_all_ipv4_addresses": []any{"172.17.0.1", "192.0.2.2"},
				"ansible_all_ipv6_addresses": []any{"fe80::42:6aff:fe09:51a6", "fd00::2", "fe80::fc:ff:fe00:1", "fe80::7cb8:c1ff:fe4b:2a29"},
			}
			for k, v := range want {
				if !reflect.DeepEqual(f[k], v) {
					t.Errorf("%s = %#v, want %#v", k, f[k], v)
				}
			}
			eth0 := f["ansible_eth0"].(map[string]any)
			wantV4 := map[string]any{"address": "192.0.2.2", "netmask": "255.255.255.0", "network": "192.0.2.0",
				"prefix": "24", "broadcast": "192.0.2.255"}
			if !reflect.DeepEqual(eth0["ipv4"], wantV4) {
				t.Errorf("eth0 ipv4 = %v", eth0["ipv4"])
			}
			if eth0["mtu"] != 1500 && eth0["mtu"] == 0 || eth0["type"] != "ether" || eth0["active"] != true {
				t.Errorf("eth0 = %v", eth0)
			}
			if v6 := eth0["ipv6"].([]any); len(v6) != 2 || v6[0].(map[string]any)["scope"] != "global" {
				t.Errorf("eth0 ipv6 = %v", v6)
			}
			if lo := f["ansible_lo"].(map[string]any); lo["type"] != "loopback" || lo["ipv4"].(map[string]any)["address"] != "127.0.0.1" {
				t.Errorf("lo = %v", lo)
			}
			def := f["ansible_default_ipv4"].(map[string]any)
			if def["address"] != "192.0.2.2" || def["interface"] != "eth0" || def["gateway"] != "192.0.2.1" || def["netmask"] != "255.255.255.0" {
				t.Errorf("default_ipv4 = %v", def)
			}
			if env := f["ansible_env"].(map[string]any); env["HOME"] != "/root" || env["MULTI"] != "line one" {
				t.Errorf("env = %v", env)
			}
		})
	}
}

func TestSetup(t *testing.T) {
	t.Parallel()
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			r := run(t, tg.conn, "setup", map[string]any{})
			mustChanged(t, r, false)
			host, _ := os.Hostname()
			if r.Facts["ansible_hostname"] != host || r.Facts["ansible_os_family"] == "" || r.Facts["ansible_processor_vcpus"].(int) < 1 {
				t.Errorf("facts: %v", r.Facts)
			}
			want := map[string]string{"local": "root", "ssh": "koalatest", "ssh-become": "root"}[tg.name]
			if r.Facts["ansible_user_id"] != want {
				t.Errorf("ansible_user_id = %v, want %s", r.Facts["ansible_user_id"], want)
			}
			// What the script reads without a process (rd, the read loops, id
			// parsed in the shell) against what the tools say.
			uname, _ := exec.Command("uname", "-r").Output()
			var mem syscall.Sysinfo_t
			syscall.Sysinfo(&mem)
			wantUID := map[string]any{"local": os.Getuid(), "ssh-become": 0}[tg.name]
			cpuinfo, _ := os.ReadFile("/proc/cpuinfo")
			cpus := strings.Count("\n"+string(cpuinfo), "\nprocessor")
			if r.Facts["ansible_kernel"] != strings.TrimSpace(string(uname)) ||
				r.Facts["ansible_memtotal_mb"] != int(uint64(mem.Totalram)*uint64(mem.Unit)/(1<<20)) ||
				wantUID != nil && r.Facts["ansible_user_uid"] != wantUID ||
				r.Facts["ansible_processor_vcpus"] != cpus || r.Facts["ansible_distribution"] != "Debian" {
				t.Errorf("kernel %v (want %s), memtotal_mb %v (want %d), user_uid %v (want %v), processor_vcpus %v (want %d), distribution %v",
					r.Facts["ansible_kernel"], strings.TrimSpace(string(uname)), r.Facts["ansible_memtotal_mb"], uint64(mem.Totalram)*uint64(mem.Unit)/(1<<20),
					r.Facts["ansible_user_uid"], wantUID, r.Facts["ansible_processor_vcpus"], cpus, r.Facts["ansible_distribution"])
			}
			if view := r.Data["ansible_facts"].(map[string]any); view["hostname"] != host {
				t.Errorf("registered ansible_facts.hostname = %v", view["hostname"])
			}
			r = run(t, tg.conn, "setup", map[string]any{"filter": "ansible_distribution*"})
			if len(r.Facts) != 4 {
				t.Errorf("filtered facts: %v", r.Facts)
			}
		})
	}
}
