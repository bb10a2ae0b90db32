package deploy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	koala "github.com/koala-stack/koala"
	"github.com/koala-stack/koala/pkg/certs"
	"github.com/koala-stack/koala/pkg/template"
)

// tlsVars are the variables the loadbalancer's and haproxy-config's templates
// read, for one service behind a VIP on 127.0.0.1.
func tlsVars(tls bool, frontPort, backendPort int) map[string]any {
	fe := func(external bool) map[string]any {
		return map[string]any{"enabled": true, "mode": "http", "external": external,
			"port": strconv.Itoa(backendPort), "listen_port": strconv.Itoa(frontPort)}
	}
	return map[string]any{
		"item": map[string]any{"key": "keystone", "value": map[string]any{
			"group":   "keystone",
			"haproxy": map[string]any{"keystone_internal": fe(false), "keystone_external": fe(true)},
		}},
		"groups":                          map[string]any{"keystone": []any{"node01"}},
		"hostvars":                        map[string]any{"node01": map[string]any{"ansible_hostname": "node01", "api_interface_address": "127.0.0.1"}},
		"kolla_internal_vip_address":      "127.0.0.1",
		"kolla_external_vip_address":      "127.0.0.1",
		"haproxy_enable_external_vip":     "no",
		"kolla_enable_tls_internal":       tls,
		"kolla_enable_tls_external":       tls,
		"haproxy_max_connections":         100,
		"api_interface_address":           "127.0.0.1",
		"haproxy_stats_port":              "0",
		"haproxy_monitor_port":            "0",
		"haproxy_user":                    "openstack",
		"haproxy_password":                "secret",
		"haproxy_client_timeout":          "1m",
		"haproxy_server_timeout":          "1m",
		"haproxy_http_request_timeout":    "10s",
		"haproxy_http_keep_alive_timeout": "10s",
		"haproxy_queue_timeout":           "1m",
		"haproxy_connect_timeout":         "1s",
		"haproxy_check_timeout":           "2s",
		"haproxy_defaults_balance":        "roundrobin",
		"haproxy_retries":                 3,
		"haproxy_redispatch_interval":     1,
		"haproxy_health_check":            "check inter 1s fastinter 500ms rise 2 fall 2 observe layer4 error-limit 1 on-error mark-down",
		"haproxy_backend_cacert_dir":      "/etc/ssl/certs",
	}
}

func renderAsset(t *testing.T, path string, vars map[string]any) string {
	t.Helper()
	src, err := koala.Assets.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out, err := template.New().Render(path, string(src), vars)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestHaproxyTemplatesTLSOff(t *testing.T) {
	svc := renderAsset(t, "roles/haproxy-config/templates/haproxy_single_service.cfg.j2", tlsVars(false, 5000, 5000))
	main := renderAsset(t, "roles/loadbalancer/templates/haproxy_main.cfg.j2", tlsVars(false, 5000, 5000))
	if strings.Contains(svc+main, "ssl") {
		t.Errorf("TLS off, yet ssl in the config:\n%s\n%s", main, svc)
	}
	if strings.Contains(svc, "listen keystone_external") {
		t.Errorf("one VIP: the external frontend is rendered too:\n%s", svc)
	}
}

// TestHaproxyTLS runs Debian's haproxy with the rendered templates and a PEM
// from pkg/certs: it must terminate TLS on the internal frontend with the
// certificate clients verify against ca/root.crt, and tell the backend
// X-Forwarded-Proto: https.
func TestHaproxyTLS(t *testing.T) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("haproxy not installed (Debian's haproxy package)")
	}
	dir := t.TempDir()
	certDir := filepath.Join(dir, "certificates")
	if _, err := certs.Generate(certs.Request{Dir: certDir, External: true, Internal: true, SameVIP: true,
		ExternalPEM: filepath.Join(certDir, "haproxy.pem"), InternalPEM: filepath.Join(certDir, "haproxy-internal.pem"),
		ExternalNames: []string{"127.0.0.1"}, InternalNames: []string{"127.0.0.1"}}); err != nil {
		t.Fatal(err)
	}

	backend := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "proto=%s", r.Header.Get("X-Forwarded-Proto"))
	})}
	bl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go backend.Serve(bl)
	defer backend.Close()

	front := freePort(t)
	vars := tlsVars(true, front, bl.Addr().(*net.TCPAddr).Port)
	vars["haproxy_stats_port"], vars["haproxy_monitor_port"] = strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
	svc := renderAsset(t, "roles/haproxy-config/templates/haproxy_single_service.cfg.j2", vars)
	if !strings.Contains(svc, "ssl crt /etc/haproxy/certificates/haproxy-internal.pem") || strings.Contains(svc, "keystone_external") {
		t.Fatalf("the internal frontend does not terminate TLS with haproxy-internal.pem, or the external one is there:\n%s", svc)
	}
	// The container's paths become the test's; the process-wide settings a
	// test cannot have (chroot, the haproxy user, the kolla socket directory)
	// are dropped.
	svc = strings.ReplaceAll(svc, "/etc/haproxy/certificates/", certDir+"/")
	var kept []string
	for _, l := range strings.Split(renderAsset(t, "roles/loadbalancer/templates/haproxy_main.cfg.j2", vars), "\n") {
		f := strings.Fields(l)
		if len(f) > 0 && (f[0] == "chroot" || f[0] == "user" || f[0] == "group" || (f[0] == "stats" && f[1] == "socket")) {
			continue
		}
		kept = append(kept, l)
	}
	main := strings.Join(kept, "\n")
	if !strings.Contains(main, "ssl-default-bind-options") {
		t.Errorf("TLS on, no ssl-default-bind-options in haproxy.cfg:\n%s", main)
	}
	mainPath, svcPath := filepath.Join(dir, "haproxy.cfg"), filepath.Join(dir, "keystone.cfg")
	if err := os.WriteFile(mainPath, []byte(main), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(svcPath, []byte(svc), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-c", "-f", mainPath, "-f", svcPath).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s\n%s\n%s", err, out, main, svc)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-db", "-f", mainPath, "-f", svcPath)
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()

	caPEM, err := os.ReadFile(certs.CACertPath(certDir))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	url := fmt.Sprintf("https://127.0.0.1:%d/v3", front)
	var body string
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s through haproxy: %v\nhaproxy:\n%s", url, err, logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if body != "proto=https" {
		t.Errorf("the backend saw %q, want proto=https", body)
	}
	// Plain HTTP on the TLS port is not served.
	if resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(fmt.Sprintf("http://127.0.0.1:%d/v3", front)); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), "proto=") {
			t.Errorf("plain HTTP reached the backend: %q", b)
		}
	}
}

// Two VIPs: each side's frontend binds its VIP with its own PEM, and only the
// side with TLS on terminates it.
func TestHaproxyTemplateTwoVIPs(t *testing.T) {
	vars := tlsVars(true, 5000, 5000)
	vars["kolla_external_vip_address"] = "203.0.113.10"
	vars["haproxy_enable_external_vip"] = "yes"
	vars["kolla_enable_tls_internal"] = false
	svc := renderAsset(t, "roles/haproxy-config/templates/haproxy_single_service.cfg.j2", vars)
	for _, want := range []string{
		"bind 203.0.113.10:5000 ssl crt /etc/haproxy/certificates/haproxy.pem\n",
		"bind 127.0.0.1:5000\n",
	} {
		if !strings.Contains(svc, want) {
			t.Errorf("no %q in:\n%s", want, svc)
		}
	}
	if strings.Count(svc, "X-Forwarded-Proto https") != 1 {
		t.Errorf("want X-Forwarded-Proto set on the TLS frontend only:\n%s", svc)
	}
}
