#!/usr/bin/env bash
# Smoke test of the OpenStack service images after `koala build-images`: each one
# started the way kolla-ansible starts it (config.json and config files mounted at
# /var/lib/kolla/config_files, KOLLA_CONFIG_STRATEGY=COPY_ALWAYS, kolla_start):
#   - bootstrap (KOLLA_BOOTSTRAP="") against a SQLite database, which must then
#     hold the service's tables: glance-api, placement-api, heat-api, horizon;
#   - the service answering HTTP from inside its container (healthcheck_curl):
#     glance-api as glance, heat-api and horizon through Apache and mod_wsgi;
#   - heat-engine printing its version as heat; nova-api's bootstrap (API and
#     cell databases, SQLite); the other nova, neutron and openvswitch images
#     running a version or configuration check through kolla_start.
# No database server, keystone or message queue is needed. horizon's first start
# collects and compresses its static files (minutes on a loaded machine).
# Usage: tests/images/smoke.sh [IMAGE_PREFIX [TAG]]   (default kolla/ 2025.1)
set -euo pipefail
PREFIX=${1:-kolla/}
TAG=${2:-2025.1}
WORK=$(mktemp -d /tmp/koala-image-smoke.XXXXXX)
NAME=koala-smoke-$$
cleanup() { docker rm -f "$NAME" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# kolla IMAGE CONFDIR DATADIR DATAMOUNT [docker run options...]: kolla_start in IMAGE.
kolla() {
	local image=$1 conf=$2 data=$3 mount=$4; shift 4
	docker run "$@" -v "$conf:/var/lib/kolla/config_files:ro" -v "$data:$mount" \
		-e KOLLA_CONFIG_STRATEGY=COPY_ALWAYS "$PREFIX$image:$TAG"
}
# tables DB: the number of tables of a SQLite file (python3 on this host).
tables() { python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from sqlite_master where type=\"table\"").fetchone()[0])' "$1"; }
# serve IMAGE CONFDIR DATADIR DATAMOUNT URL TRIES: start detached, wait for URL.
serve() {
	local image=$1 conf=$2 data=$3 mount=$4 url=$5 tries=$6
	kolla "$image" "$conf" "$data" "$mount" -d --name "$NAME" >/dev/null
	for _ in $(seq "$tries"); do
		if docker exec "$NAME" healthcheck_curl "$url" >/dev/null 2>&1; then
			docker rm -f "$NAME" >/dev/null
			return 0
		fi
		sleep 5
	done
	docker logs "$NAME" 2>&1 | tail -20 >&2
	fail "$image: $url did not answer"
}
# setup NAME: a config dir and a data dir any container user can write.
setup() { mkdir -p "$WORK/$1/conf" "$WORK/$1/data"; chmod 0777 "$WORK/$1/data"; }

smoke_glance_api() {
setup glance
cat >"$WORK/glance/conf/config.json" <<'EOF'
{"command": "glance-api", "config_files": [{"source": "/var/lib/kolla/config_files/glance-api.conf", "dest": "/etc/glance/glance-api.conf", "owner": "glance", "perm": "0600"}]}
EOF
cat >"$WORK/glance/conf/glance-api.conf" <<'EOF'
[DEFAULT]
bind_host = 127.0.0.1
bind_port = 9292
workers = 1
[database]
connection = sqlite:////var/lib/glance/glance.db
[paste_deploy]
flavor =
[glance_store]
stores = file
default_store = file
filesystem_store_datadir = /var/lib/glance/images
EOF
kolla glance-api "$WORK/glance/conf" "$WORK/glance/data" /var/lib/glance --rm -e KOLLA_BOOTSTRAP= >"$WORK/glance.log" 2>&1 ||
	{ tail -20 "$WORK/glance.log"; fail "glance-api bootstrap"; }
grep -q "loaded to database" "$WORK/glance.log" || fail "glance-api bootstrap loaded no metadefs"
[[ $(tables "$WORK/glance/data/glance.db") -gt 10 ]] || fail "glance-api bootstrap made no tables"
serve glance-api "$WORK/glance/conf" "$WORK/glance/data" /var/lib/glance http://127.0.0.1:9292/versions 30
}

smoke_placement_api() {
setup placement
cat >"$WORK/placement/conf/config.json" <<'EOF'
{"command": "apache2ctl -t", "config_files": [{"source": "/var/lib/kolla/config_files/placement.conf", "dest": "/etc/placement/placement.conf", "owner": "placement", "perm": "0600"}]}
EOF
printf '[placement_database]\nconnection = sqlite:////var/lib/placement/placement.db\n' >"$WORK/placement/conf/placement.conf"
kolla placement-api "$WORK/placement/conf" "$WORK/placement/data" /var/lib/placement --rm -e KOLLA_BOOTSTRAP= >"$WORK/placement.log" 2>&1 ||
	{ tail -20 "$WORK/placement.log"; fail "placement-api bootstrap"; }
[[ $(tables "$WORK/placement/data/placement.db") -gt 10 ]] || fail "placement-api bootstrap made no tables"
kolla placement-api "$WORK/placement/conf" "$WORK/placement/data" /var/lib/placement --rm 2>&1 | grep -q "Syntax OK" ||
	fail "placement-api: Apache's configuration check"
}

smoke_heat_api() {
setup heat
cat >"$WORK/heat/conf/config.json" <<'EOF'
{"command": "/usr/sbin/apache2 -DFOREGROUND", "config_files": [
 {"source": "/var/lib/kolla/config_files/heat.conf", "dest": "/etc/heat/heat.conf", "owner": "heat", "perm": "0600"},
 {"source": "/var/lib/kolla/config_files/wsgi-heat-api.conf", "dest": "/etc/apache2/conf-enabled/wsgi-heat-api.conf", "owner": "heat", "perm": "0600"}]}
EOF
printf '[database]\nconnection = sqlite:////var/lib/heat/heat.db\n' >"$WORK/heat/conf/heat.conf"
cat >"$WORK/heat/conf/wsgi-heat-api.conf" <<'EOF'
Listen 127.0.0.1:8004
<Directory "/usr/bin">
    <FilesMatch "^heat-wsgi-api$">
        Require all granted
    </FilesMatch>
</Directory>
<VirtualHost *:8004>
    WSGIDaemonProcess heat-api processes=1 threads=1 user=heat group=heat display-name=heat-api
    WSGIProcessGroup heat-api
    WSGIScriptAlias / /usr/bin/heat-wsgi-api
    WSGIApplicationGroup %{GLOBAL}
    ErrorLog /var/log/kolla/heat/heat-api-error.log
</VirtualHost>
EOF
kolla heat-api "$WORK/heat/conf" "$WORK/heat/data" /var/lib/heat --rm -e KOLLA_BOOTSTRAP= >"$WORK/heat.log" 2>&1 ||
	{ tail -20 "$WORK/heat.log"; fail "heat-api bootstrap"; }
[[ $(tables "$WORK/heat/data/heat.db") -gt 10 ]] || fail "heat-api bootstrap made no tables"
serve heat-api "$WORK/heat/conf" "$WORK/heat/data" /var/lib/heat http://127.0.0.1:8004/ 30
}

smoke_heat_engine() {
setup heat-engine
echo '{"command": "heat-engine --version", "config_files": []}' >"$WORK/heat-engine/conf/config.json"
kolla heat-engine "$WORK/heat-engine/conf" "$WORK/heat-engine/data" /tmp/data --rm 2>&1 | tail -1 | grep -Eq '^[0-9]+\.' ||
	fail "heat-engine --version"
}

# runs IMAGE CMD REGEX: kolla_start in IMAGE (its extend_start, its user) runs
# CMD, whose output must match REGEX.
runs() {
	local image=$1 cmd=$2 re=$3 out
	setup "$image"
	printf '{"command": "%s", "config_files": []}\n' "$cmd" >"$WORK/$image/conf/config.json"
	out=$(kolla "$image" "$WORK/$image/conf" "$WORK/$image/data" /tmp/data --rm 2>&1) ||
		{ echo "$out" | tail -10 >&2; fail "$image: $cmd"; }
	echo "$out" | grep -Eq "$re" || { echo "$out" | tail -10 >&2; fail "$image: $cmd printed no match for $re"; }
}

smoke_nova() {
setup nova
cat >"$WORK/nova/conf/config.json" <<'EOF2'
{"command": "true", "config_files": [{"source": "/var/lib/kolla/config_files/nova.conf", "dest": "/etc/nova/nova.conf", "owner": "nova", "perm": "0600"}]}
EOF2
printf '[api_database]\nconnection = sqlite:////var/lib/nova/data/nova_api.db\n[database]\nconnection = sqlite:////var/lib/nova/data/nova.db\n' >"$WORK/nova/conf/nova.conf"
kolla nova-api "$WORK/nova/conf" "$WORK/nova/data" /var/lib/nova/data --rm -e KOLLA_BOOTSTRAP= >"$WORK/nova.log" 2>&1 ||
	{ tail -20 "$WORK/nova.log"; fail "nova-api bootstrap"; }
[[ $(tables "$WORK/nova/data/nova_api.db") -gt 10 && $(tables "$WORK/nova/data/nova.db") -gt 10 ]] ||
	fail "nova-api bootstrap made no API or cell tables"
for svc in conductor scheduler compute novncproxy; do
	runs "nova-$svc" "nova-$svc --version" '^31\.'
done
runs nova-libvirt "virsh --version" '^11\.'
runs nova-ssh "/usr/sbin/sshd -T" '^port 22$'
}

smoke_neutron() {
for svc in server openvswitch-agent dhcp-agent l3-agent metadata-agent; do
	runs "neutron-$svc" "neutron-${svc} --version" ' 26\.[0-9]+\.[0-9]+$'
done
}

smoke_openvswitch() {
runs openvswitch-db-server "ovsdb-tool db-version /var/lib/openvswitch/conf.db" '^[0-9]+\.[0-9]+\.[0-9]+$'
runs openvswitch-vswitchd "ovs-vsctl --version" 'Open vSwitch\) 3\.'
}

smoke_horizon() {
setup horizon
cat >"$WORK/horizon/conf/config.json" <<'EOF'
{"command": "/usr/sbin/apache2 -DFOREGROUND", "config_files": [
 {"source": "/var/lib/kolla/config_files/horizon.conf", "dest": "/etc/apache2/sites-enabled/000-default.conf", "owner": "horizon", "perm": "0600"},
 {"source": "/var/lib/kolla/config_files/_9998-kolla-settings.py", "dest": "/etc/openstack-dashboard/local_settings.d/_9998-kolla-settings.py", "owner": "horizon", "perm": "0600"}]}
EOF
cat >"$WORK/horizon/conf/_9998-kolla-settings.py" <<'EOF'
SECRET_KEY = "smoke-test"
ALLOWED_HOSTS = ["*"]
SESSION_ENGINE = "django.contrib.sessions.backends.db"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "/var/lib/horizon/data/horizon.db"}}
OPENSTACK_KEYSTONE_URL = "http://127.0.0.1:5000/v3"
EOF
cat >"$WORK/horizon/conf/horizon.conf" <<'EOF'
Listen 127.0.0.1:8080
<VirtualHost *:8080>
    WSGIScriptAlias / /usr/share/openstack-dashboard/wsgi.py
    WSGIDaemonProcess horizon user=horizon group=horizon processes=1 threads=2 display-name=horizon
    WSGIProcessGroup horizon
    WSGIApplicationGroup %{GLOBAL}
    <Directory /usr/share/openstack-dashboard>
        Require all granted
    </Directory>
    Alias /static /var/lib/openstack-dashboard/static
    <Directory /var/lib/openstack-dashboard/static>
        Require all granted
    </Directory>
    ErrorLog /var/log/kolla/horizon/horizon-error.log
</VirtualHost>
EOF
kolla horizon "$WORK/horizon/conf" "$WORK/horizon/data" /var/lib/horizon/data --rm -e KOLLA_BOOTSTRAP= >"$WORK/horizon.log" 2>&1 ||
	{ tail -20 "$WORK/horizon.log"; fail "horizon bootstrap"; }
[[ $(tables "$WORK/horizon/data/horizon.db") -gt 5 ]] || fail "horizon bootstrap made no tables"
chmod 0666 "$WORK/horizon/data/horizon.db"
serve horizon "$WORK/horizon/conf" "$WORK/horizon/data" /var/lib/horizon/data http://127.0.0.1:8080/auth/login/ 180
}

# SMOKE_IMAGES: which images to try (default all); make e2e names the ones the
# lab's deploy uses.
for image in ${SMOKE_IMAGES:-glance-api placement-api heat-api heat-engine nova neutron openvswitch horizon}; do
	echo "== $image"
	"smoke_${image//-/_}"
done
echo "OK: ${SMOKE_IMAGES:-glance-api placement-api heat-api heat-engine nova neutron openvswitch horizon}"
