#!/usr/bin/env bash
# End-to-end: `koala mariadb-recovery` after every database node went down
# uncleanly. Runs on a lab that tests/e2e/run.sh deployed (same LAB_NAME and
# E2E_DIR). Rows are written through all three nodes; one node is stopped
# cleanly and more rows are written without it, so its position is stale; all
# three are killed and started again. Recovery must refuse while a node is
# unreachable (changing nothing), then bootstrap from a node that has every
# row (never the stale one) and bring the cluster back to 3 nodes with every
# row; run again on the running cluster, it must change nothing.
# Usage: tests/e2e/recovery.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib.sh
. tests/e2e/lib.sh
need_deployed

sql() { local h=$1; shift; docker exec "$(node_ctr "$h")" docker exec mariadb mariadb -u mysql -N -B -e "$*"; }
mariadb_state() { for h in $(node_hosts | head -3); do echo "$h $(docker exec "$(node_ctr "$h")" docker inspect -f '{{.State.Status}} {{.State.StartedAt}}' mariadb)"; done; }
wait_docker() { for _ in $(seq 60); do docker exec "$(node_ctr "$1")" docker info >/dev/null 2>&1 && return 0; sleep 1; done; fail "$1: dockerd not up after 60 s"; }
grastate() { for h in "$@"; do echo "$h: $(docker exec "$(node_ctr "$h")" sh -c 'cat /var/lib/docker/volumes/mariadb/_data/grastate.dat | grep -v "^#"; docker inspect -f "{{.State.Status}}" mariadb' | tr '\n' ' ')"; done; }

mapfile -t H < <(node_hosts | head -3)
[ "${#H[@]}" = 3 ] || fail "want 3 lab nodes, found: ${H[*]}"

step "write rows through each node"
sql "${H[0]}" "CREATE DATABASE IF NOT EXISTS e2e_recovery; DROP TABLE IF EXISTS e2e_recovery.t;
  CREATE TABLE e2e_recovery.t (id INT AUTO_INCREMENT PRIMARY KEY, via VARCHAR(64), n INT)"
# 20 rows (20 transactions, one client) through each node.
for h in "${H[@]}"; do
  sql "$h" "$(for i in $(seq 20); do echo "INSERT INTO e2e_recovery.t (via, n) VALUES ('$h', $i);"; done)"
done

step "stop MariaDB cleanly on ${H[2]}, then write rows it will not have"
docker exec "$(node_ctr "${H[2]}")" docker stop mariadb >/dev/null
sql "${H[0]}" "$(for i in $(seq 20); do echo "INSERT INTO e2e_recovery.t (via, n) VALUES ('late', $i);"; done)"
want=$(sql "${H[0]}" "SELECT COUNT(*) FROM e2e_recovery.t")
[ "$want" = 80 ] || fail "wrote 80 rows, the table has $want"

# Galera restores a cluster by itself (pc.recovery) when every member of its
# last primary view restarts; mariadb-recovery then only has the other nodes
# join (checked at the end). The case it exists for is the one where nothing
# comes back by itself: keep the containers from restarting with the nodes.
step "kill all three nodes (MariaDB containers not restarting with them), start them again"
for h in "${H[@]}"; do docker exec "$(node_ctr "$h")" docker update --restart=no mariadb >/dev/null; done
for h in "${H[@]}"; do $KOALA lab kill --name "$LAB" "$h"; done
for h in "${H[@]}"; do $KOALA lab start --name "$LAB" "$h"; done
# Back to the deployed policy (a stopped container stays stopped).
for h in "${H[@]}"; do wait_docker "$h"; docker exec "$(node_ctr "$h")" docker update --restart=unless-stopped mariadb >/dev/null; done

step "recovery with ${H[1]} down: refused, nothing changed"
$KOALA lab stop --name "$LAB" "${H[1]}"
before=$(grastate "${H[0]}" "${H[2]}")
if $KOALA mariadb-recovery "${common[@]}" > "$WORK/recovery-refused.log" 2>&1; then
  fail "mariadb-recovery succeeded with ${H[1]} down"
fi
grep -q "${H[1]}" "$WORK/recovery-refused.log" || fail "the refusal does not name ${H[1]}: $(tail -5 "$WORK/recovery-refused.log")"
grep -q 'Stopping the MariaDB containers' "$WORK/recovery-refused.log" && fail "the refused recovery got as far as stopping containers"
after=$(grastate "${H[0]}" "${H[2]}")
[ "$before" = "$after" ] || fail "the refused recovery changed a node: $before -> $after"
$KOALA lab start --name "$LAB" "${H[1]}"
wait_docker "${H[1]}"

step "mariadb-recovery"
s0=$(date +%s.%N)
$KOALA mariadb-recovery "${common[@]}" | tee "$WORK/recovery.log"
echo "mariadb-recovery took $(echo "$(date +%s.%N) - $s0" | bc) s"
chosen=$(sed -n 's/.*Bootstrapping from \([^ ]*\) .*/\1/p' "$WORK/recovery.log" | head -1)
[ -n "$chosen" ] || fail "the recovery did not say which node it bootstrapped from"
[ "$chosen" != "${H[2]}" ] || fail "bootstrapped from the stale node ${H[2]}"

step "every row on every node, cluster size 3"
for h in "${H[@]}"; do
  n=$(sql "$h" "SELECT COUNT(*) FROM e2e_recovery.t")
  [ "$n" = "$want" ] || fail "$h has $n rows, want $want"
  size=$(sql "$h" "SHOW STATUS LIKE 'wsrep_cluster_size'" | awk '{print $2}')
  [ "$size" = 3 ] || fail "$h: cluster size $size, want 3"
  state=$(sql "$h" "SHOW STATUS LIKE 'wsrep_local_state_comment'" | awk '{print $2}')
  [ "$state" = Synced ] || fail "$h: $state, want Synced"
done

step "keystone answers through the VIP"
# shellcheck disable=SC1091
. "$CONF/admin-openrc.sh"
ok=""
for _ in $(seq 30); do
  if openstack token issue -f value -c id >/dev/null 2>&1; then ok=1; break; fi
  sleep 2
done
[ -n "$ok" ] || fail "openstack token issue after the recovery"

step "recovery of a running cluster: nothing to bootstrap, nothing restarted"
before=$(mariadb_state)
$KOALA mariadb-recovery "${common[@]}" > "$WORK/recovery-again.log" 2>&1 || fail "mariadb-recovery on a running cluster: $(tail -5 "$WORK/recovery-again.log")"
grep -q 'nothing to bootstrap' "$WORK/recovery-again.log" || fail "the second recovery did not see the running cluster"
[ "$before" = "$(mariadb_state)" ] || fail "the recovery of a running cluster restarted a container"

step "RECOVERY E2E PASSED"
