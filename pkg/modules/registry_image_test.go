package modules

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/koala-stack/koala/internal/dockertest"
)

// pushImage puts a one-layer image name:tag into the registry through its
// API, as docker push would.
func pushImage(t *testing.T, addr, name, tag, user, pass string) {
	t.Helper()
	do := func(method, url, ctype string, body []byte) *http.Response {
		req, _ := http.NewRequest(method, url, bytes.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	blob := func(data []byte) string {
		sum := sha256.Sum256(data)
		digest := "sha256:" + hex.EncodeToString(sum[:])
		resp := do(http.MethodPost, "http://"+addr+"/v2/"+name+"/blobs/uploads/", "", nil)
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusAccepted || loc == "" {
			t.Fatalf("start upload: HTTP %d", resp.StatusCode)
		}
		if !strings.HasPrefix(loc, "http") {
			loc = "http://" + addr + loc
		}
		sep := "?"
		if strings.Contains(loc, "?") {
			sep = "&"
		}
		if resp := do(http.MethodPut, loc+sep+"digest="+digest, "application/octet-stream", data); resp.StatusCode != http.StatusCreated {
			t.Fatalf("upload blob: HTTP %d", resp.StatusCode)
		}
		return digest
	}
	layer := []byte("not really a tar, the registry does not look")
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	manifest, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.docker.distribution.manifest.v2+json",
		"config":        map[string]any{"mediaType": "application/vnd.docker.container.image.v1+json", "size": len(config), "digest": blob(config)},
		"layers":        []any{map[string]any{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": len(layer), "digest": blob(layer)}},
	})
	if resp := do(http.MethodPut, "http://"+addr+"/v2/"+name+"/manifests/"+tag, "application/vnd.docker.distribution.manifest.v2+json", manifest); resp.StatusCode != http.StatusCreated {
		t.Fatalf("put manifest: HTTP %d", resp.StatusCode)
	}
}

func TestRegistryImage(t *testing.T) {
	addr := dockertest.Registry(t, "")
	pushImage(t, addr, "kolla/keystone", "zed", "", "")
	pushImage(t, addr, "kolla/mariadb-server", "zed", "", "")
	for _, tg := range []target{localTarget(t), {name: "ssh", conn: sshConn(t)}} {
		t.Run(tg.name, func(t *testing.T) {
			r := run(t, tg.conn, "registry_image", map[string]any{"insecure": true, "images": []any{
				addr + "/kolla/keystone:zed", addr + "/kolla/mariadb-server:zed", addr + "/kolla/keystone:zed"}})
			if r.Failed || r.Changed {
				t.Fatalf("present images: %+v", r)
			}
			r = run(t, tg.conn, "registry_image", map[string]any{"insecure": true, "images": []any{
				addr + "/kolla/keystone:zed", addr + "/kolla/keystone:yoga", addr + "/kolla/nova-api:zed"}})
			if !r.Failed || r.Changed {
				t.Fatalf("missing images must fail: %+v", r)
			}
			for _, want := range []string{"2 image(s) not in the registry", addr + "/kolla/keystone:yoga", addr + "/kolla/nova-api:zed"} {
				if !strings.Contains(r.Msg, want) {
					t.Errorf("message lacks %q: %s", want, r.Msg)
				}
			}
			if strings.Contains(r.Msg, "keystone:zed") {
				t.Errorf("message names a present image: %s", r.Msg)
			}
		})
	}
	// Without insecure the check speaks TLS to a plain-HTTP registry: a
	// failure that names the registry, not a "missing image".
	r := run(t, localTarget(t).conn, "registry_image", map[string]any{"images": []any{addr + "/kolla/keystone:zed"}, "timeout": 5})
	if !r.Failed || !strings.Contains(r.Msg, "registry "+addr) || strings.Contains(r.Msg, "not in the registry") {
		t.Fatalf("TLS to an HTTP registry: %+v", r)
	}
}

func TestRegistryImageBasicAuth(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	addr := dockertest.Registry(t, "koala:"+string(hash)+"\n")
	pushImage(t, addr, "kolla/keystone", "zed", "koala", "secret")
	img := addr + "/kolla/keystone:zed"
	conn := localTarget(t).conn
	r := run(t, conn, "registry_image", map[string]any{"insecure": true, "images": []any{img}})
	if !r.Failed || !strings.Contains(r.Msg, "docker_registry_username") {
		t.Fatalf("no credentials: %+v", r)
	}
	r = run(t, conn, "registry_image", map[string]any{"insecure": true, "images": []any{img}, "username": "koala", "password": "wrong"})
	if !r.Failed || !strings.Contains(r.Msg, "refused") {
		t.Fatalf("wrong password: %+v", r)
	}
	r = run(t, conn, "registry_image", map[string]any{"insecure": true, "images": []any{img, addr + "/kolla/nova:zed"}, "username": "koala", "password": "secret"})
	if !r.Failed || !strings.Contains(r.Msg, "1 image(s) not in the registry") || !strings.Contains(r.Msg, "nova:zed") {
		t.Fatalf("logged in, one missing: %+v", r)
	}
}

func TestParseImageRef(t *testing.T) {
	for in, want := range map[string]imageRef{
		"10.0.0.1:5000/kolla/keystone:zed": {"10.0.0.1:5000", "kolla/keystone", "zed"},
		"kolla/keystone:zed":               {"registry-1.docker.io", "kolla/keystone", "zed"},
		"debian":                           {"registry-1.docker.io", "library/debian", "latest"},
		"localhost/a/b@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa": {"localhost", "a/b", "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
		"quay.io:443/openstack.kolla/nova": {"quay.io:443", "openstack.kolla/nova", "latest"},
	} {
		got, err := parseImageRef(in)
		if err != nil || got != want {
			t.Errorf("parseImageRef(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
}
