package build

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/koala-stack/koala/images"
)

var defaultVars = Vars{BaseImage: "debian", BaseTag: "trixie", InstallType: "binary", Namespace: "kolla", Tag: "2025.1"}

func embeddedTree(t *testing.T) *Tree {
	t.Helper()
	tr, err := LoadTree(images.FS, "embedded")
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Every image of the tree renders, with both install types, to a Dockerfile whose
// FROM names its layer's parent, and the same inputs give the same bytes.
func TestRenderWholeTree(t *testing.T) {
	tr := embeddedTree(t)
	wantParent := map[string]string{
		"base": "", "openstack-base": "base", "keystone-base": "openstack-base", "keystone": "keystone-base",
		"glance-base": "openstack-base", "glance-api": "glance-base", "placement-base": "openstack-base",
		"placement-api": "placement-base", "heat-base": "openstack-base", "heat-api": "heat-base",
		"heat-engine": "heat-base", "horizon": "openstack-base", "mariadb-server": "base", "rabbitmq": "base",
		"memcached": "base", "haproxy": "base", "keepalived": "base",
		"nova-base": "openstack-base", "nova-api": "nova-base", "nova-conductor": "nova-base",
		"nova-scheduler": "nova-base", "nova-novncproxy": "nova-base", "nova-compute": "nova-base",
		"nova-ssh": "nova-base", "nova-libvirt": "base", "neutron-base": "openstack-base",
		"neutron-server": "neutron-base", "neutron-openvswitch-agent": "neutron-base",
		"neutron-dhcp-agent": "neutron-base",
		"neutron-l3-agent":   "neutron-base", "neutron-metadata-agent": "neutron-base",
		"openvswitch-base": "base", "openvswitch-db-server": "openvswitch-base", "openvswitch-vswitchd": "openvswitch-base",
	}
	if got := tr.Names(); len(got) != len(wantParent) {
		t.Fatalf("tree has %v, want the %d images %v", got, len(wantParent), sortedKeys(wantParent))
	}
	for _, it := range []string{"binary", "source"} {
		v := defaultVars
		v.InstallType = it
		r := tr.NewRenderer(v, nil)
		for name, parent := range wantParent {
			rd, err := r.Render(name)
			if err != nil {
				t.Fatalf("%s (%s): %v", name, it, err)
			}
			if rd.Parent != parent {
				t.Errorf("%s (%s): parent %q (FROM %s), want %q", name, it, rd.Parent, rd.From, parent)
			}
			df := string(rd.Dockerfile)
			for _, bad := range []string{"{{", "{%", "&amp;", "&#"} {
				if strings.Contains(df, bad) {
					t.Errorf("%s (%s): rendered Dockerfile contains %q:\n%s", name, it, bad, df)
				}
			}
			// apt's lists and archives must be cache mounts of the installing
			// RUN, or a layer keeps them and every image downloads again.
			if n, m := strings.Count(df, "apt-get -y install"), strings.Count(df, ",target=/var/lib/apt/lists,"); n != m || strings.Count(df, ",target=/var/cache/apt,") != n {
				t.Errorf("%s: %d apt-get installs, %d with apt's lists as a cache mount (want every one, archives too):\n%s", name, n, m, df)
			}
			again, err := r.Render(name)
			if err != nil || !bytes.Equal(again.Dockerfile, rd.Dockerfile) {
				t.Errorf("%s: second render differs (err %v)", name, err)
			}
		}
	}
	r := tr.NewRenderer(defaultVars, nil)
	base, _ := r.Render("base")
	for _, want := range []string{"FROM debian:trixie", "--gid 42400 kolla", "COPY kolla-runtime /usr/local/bin/kolla-runtime",
		"kolla_set_configs kolla_start kolla_copy_cacerts healthcheck_curl healthcheck_port healthcheck_listen healthcheck_socket",
		`ENTRYPOINT ["dumb-init", "--single-child", "--"]`, `CMD ["kolla_start"]`, "dumb-init", "sudo"} {
		if !strings.Contains(string(base.Dockerfile), want) {
			t.Errorf("base lacks %q:\n%s", want, base.Dockerfile)
		}
	}
	ks, _ := r.Render("keystone-base")
	for _, want := range []string{"--gid 42425 keystone", "keystone apache2 libapache2-mod-wsgi-py3"} {
		if !strings.Contains(string(ks.Dockerfile), want) {
			t.Errorf("keystone-base lacks %q:\n%s", want, ks.Dockerfile)
		}
	}
	// Kolla's contract in the OpenStack images: <project>-base installs
	// kolla_extend_start, which sources the service's kolla_<project>_extend_start;
	// Apache images run as root (Apache drops to the service user), others as it.
	for img, wants := range map[string][]string{
		"glance-base":    {"--uid 42415", "glance-common", "COPY extend_start.sh /usr/local/bin/kolla_extend_start", "touch /usr/local/bin/kolla_glance_extend_start"},
		"glance-api":     {"glance-api", "COPY extend_start.sh /usr/local/bin/kolla_glance_extend_start", "USER glance"},
		"placement-base": {"--uid 42482", "placement-common", "touch /usr/local/bin/kolla_placement_extend_start"},
		"placement-api":  {"placement-api apache2 libapache2-mod-wsgi-py3", "truncate -s 0 /etc/apache2/ports.conf", "kolla_placement_extend_start"},
		"heat-base":      {"--uid 42418", "heat-common", "touch /usr/local/bin/kolla_heat_extend_start"},
		"heat-api":       {"heat-api apache2 libapache2-mod-wsgi-py3", "COPY extend_start.sh /usr/local/bin/kolla_heat_extend_start"},
		"heat-engine":    {"heat-engine", "USER heat"},
		"horizon":        {"--uid 42420", "openstack-dashboard apache2 libapache2-mod-wsgi-py3", "COPY extend_start.sh /usr/local/bin/kolla_extend_start"},
	} {
		rd, err := r.Render(img)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range wants {
			if !strings.Contains(string(rd.Dockerfile), w) {
				t.Errorf("%s lacks %q:\n%s", img, w, rd.Dockerfile)
			}
		}
		if strings.HasSuffix(img, "-base") {
			continue // a -base image sets no USER, as in Kolla
		}
		root := strings.Contains(string(rd.Dockerfile), "apache2")
		if user := strings.Contains(string(rd.Dockerfile), "\nUSER "); user == root {
			t.Errorf("%s: USER directive %v, Apache %v: Apache images run as root, the others as their user", img, user, root)
		}
	}
	mdb, _ := r.Render("mariadb-server")
	if !strings.Contains(string(mdb.Dockerfile), "galera-4") || !strings.Contains(string(mdb.Dockerfile), "--uid 42434") {
		t.Errorf("mariadb-server lacks galera-4 or mysql's UID 42434:\n%s", mdb.Dockerfile)
	}
}

func TestRenderVariables(t *testing.T) {
	tr := embeddedTree(t)
	v := Vars{BaseImage: "example.org/debian", BaseTag: "12", InstallType: "binary", Registry: "127.0.0.1:5000", Namespace: "lab", Tag: "t1"}
	r := tr.NewRenderer(v, nil)
	base, err := r.Render("base")
	if err != nil {
		t.Fatal(err)
	}
	if base.From != "example.org/debian:12" || base.Parent != "" {
		t.Errorf("base FROM %q parent %q", base.From, base.Parent)
	}
	ks, err := r.Render("keystone")
	if err != nil {
		t.Fatal(err)
	}
	if ks.From != "127.0.0.1:5000/lab/keystone-base:t1" || ks.Parent != "keystone-base" {
		t.Errorf("keystone FROM %q parent %q", ks.From, ks.Parent)
	}
	if v.Ref("keystone") != "127.0.0.1:5000/lab/keystone:t1" {
		t.Errorf("Ref = %s", v.Ref("keystone"))
	}
}

// An override adds a package to keystone-base, removes one from base, and adds a
// footer step to keystone; other images are untouched.
func TestOverride(t *testing.T) {
	tr := embeddedTree(t)
	ov, err := tr.LoadOverride(writeFile(t, "override.j2", `{% extends parent_template %}
{# a comment #}
{% block keystone_base_packages_append %}vim-tiny
  jq{% endblock %}
{% block base_packages_remove %}less{% endblock %}
{% block keystone_footer %}
RUN echo "{{ image_name }} {{ tag }}" > /etc/koala-override
{% endblock %}
`))
	if err != nil {
		t.Fatal(err)
	}
	r := tr.NewRenderer(defaultVars, ov)
	plain := tr.NewRenderer(defaultVars, nil)
	render := func(r *Renderer, n string) string {
		rd, err := r.Render(n)
		if err != nil {
			t.Fatal(err)
		}
		return string(rd.Dockerfile)
	}
	if ks := render(r, "keystone-base"); !strings.Contains(ks, "libapache2-mod-wsgi-py3 vim-tiny jq") {
		t.Errorf("keystone-base: appended packages missing:\n%s", ks)
	}
	if b := render(r, "base"); strings.Contains(b, " less ") || !strings.Contains(b, "iproute2 lsof") {
		t.Errorf("base: less not removed:\n%s", b)
	}
	if k := render(r, "keystone"); !strings.Contains(k, `RUN echo "keystone 2025.1" > /etc/koala-override`) {
		t.Errorf("keystone: footer step missing:\n%s", k)
	}
	for _, n := range []string{"glance-api", "openstack-base"} {
		if a, b := render(r, n), render(plain, n); a != b {
			t.Errorf("%s changed by an override that does not name it:\n%s\n---\n%s", n, a, b)
		}
	}
}

func TestOverrideErrors(t *testing.T) {
	tr := embeddedTree(t)
	cases := []struct{ name, src, want string }{
		{"unknown image", "{% block zun_api_footer %}RUN true{% endblock %}\n", "override.j2:1: block zun_api_footer: no image of the tree declares it"},
		{"unknown image packages", "\n{% block zun_packages_append %}vim{% endblock %}\n", `override.j2:2: block zun_packages_append: no image "zun"`},
		{"syntax", "\n{% block keystone_footer %}RUN {{ image_name }{% endblock %}\n", "override.j2:2: syntax error"},
		{"stray text", "RUN true\n", "override.j2:1: text outside {% block %}"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := tr.LoadOverride(writeFile(t, "override.j2", c.src))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
}

// A template error names the file and line in the tree.
func TestTemplateErrors(t *testing.T) {
	mk := func(files map[string]string) *Tree {
		m := fstest.MapFS{"users.yml": {Data: []byte("kolla: 42400\n")}, "macros.j2": {Data: []byte("")}}
		for k, v := range files {
			m[k] = &fstest.MapFile{Data: []byte(v)}
		}
		tr, err := LoadTree(m, "/tree")
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	cases := []struct {
		name  string
		files map[string]string
		image string
		want  []string
	}{
		{"syntax", map[string]string{"a/Dockerfile.j2": "FROM x\n\nRUN {% if %}\n"}, "a", []string{"/tree/a/Dockerfile.j2:3: syntax error"}},
		{"undefined", map[string]string{"a/Dockerfile.j2": "FROM x\nRUN {{ nope }}\n"}, "a", []string{"/tree/a/Dockerfile.j2:2:", "nope"}},
		{"unknown user", map[string]string{"a/Dockerfile.j2": "FROM x\nRUN id {{ uid(\"nobody\") }}\n"}, "a", []string{`user "nobody" has no fixed UID`, "users.yml"}},
		{"missing parent", map[string]string{"a/Dockerfile.j2": "FROM {{ image_prefix }}gone:{{ tag }}\n"}, "a", []string{"/tree/a/Dockerfile.j2", "missing parent", `"gone"`}},
		{"no FROM", map[string]string{"a/Dockerfile.j2": "RUN true\n"}, "a", []string{"has no FROM"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := mk(c.files).NewRenderer(defaultVars, nil).Render(c.image)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func imagesFS() fs.FS { return images.FS }

// An error inside an override's block, found only when the image renders, names
// the override file and its line, not a virtual template.
func TestOverrideRenderError(t *testing.T) {
	tr := embeddedTree(t)
	ov, err := tr.LoadOverride(writeFile(t, "override.j2", "{% extends parent_template %}\n\n{% block keystone_footer %}\nRUN {{ no_such_var }}\n{% endblock %}\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = tr.NewRenderer(defaultVars, ov).Render("keystone")
	if err == nil || !strings.Contains(err.Error(), "override.j2:4:") || !strings.Contains(err.Error(), "no_such_var") {
		t.Fatalf("error %v, want it to name override.j2:4 and no_such_var", err)
	}
}
