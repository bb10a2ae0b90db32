package modules

import (
	"reflect"
	"strings"
	"testing"

	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/endpoints"
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
