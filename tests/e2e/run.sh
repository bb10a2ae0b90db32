#!/usr/bin/env bash
# End-to-end: from nothing to `openstack token issue` through the VIP of a 3-node
# lab, then the HA checks (VIP failover, a node rejoining, a node killed in the
# middle of a deploy). Every step is a koala command an operator would run.
# Needs root, a Docker engine and Debian's mirror. Usage: tests/e2e/run.sh
# Environment: LAB_NAME, E2E_DIR, E2E_REGISTRY_PORT, E2E_SUBNET (tests/e2e/lib.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=lib.sh
. tests/e2e/lib.sh

if ! docker info >/dev/null 2>&1; then
  echo "E2E SKIPPED: no Docker engine reachable; the lab's nodes are containers on it"
  exit 0
fi

step "build koala"
make build >/dev/null
# A private copy: bin/koala may be rebuilt by someone else while this runs.
mkdir -p "$WORK"
cp bin/koala bin/kolla-runtime "$WORK/"
KOALA=$WORK/koala

# From nothing: a lab left by an earlier run may be on an older node image
# (`lab up` keeps running nodes) and holds an earlier cloud.
step "lab down --name $LAB (an earlier run's lab)"
$KOALA lab down --name "$LAB"
rm -rf "$CONF" "$WORK/etc-kolla-tls"

e2e_setup

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
# Not `| grep -q`: grep quits at the first match and pipefail fails the client.
endpoints=$(openstack endpoint list -f value -c 'Service Name' -c Interface)
grep -q 'keystone internal' <<< "$endpoints" || fail "no internal identity endpoint: $endpoints"

step "glance and placement through the VIP"
# A 20 MB image in and out of glance, byte for byte; placement answers.
head -c 20M /dev/urandom > "$WORK/e2e-image.raw"
openstack image show e2e-image >/dev/null 2>&1 || openstack image create --file "$WORK/e2e-image.raw" \
  --disk-format raw --container-format bare e2e-image >/dev/null || fail "openstack image create"
image_roundtrip() {
  rm -f "$WORK/e2e-image.out"
  openstack image save --file "$WORK/e2e-image.out" e2e-image || fail "openstack image save $1"
  cmp -s "$WORK/e2e-image.raw" "$WORK/e2e-image.out" || fail "the image glance returned $1 differs from the one uploaded"
  openstack resource provider list >/dev/null || fail "openstack resource provider list $1"
}
image_roundtrip "after the upload"

step "a second deploy restarts nothing"
before=$(started_at)
$KOALA deploy "${common[@]}" --json > "$WORK/redeploy.jsonl" || { grep -E '"status":"(failed|unreachable)"' "$WORK/redeploy.jsonl" | head -5; fail "the no-change deploy failed"; }
after=$(started_at)
[ "$before" = "$after" ] || { diff <(echo "$before") <(echo "$after"); fail "the no-change deploy restarted containers"; }
if grep '"status":"changed"' "$WORK/redeploy.jsonl"; then fail "the no-change deploy reported changes"; fi

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
image_roundtrip "after the VIP holder was killed"

step "restart the killed node; it rejoins after deploy --limit"
$KOALA lab start --name "$LAB" "$holder"
$KOALA deploy "${common[@]}" --limit "$holder"
size=$(docker exec "$(node_ctr "$moved")" docker exec mariadb mariadb -u mysql -N -B -e "SHOW STATUS LIKE 'wsrep_cluster_size'" | awk '{print $2}')
[ "$size" = 3 ] || fail "Galera cluster size $size, want 3"
running=$(docker exec "$(node_ctr "$moved")" docker exec rabbitmq rabbitmqctl --formatter json cluster_status | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["running_nodes"]))')
[ "$running" = 3 ] || fail "RabbitMQ runs $running nodes, want 3"

step "a node killed in the middle of a deploy: the run ends naming it; a re-run converges"
mkdir -p "$CONF/config"
printf '[DEFAULT]\nmax_param_size = 66\n' > "$CONF/config/keystone.conf"
victim=$(node_hosts | grep -vx "$(vip_holder)" | tail -1)
$KOALA deploy "${common[@]}" > "$WORK/deploy-killed.log" 2>&1 &
dpid=$!
# Killed once the deploy works on keystone (the changed option restarts it).
for _ in $(seq 600); do grep -q 'TASK \[keystone' "$WORK/deploy-killed.log" && break; kill -0 "$dpid" 2>/dev/null || break; sleep 0.2; done
$KOALA lab kill --name "$LAB" "$victim"
ended=""
for _ in $(seq 300); do kill -0 "$dpid" 2>/dev/null || { ended=1; break; }; sleep 1; done
[ -n "$ended" ] || { kill "$dpid"; fail "the deploy still runs 5 minutes after $victim was killed"; }
rc=0; wait "$dpid" || rc=$?
[ "$rc" = 2 ] || { tail -20 "$WORK/deploy-killed.log"; fail "the deploy exited $rc with $victim killed, want 2"; }
grep -q "failed or unreachable: .*$victim" "$WORK/deploy-killed.log" || { tail -20 "$WORK/deploy-killed.log"; fail "the deploy's failure does not name $victim"; }
$KOALA lab start --name "$LAB" "$victim"
for _ in $(seq 60); do docker exec "$(node_ctr "$victim")" docker info >/dev/null 2>&1 && break; sleep 1; done
$KOALA deploy "${common[@]}" || fail "the re-run after $victim came back"
for n in $(nodes); do
  docker exec "$n" docker exec keystone grep -q 'max_param_size = 66' /etc/keystone/keystone.conf || fail "$n: keystone does not run with the option after the re-run"
done
size=$(docker exec "$(node_ctr "$victim")" docker exec mariadb mariadb -u mysql -N -B -e "SHOW STATUS LIKE 'wsrep_cluster_size'" | awk '{print $2}')
[ "$size" = 3 ] || fail "Galera cluster size $size after the re-run, want 3"
rm "$CONF/config/keystone.conf"
$KOALA deploy "${common[@]}" >/dev/null || fail "deploy without the option"

step "every container running and healthy; /etc/kolla modes"
# The restarted node's containers may still be in their healthchecks' start
# period: wait up to 3 minutes for every one to be running and healthy.
unhealthy() { for n in $(nodes); do docker exec "$n" docker ps -a --format "$n {{.Names}} {{.Status}}" | grep -v -E 'Up .*\(healthy\)|Up [^(]*$' || true; done; }
for _ in $(seq 36); do bad=$(unhealthy); [ -z "$bad" ] && break; sleep 5; done
[ -z "$bad" ] || fail "containers not running/healthy after 3 min: $bad"
for n in $(nodes); do
  wrong=$(docker exec "$n" find /etc/kolla -mindepth 1 \( -type f ! -perm 0600 ! -perm 0660 \) -o \( -type d ! -perm 0770 \) | head)
  [ -z "$wrong" ] || fail "$n: wrong modes under /etc/kolla: $wrong"
done

step "E2E PASSED"
echo "1 passed, 0 failed"
