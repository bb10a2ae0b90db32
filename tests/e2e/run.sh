#!/usr/bin/env bash
# End-to-end: from nothing to `openstack token issue` through the VIP of a 3-node
# lab, then the HA checks. Every step is a koala command an operator would run.
# Needs root, a Docker engine and Debian's mirror. Usage: tests/e2e/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

KOALA=${KOALA:-bin/koala}
LAB=${LAB_NAME:-koala-e2e}
WORK=${E2E_DIR:-/tmp/koala-e2e}
LAB_DIR=$WORK/lab
CONF=$WORK/etc-kolla
REG_PORT=${E2E_REGISTRY_PORT:-5000}
t0=$(date +%s)
step() { printf '\n=== [%4ss] %s\n' "$(( $(date +%s) - t0 ))" "$*"; }
fail() { echo "E2E FAILED: $*" >&2; exit 1; }

step "build koala"
make build >/dev/null

step "base image (debootstrap, cached)"
$KOALA lab base

step "lab up --nodes 3"
$KOALA lab up --name "$LAB" --nodes 3 --lab-dir "$LAB_DIR" --registry-port "$REG_PORT"
INV=$LAB_DIR/multinode
[ -f "$INV" ] || fail "lab up wrote no inventory at $INV"

step "build-images for the control plane, pushed to the lab registry"
$KOALA build-images --push --registry "127.0.0.1:$REG_PORT" --registry-insecure \
  --logs-dir "$WORK/build-logs" \
  '^(base|openstack-base|mariadb-server|rabbitmq|memcached|haproxy|keepalived|keystone-base|keystone)$'

step "config directory: the lab's globals.yml, kolla-ansible's passwords.yml, genpwd"
mkdir -p "$CONF"
cp "$LAB_DIR/globals.yml" "$CONF/globals.yml"
# The lab's Docker engine caps nofile at 20000: haproxy needs 2 x maxconn + a few.
echo 'haproxy_max_connections: 8000' >> "$CONF/globals.yml"
[ -f "$CONF/passwords.yml" ] || cp ../shared/compat/kolla-ansible/passwords.yml "$CONF/passwords.yml"
$KOALA genpwd -p "$CONF/passwords.yml"

common=(-i "$INV" --configdir "$CONF")
step "bootstrap-servers"; $KOALA bootstrap-servers "${common[@]}"
step "prechecks";         $KOALA prechecks "${common[@]}"
step "deploy";            $KOALA deploy "${common[@]}"
step "post-deploy";       $KOALA post-deploy "${common[@]}"
[ "$(stat -c %a "$CONF/admin-openrc.sh")" = 600 ] || fail "admin-openrc.sh is not mode 0600"

step "openstack client through the VIP"
command -v openstack >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-openstackclient >/dev/null
# shellcheck disable=SC1091
. "$CONF/admin-openrc.sh"
openstack token issue -f value -c id >/dev/null || fail "openstack token issue"
openstack project show e2e-project >/dev/null 2>&1 || openstack project create e2e-project >/dev/null
openstack user show e2e-user >/dev/null 2>&1 || openstack user create --project e2e-project --password e2e-secret e2e-user >/dev/null
openstack endpoint list -f value -c 'Service Name' -c Interface | grep -q 'keystone internal' || fail "no internal identity endpoint"

# `koala lab status` columns: NAME ROLE HOST ADDRESS STATE NETWORK [holds VIP]
nodes() { $KOALA lab status --name "$LAB" | awk '$2 == "node" {print $1}'; }
vip_holder() { $KOALA lab status --name "$LAB" | awk '$2 == "node" && /holds VIP/ {print $3}'; }
node_ctr() { $KOALA lab status --name "$LAB" | awk -v h="$1" '$2 == "node" && $3 == h {print $1}'; }
started_at() { for n in $(nodes); do docker exec "$n" docker ps -q | xargs -r docker exec "$n" docker inspect -f '{{.Name}} {{.State.StartedAt}}'; done | sort; }

step "a second deploy restarts nothing"
before=$(started_at)
$KOALA deploy "${common[@]}" --json > "$WORK/redeploy.jsonl"
after=$(started_at)
[ "$before" = "$after" ] || { diff <(echo "$before") <(echo "$after"); fail "the no-change deploy restarted containers"; }
grep -q '"status":"changed"' "$WORK/redeploy.jsonl" && fail "the no-change deploy reported changes"

step "kill the VIP holder: the VIP moves and the API keeps answering"
holder=$(vip_holder)
[ -n "$holder" ] || fail "no node holds the VIP"
$KOALA lab kill --name "$LAB" "$holder"
moved=""
for _ in $(seq 20); do
  sleep 0.5
  h=$(vip_holder)
  if [ -n "$h" ] && [ "$h" != "$holder" ]; then moved=$h; break; fi
done
[ -n "$moved" ] || fail "the VIP did not move within 10 s"
openstack token issue -f value -c id >/dev/null || fail "token issue after failover"
openstack project show e2e-project >/dev/null || fail "project created before the failover is gone"

step "restart the killed node; it rejoins after deploy --limit"
$KOALA lab start --name "$LAB" "$holder"
$KOALA deploy "${common[@]}" --limit "$holder"
size=$(docker exec "$(node_ctr "$moved")" docker exec mariadb mysql -u mysql -N -B -e "SHOW STATUS LIKE 'wsrep_cluster_size'" | awk '{print $2}')
[ "$size" = 3 ] || fail "Galera cluster size $size, want 3"
running=$(docker exec "$(node_ctr "$moved")" docker exec rabbitmq rabbitmqctl --formatter json cluster_status | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["running_nodes"]))')
[ "$running" = 3 ] || fail "RabbitMQ runs $running nodes, want 3"

step "every container running and healthy; /etc/kolla modes"
for n in $(nodes); do
  bad=$(docker exec "$n" docker ps -a --format '{{.Names}} {{.Status}}' | grep -v -E 'Up .*\(healthy\)|Up [^(]*$' || true)
  [ -z "$bad" ] || fail "$n: containers not running/healthy: $bad"
  wrong=$(docker exec "$n" find /etc/kolla -mindepth 1 \( -type f ! -perm 0600 ! -perm 0660 \) -o \( -type d ! -perm 0770 \) | head)
  [ -z "$wrong" ] || fail "$n: wrong modes under /etc/kolla: $wrong"
done

step "E2E PASSED"
echo "1 passed, 0 failed"
