package modules

import (
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/endpoints"

	"github.com/koala-stack/koala/internal/imagetest"
)

func TestParseKeystoneArgs(t *testing.T) {
	req, err := parseKeystoneArgs(map[string]any{
		"auth": map[string]any{"auth_url": "http://vip:5000", "username": "admin", "password": "pw", "project_name": "admin", "domain_name": "default"},
		"services": []any{map[string]any{"name": "glance", "type": "image", "description": "Images", "endpoints": []any{
			map[string]any{"interface": "internal", "url": "http://vip:9292"},
			map[string]any{"interface": "public", "url": "http://ext:9292"},
		}}},
		"users": []any{map[string]any{"project": "service", "user": "glance", "password": "g", "role": "admin"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if req.region != "RegionOne" || req.auth.userDomain != "default" || req.auth.projectDomain != "default" {
		t.Errorf("defaults: %+v", req)
	}
	if len(req.services) != 1 || len(req.services[0].endpoints) != 2 || req.services[0].endpoints[1] != (ksEndpoint{"public", "http://ext:9292"}) {
		t.Errorf("services: %+v", req.services)
	}
	if len(req.users) != 1 || !reflect.DeepEqual(req.users[0].roles, []string{"admin"}) {
		t.Errorf("users: %+v", req.users)
	}

	_, err = parseKeystoneArgs(map[string]any{
		"auth":     map[string]any{"auth_url": "http://vip:5000", "username": "admin"},
		"services": []any{map[string]any{"name": "glance", "endpoints": []any{map[string]any{"interface": "private", "url": "x"}}}},
		"users":    []any{"glance"},
	})
	for _, want := range []string{"auth.password is missing", "auth.project_name is missing", "services[0]: name and type", `"private" is not one of`, "users[0]: want a dict"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want an error with %q, got %v", want, err)
		}
	}
}

func TestEndpointChanges(t *testing.T) {
	have := []endpoints.Endpoint{
		{ID: "1", Availability: "internal", URL: "http://vip:9292"},
		{ID: "2", Availability: "public", URL: "http://old:9292"},
		{ID: "3", Availability: "public", URL: "http://dup:9292"},
	}
	want := []ksEndpoint{{"internal", "http://vip:9292"}, {"public", "http://ext:9292"}, {"admin", "http://vip:9292"}}
	got := endpointChanges(have, want)
	exp := []endpointChange{
		{id: "2", iface: "public", url: "http://ext:9292", was: "http://old:9292"},
		{iface: "admin", url: "http://vip:9292"},
	}
	if !reflect.DeepEqual(got, exp) {
		t.Fatalf("changes %+v, want %+v", got, exp)
	}
	if got := endpointChanges(have[:1], want[:1]); len(got) != 0 {
		t.Errorf("unchanged endpoint: %+v", got)
	}
}

// startKeystone runs Keystone from the tree's own keystone image
// (internal/imagetest) on 127.0.0.1 (host network), its database on a real
// MariaDB, with an admin bootstrapped, and returns its URL. (SQLite, which a
// test Keystone could use instead, locks up under keystone_register's
// concurrent writes: "database is locked".)
func startKeystone(t *testing.T) string {
	t.Helper()
	image := imagetest.Keystone(t)
	m := startMariaDB(t)
	m.sql(t, "CREATE DATABASE keystone; CREATE USER 'keystone'@'127.0.0.1' IDENTIFIED BY 'ks-db-pw'; GRANT ALL ON keystone.* TO 'keystone'@'127.0.0.1'")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	name := fmt.Sprintf("koala_test_keystone_%d", port)
	script := fmt.Sprintf(`set -e
cat > /etc/keystone/keystone.conf <<CONF
[DEFAULT]
use_stderr = true
[database]
connection = mysql+pymysql://keystone:ks-db-pw@127.0.0.1:%[4]d/keystone
[token]
provider = fernet
CONF
keystone-manage db_sync
keystone-manage fernet_setup --keystone-user keystone --keystone-group keystone
keystone-manage credential_setup --keystone-user keystone --keystone-group keystone
keystone-manage bootstrap --bootstrap-password %[1]s --bootstrap-region-id RegionOne \
  --bootstrap-admin-url %[2]s/v3/ --bootstrap-internal-url %[2]s/v3/ --bootstrap-public-url %[2]s/v3/
exec keystone-wsgi-public --host 127.0.0.1 --port %[3]d`, keystoneAdminPassword, url, port, m.port)
	if out, err := exec.Command("docker", "run", "-d", "--name", name, "--network", "host", "--user", "root", "--entrypoint", "sh", image, "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("start keystone: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if t.Failed() { // Keystone's side of a failure is in its log
			logs, _ := exec.Command("docker", "logs", "--tail", "60", name).CombinedOutput()
			t.Logf("keystone log:\n%s", logs)
		}
		exec.Command("docker", "rm", "-f", name).Run()
	})
	deadline := time.Now().Add(8 * time.Minute) // a loaded CI machine starts Python slowly
	for {
		resp, err := http.Get(url + "/v3")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url
			}
		}
		if time.Now().After(deadline) {
			logs, _ := exec.Command("docker", "logs", "--tail", "30", name).CombinedOutput()
			t.Fatalf("keystone did not answer at %s within 8 minutes: %v\n%s", url, err, logs)
		}
		time.Sleep(time.Second)
	}
}

const keystoneAdminPassword = "adm1n-pw"

// TestKeystoneRegister registers a service twice through a real sshd host
// against a real Keystone: the second run changes nothing; a moved endpoint
// and a changed password are corrected.
func TestKeystoneRegister(t *testing.T) {
	url := startKeystone(t)
	c := sshConn(t)
	args := func(glanceURL, pw string) map[string]any {
		return map[string]any{
			"auth":        map[string]any{"auth_url": url, "username": "admin", "password": keystoneAdminPassword, "project_name": "admin", "domain_name": "Default"},
			"region_name": "RegionOne",
			"services": []any{map[string]any{"name": "glance", "type": "image", "description": "Openstack Image", "endpoints": []any{
				map[string]any{"interface": "internal", "url": glanceURL},
				map[string]any{"interface": "public", "url": "http://public.example:9292"},
			}}},
			"users": []any{map[string]any{"project": "service", "user": "glance", "password": pw, "role": "admin"}},
			"roles": []any{"koala_test_role"},
		}
	}
	a := args("http://internal.example:9292", "glance-pw-1")

	r := run(t, c, "keystone_register", a, check)
	mustChanged(t, r, true)
	if created := fmt.Sprint(r.Data["created"]); !strings.Contains(created, "would create endpoint glance public") {
		t.Errorf("check mode: created %s", created)
	}
	r = run(t, c, "keystone_register", a)
	mustChanged(t, r, true)
	created := fmt.Sprint(r.Data["created"])
	for _, want := range []string{"create service glance (image)", "create endpoint glance internal http://internal.example:9292", "create endpoint glance public", "create project service", "create user glance", "create role koala_test_role", "give user glance role admin on project service"} {
		if !strings.Contains(created, want) {
			t.Errorf("created %s: %q missing", created, want)
		}
	}
	if strings.Contains(fmt.Sprint(r), "glance-pw-1") {
		t.Errorf("the password leaked into the result: %+v", r)
	}
	if r := run(t, c, "keystone_register", a); r.Changed {
		t.Fatalf("second run changed: %+v", r.Data)
	}

	// The check-mode run above created nothing: the real run did it all.
	moved := args("http://moved.example:9292", "glance-pw-2")
	r = run(t, c, "keystone_register", moved, check)
	mustChanged(t, r, true)
	r = run(t, c, "keystone_register", moved)
	mustChanged(t, r, true)
	updated := fmt.Sprint(r.Data["updated"])
	if !strings.Contains(updated, "update endpoint glance internal http://moved.example:9292 (was http://internal.example:9292)") || !strings.Contains(updated, "set the password of user glance") {
		t.Errorf("updated: %s", updated)
	}
	if r := run(t, c, "keystone_register", moved); r.Changed {
		t.Fatalf("run after update changed: %+v", r.Data)
	}

	bad := args("http://moved.example:9292", "glance-pw-2")
	bad["auth"].(map[string]any)["password"] = "wrong"
	if _, err := runErr(t, c, "keystone_register", bad); err == nil || !strings.Contains(err.Error(), "log in as admin") || !strings.Contains(err.Error(), url) {
		t.Errorf("bad admin password: %v", err)
	}
}
