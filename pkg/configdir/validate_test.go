package configdir

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateNamesFileLineAndExpectation(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "globals.yml"), `---
kolla_internal_vip_address: "10.0.0.300"
enable_keystone: maybe
enable_mariadb: yes
enable_haproxy: "{{ enable_loadbalancer }}"
keepalived_virtual_router_id: 300
network_interface: "eth0 eth1"
docker_registry: "http://10.0.0.1:5000"
kolla_base_distro: debian
keystone_public_port: 5000
`)
	write(t, filepath.Join(dir, "globals.d", "10-x.yml"), "config_strategy: COPY_SOMETIMES\nmemcached_port: 70000\n")
	write(t, filepath.Join(dir, "passwords.yml"), "database_password: x\n")
	d, err := Load(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	err = d.Validate()
	if err == nil {
		t.Fatal("want errors")
	}
	msg := err.Error()
	g := filepath.Join(dir, "globals.yml")
	x := filepath.Join(dir, "globals.d", "10-x.yml")
	for _, want := range []string{
		g + `:2: kolla_internal_vip_address: "10.0.0.300" is not an IP address`,
		g + `:3: enable_keystone: "maybe" is not a boolean`,
		g + `:6: keepalived_virtual_router_id: 300 is not a number from 0 to 255`,
		g + `:7: network_interface: "eth0 eth1" is not a network interface name`,
		g + `:8: docker_registry: "http://10.0.0.1:5000" is not a registry address host[:port] without http://`,
		x + `:1: config_strategy: "COPY_SOMETIMES" is not one of COPY_ALWAYS, COPY_ONCE`,
		x + `:2: memcached_port: 70000 is not a number from 1 to 65535`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("errors lack %q:\n%s", want, msg)
		}
	}
	if n := strings.Count(msg, "\n") + 1; n != 7 {
		t.Errorf("want 7 problems (yes, templates, debian, port 5000 are valid), got %d:\n%s", n, msg)
	}
}

func TestValidateAcceptsTheTemplateGlobals(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "globals.yml"), `
kolla_internal_vip_address: "10.99.0.250"
network_interface: eth0
docker_registry: "10.99.0.1:5000"
docker_registry_insecure: true
enable_haproxy: "no"
keepalived_virtual_router_id: "51"
openstack_release: zed
`)
	write(t, filepath.Join(dir, "passwords.yml"), "{}\n")
	d, err := Load(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestLoadYAMLSyntaxErrorHasLine(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "globals.yml"), "a: 1\nb: \"unterminated\nc: 2\n")
	write(t, filepath.Join(dir, "passwords.yml"), "{}\n")
	_, err := Load(dir, "")
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "globals.yml")+":2: ") {
		t.Fatalf("want file:line, got %v", err)
	}
	t.Log(err)
}

func TestValidateTLSOptions(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "globals.yml"), "kolla_enable_tls_internal: \"yes\"\nkolla_enable_tls_external: sometimes\nkolla_copy_ca_into_containers: true\nkolla_internal_fqdn: \"\"\n")
	write(t, filepath.Join(dir, "passwords.yml"), "database_password: x\n")
	d, err := Load(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	err = d.Validate()
	if err == nil {
		t.Fatal("want errors")
	}
	g := filepath.Join(dir, "globals.yml")
	for _, want := range []string{g + `:2: kolla_enable_tls_external: "sometimes" is not a boolean`, g + `:4: kolla_internal_fqdn: ""`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q:\n%v", want, err)
		}
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 2 {
		t.Errorf("want 2 problems, got %d:\n%v", n, err)
	}
}
