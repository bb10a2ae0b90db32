package template

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestKollaGlobalsParse checks that every template in kolla-ansible's own
// globals.yml (mostly commented-out defaults) parses in koala's dialect.
func TestKollaGlobalsParse(t *testing.T) {
	const path = "../../templates/etc/kolla/globals.yml"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	quoted := regexp.MustCompile(`"([^"]*\{[{%][^"]*)"`)
	e := New()
	n := 0
	for i, line := range strings.Split(string(data), "\n") {
		for _, m := range quoted.FindAllStringSubmatch(line, -1) {
			n++
			if err := e.Check("globals.yml", m[1]); err != nil {
				t.Errorf("globals.yml:%d: %s: %v", i+1, m[1], err)
			}
		}
	}
	if n < 20 {
		t.Errorf("only %d templates found in %s", n, path)
	}
}

// TestKollaStyleTemplate renders the constructs kolla-ansible's config
// templates are made of: nested loops over service dicts, hostvars and
// facts lookups with ~ built keys, loop.last separators, set, defined tests.
func TestKollaStyleTemplate(t *testing.T) {
	src := `[DEFAULT]
debug = {{ nova_logging_debug }}
{% if service_name == 'nova-compute' %}
host = {{ ansible_facts.hostname }}
{% endif %}
{% if enable_nova_fake | bool %}
compute_driver = fake.FakeDriver
{% endif %}
[database]
connection = mysql+pymysql://{{ nova_database_user }}:{{ nova_database_password }}@{{ kolla_internal_fqdn | put_address_in_context('url') }}:{{ database_port }}/{{ nova_database_name }}
[keystone_authtoken]
memcached_servers = {% for host in groups['memcached'] %}{{ hostvars[host]['ansible_' ~ hostvars[host]['api_interface']]['ipv4']['address'] | put_address_in_context('memcache') }}:{{ memcached_port }}{% if not loop.last %},{% endif %}{% endfor %}

{% set vendordata_file_path = '/etc/nova/vendordata.json' %}
vendordata = {{ vendordata_file_path }}
{% if nova_policy_file is defined %}
policy_file = {{ nova_policy_file }}
{% endif %}
[oslo_messaging_notifications]
{% if nova_enabled_notification_topics %}
driver = messagingv2
topics = {{ nova_enabled_notification_topics | map(attribute='name') | join(',') }}
{% else %}
driver = noop
{% endif %}
{% for service_name, service in nova_services.items() %}
{% if service.enabled | bool and service.haproxy is defined %}
{% for haproxy_name, haproxy_service in service.haproxy.items() %}
{% if haproxy_service.enabled | bool %}
listen {{ haproxy_name }}
    bind {{ kolla_internal_vip_address }}:{{ haproxy_service.listen_port }}
{% for host in groups[service.group] %}
    server {{ hostvars[host].ansible_facts.hostname }} {{ hostvars[host]['ansible_' ~ api_interface]['ipv4']['address'] }}:{{ haproxy_service.port }} check inter 2000 rise 2 fall 5
{% endfor %}
{% endif %}
{% endfor %}
{% endif %}
{% endfor %}
`
	host := func(name, addr string) map[string]any {
		return map[string]any{
			"api_interface": "eth0",
			"ansible_eth0":  map[string]any{"ipv4": map[string]any{"address": addr}},
			"ansible_facts": map[string]any{"hostname": name},
		}
	}
	vars := map[string]any{
		"nova_logging_debug": "False", "service_name": "nova-compute", "enable_nova_fake": "no",
		"ansible_facts": map[string]any{"hostname": "ctl1"}, "api_interface": "eth0",
		"nova_database_user": "nova", "nova_database_password": "pw", "kolla_internal_fqdn": "fd00::10",
		"database_port": 3306, "nova_database_name": "nova", "memcached_port": 11211,
		"groups":                           map[string]any{"memcached": []any{"ctl1", "ctl2"}, "nova-api": []any{"ctl1", "ctl2"}},
		"hostvars":                         map[string]any{"ctl1": host("ctl1", "10.0.0.1"), "ctl2": host("ctl2", "fd00::2")},
		"nova_enabled_notification_topics": []any{map[string]any{"name": "notifications"}, map[string]any{"name": "vitrage"}},
		"kolla_internal_vip_address":       "10.0.0.250",
		"nova_services": map[string]any{
			"nova-api": map[string]any{"enabled": true, "group": "nova-api", "haproxy": map[string]any{
				"nova_api":          map[string]any{"enabled": "yes", "listen_port": 8774, "port": 8774},
				"nova_api_external": map[string]any{"enabled": "no", "listen_port": 8774, "port": 8774},
			}},
			"nova-scheduler": map[string]any{"enabled": true, "group": "nova-api"},
		},
	}
	// trim_blocks: the newline after each block tag goes, so the blank line
	// after memcached_servers only ends that line.
	want := `[DEFAULT]
debug = False
host = ctl1
[database]
connection = mysql+pymysql://nova:pw@[fd00::10]:3306/nova
[keystone_authtoken]
memcached_servers = 10.0.0.1:11211,inet6:[fd00::2]:11211
vendordata = /etc/nova/vendordata.json
[oslo_messaging_notifications]
driver = messagingv2
topics = notifications,vitrage
listen nova_api
    bind 10.0.0.250:8774
    server ctl1 10.0.0.1:8774 check inter 2000 rise 2 fall 5
    server ctl2 fd00::2:8774 check inter 2000 rise 2 fall 5
`
	got, err := New().Render("nova.conf.j2", src, vars)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}
