package deploy

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/koala-stack/koala/pkg/configdir"
	"github.com/koala-stack/koala/pkg/inventory"
)

const fullInventory = `
[control]
n1
n2
[loadbalancer:children]
control
[mariadb:children]
control
[rabbitmq:children]
control
[memcached:children]
control
[keystone:children]
control
[glance-api:children]
control
[placement-api:children]
control
[baremetal:children]
control
`

var goodPasswords = map[string]string{
	"database_password": "d", "keystone_admin_password": "k", "keystone_database_password": "kd",
	"rabbitmq_password": "r", "rabbitmq_cluster_cookie": "c", "keepalived_password": "ka",
	"haproxy_password": "h", "docker_registry_password": "",
	"glance_database_password": "gd", "glance_keystone_password": "gk", "placement_database_password": "pd",
	"placement_keystone_password": "pk", "memcache_secret_key": "m",
}

// checkEmbedded runs the checks of `koala deploy` (site.yml of the embedded
// tree) against an inventory, globals.yml and passwords.yml, touching no host.
func checkEmbedded(t *testing.T, inv, globals string, pw map[string]string) error {
	_, err := checkEmbeddedImages(t, inv, globals, pw)
	return err
}

func checkEmbeddedImages(t *testing.T, inv, globals string, pw map[string]string) ([]string, error) {
	t.Helper()
	return checkEmbeddedPlaybook(t, "site.yml", inv, globals, pw)
}

func checkEmbeddedPlaybook(t *testing.T, playbookName, inv, globals string, pw map[string]string) ([]string, error) {
	t.Helper()
	tree, err := extractAssets(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	in, cd, dir := configFixture(t, tree, inv, globals, pw)
	pt, err := loadTree(tree)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := pt.load(playbookName)
	if err != nil {
		t.Fatal(err)
	}
	layers := append(cd.ExtraVars(), map[string]any{"kolla_action": "deploy", "CONFIG_DIR": dir})
	return checkConfig(cd, in, pb, pt.metas, layers)
}

// configFixture writes an inventory, globals.yml and passwords.yml into a
// temporary config directory and loads them as koala does for tree.
func configFixture(t *testing.T, tree, inv, globals string, pw map[string]string) (*inventory.Inventory, *configdir.Dir, string) {
	t.Helper()
	dir := t.TempDir()
	var pwText strings.Builder
	for k, v := range pw {
		pwText.WriteString(k + ": \"" + v + "\"\n")
	}
	for name, text := range map[string]string{"inventory": inv, "globals.yml": globals, "passwords.yml": pwText.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	in, err := inventory.Load(filepath.Join(dir, "inventory"))
	if err != nil {
		t.Fatal(err)
	}
	if err := in.AddPlaybookVars(filepath.Join(tree, "playbook")); err != nil {
		t.Fatal(err)
	}
	cd, err := configdir.Load(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	return in, cd, dir
}

const goodGlobals = "kolla_internal_vip_address: 10.0.0.250\nnetwork_interface: eth0\n"

func TestCheckConfigAcceptsACompleteConfig(t *testing.T) {
	if err := checkEmbedded(t, fullInventory, goodGlobals, goodPasswords); err != nil {
		t.Fatal(err)
	}
}

// Plays on localhost (post-deploy, certificates) need no [localhost] group:
// Ansible has localhost even when the inventory does not list it.
func TestCheckConfigLocalhostIsNoGroup(t *testing.T) {
	for _, pb := range []string{"post-deploy.yml", "certificates.yml"} {
		if _, err := checkEmbeddedPlaybook(t, pb, fullInventory, goodGlobals, goodPasswords); err != nil {
			t.Errorf("%s: %v", pb, err)
		}
	}
}

// Every password the enabled roles read, directly or through group_vars
// (openstack_auth, rpc_transport_url), is asked for.
func TestCheckConfigFindsEveryPasswordTheRolesRead(t *testing.T) {
	err := checkEmbedded(t, fullInventory, goodGlobals, map[string]string{})
	if err == nil {
		t.Fatal("want errors")
	}
	for k := range goodPasswords {
		if got := strings.Contains(err.Error(), " "+k+" is missing"); got != (k != "docker_registry_password") {
			t.Errorf("%s reported missing: %v, want %v", k, got, !got)
		}
	}
	// Every key of goodPasswords but docker_registry_password, nothing else.
	if n, want := strings.Count(err.Error(), "\n")+1, len(goodPasswords)-1; n != want {
		t.Errorf("want %d problems, got %d:\n%v", want, n, err)
	}
}

func TestCheckConfigNamesMissingGroup(t *testing.T) {
	inv := strings.Replace(fullInventory, "[loadbalancer:children]\ncontrol\n", "", 1)
	err := checkEmbedded(t, inv, goodGlobals, goodPasswords)
	if err == nil {
		t.Fatal("no loadbalancer group: want an error")
	}
	t.Log(err)
	for _, want := range []string{`group "loadbalancer" is missing`, "enable_loadbalancer | bool is true", "Add hosts to [loadbalancer]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	// With haproxy (and so keepalived) disabled, the group is not needed.
	if err := checkEmbedded(t, inv, goodGlobals+"enable_haproxy: \"no\"\n", goodPasswords); err != nil {
		t.Fatalf("loadbalancer disabled: %v", err)
	}
}

func TestCheckConfigNamesMissingPasswords(t *testing.T) {
	pw := map[string]string{}
	for k, v := range goodPasswords {
		pw[k] = v
	}
	delete(pw, "keystone_database_password")
	pw["keepalived_password"] = ""
	err := checkEmbedded(t, fullInventory, goodGlobals, pw)
	if err == nil {
		t.Fatal("want errors")
	}
	msg := err.Error()
	t.Log(msg)
	for _, want := range []string{
		"passwords.yml: keepalived_password is empty (read by role loadbalancer); run `koala genpwd -p ",
		"passwords.yml: keystone_database_password is missing (read by role keystone); add `keystone_database_password:` to it and run `koala genpwd -p ",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "docker_registry_password") {
		t.Errorf("docker_registry_password may stay empty:\n%s", msg)
	}
	// Keystone disabled: its database password is not needed.
	if err := checkEmbedded(t, fullInventory, goodGlobals+"enable_keystone: no\nenable_haproxy: no\nenable_glance: no\nenable_placement: no\n", pw); err != nil {
		t.Fatalf("keystone and haproxy disabled: %v", err)
	}
}

func TestCheckConfigReportsBadGlobalsWithTheRest(t *testing.T) {
	inv := strings.Replace(fullInventory, "[keystone:children]\ncontrol\n", "", 1)
	err := checkEmbedded(t, inv, goodGlobals+"enable_mariadb: maybe\n", goodPasswords)
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{`globals.yml:3: enable_mariadb: "maybe" is not a boolean`, `group "keystone" is missing`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// The images of the enabled services are what the registry check asks for.
func TestCheckConfigListsTheEnabledServicesImages(t *testing.T) {
	images, err := checkEmbeddedImages(t, fullInventory, goodGlobals+"docker_registry: 10.0.0.1:5000\nenable_haproxy: no\nopenstack_release: zed\n", goodPasswords)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"10.0.0.1:5000/kolla/glance-api:zed", "10.0.0.1:5000/kolla/keystone:zed", "10.0.0.1:5000/kolla/mariadb-server:zed",
		"10.0.0.1:5000/kolla/memcached:zed", "10.0.0.1:5000/kolla/placement-api:zed", "10.0.0.1:5000/kolla/rabbitmq:zed",
	}
	if !reflect.DeepEqual(images, want) {
		t.Fatalf("images %v, want %v", images, want)
	}
}

// An enable_ flag for a service no role deploys is named with its
// globals.yml line, not silently ignored; the flags koala knows pass.
func TestCheckConfigNamesUnsupportedServices(t *testing.T) {
	err := checkEmbedded(t, fullInventory, goodGlobals+"enable_nova: \"yes\"\nenable_cinder: no\nenable_glance: yes\n", goodPasswords)
	if err == nil {
		t.Fatal("enable_nova: want an error")
	}
	want := `globals.yml:3: enable_nova: koala has no role for this service`
	if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "enable_cinder") || strings.Contains(err.Error(), "enable_glance:") {
		t.Fatalf("error %v, want %q only (enable_cinder is off, enable_glance is known)", err, want)
	}
}

// A service is its directories: the embedded tree without roles/placement
// and group_vars/all/placement.yml deploys everything else exactly as before
// (the same plays, frontends, ports, images and passwords but placement's),
// and with them placement is in every one of those lists. Nothing else names
// placement.
func TestServiceIsItsDirectories(t *testing.T) {
	with, err := extractAssets(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	without := t.TempDir()
	if err := os.CopyFS(without, os.DirFS(with)); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"roles/placement", "playbook/group_vars/all/placement.yml"} {
		if err := os.RemoveAll(filepath.Join(without, p)); err != nil {
			t.Fatal(err)
		}
	}
	type view struct {
		plays    map[string][]string
		ports    []string
		images   []string
		problems []string
	}
	look := func(tree string) view {
		pt, err := loadTree(tree)
		if err != nil {
			t.Fatal(err)
		}
		v := view{plays: map[string][]string{}}
		for _, name := range []string{"site.yml", "reconfigure.yml", "upgrade.yml", "stop.yml"} {
			pb, err := pt.load(name)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range pb.Plays {
				// A play of placement's own, or placement's part of another
				// (the loadbalancer's collected frontends, upgrade's pulls).
				entry := p.Name
				for _, task := range p.Tasks {
					if r := task.IncludedRole; r != nil && !strings.Contains(entry, " "+r.Name) {
						entry += " " + r.Name
					}
				}
				v.plays[name] = append(v.plays[name], entry)
			}
		}
		for _, p := range precheckPorts(pt.metas) {
			v.ports = append(v.ports, p.(map[string]any)["port"].(string))
		}
		pw := map[string]string{}
		for k, val := range goodPasswords {
			if k != "placement_database_password" {
				pw[k] = val
			}
		}
		in, cd, dir := configFixture(t, tree, fullInventory, goodGlobals, pw)
		pb, err := pt.load("site.yml")
		if err != nil {
			t.Fatal(err)
		}
		n, err := newNeeds(cd, in, pt.metas, append(cd.ExtraVars(), map[string]any{"kolla_action": "deploy", "CONFIG_DIR": dir}))
		if err != nil {
			t.Fatal(err)
		}
		if v.images, v.problems, err = n.check(pb); err != nil {
			t.Fatal(err)
		}
		return v
	}
	a, b := look(with), look(without)
	mentions := func(l []string) (out []string) {
		for _, s := range l {
			if strings.Contains(s, "placement") {
				out = append(out, s)
			}
		}
		return out
	}
	drop := func(l []string) (out []string) {
		for _, s := range l {
			if !strings.Contains(s, "placement") {
				out = append(out, s)
			}
		}
		return out
	}
	for name, plays := range a.plays {
		if len(mentions(plays)) == 0 {
			t.Errorf("%s: no placement play with roles/placement present: %q", name, plays)
		}
		if len(mentions(b.plays[name])) != 0 {
			t.Errorf("%s: placement plays without roles/placement: %q", name, mentions(b.plays[name]))
		}
		var others []string
		for _, p := range plays {
			if !strings.HasPrefix(p, "Apply role placement") && !strings.HasPrefix(p, "placement:") {
				others = append(others, strings.ReplaceAll(p, " placement", ""))
			}
		}
		if !reflect.DeepEqual(others, b.plays[name]) {
			t.Errorf("%s: the other plays differ:\n with    %q\n without %q", name, others, b.plays[name])
		}
	}
	for what, pair := range map[string][2][]string{"ports": {a.ports, b.ports}, "images": {a.images, b.images}, "problems": {a.problems, b.problems}} {
		if len(mentions(pair[0])) == 0 || len(mentions(pair[1])) != 0 || !reflect.DeepEqual(drop(pair[0]), pair[1]) {
			t.Errorf("%s: with placement %q, without %q", what, pair[0], pair[1])
		}
	}
}
