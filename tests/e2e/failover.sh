#!/usr/bin/env bash
# End-to-end: failover without failed requests (issue 17), on the lab that
# tests/e2e/run.sh deployed (same LAB_NAME, E2E_DIR, E2E_REGISTRY_PORT). A
# client asks for a Keystone token through the VIP at a fixed rate, each
# request with a short timeout (tests/e2e/token-loop.sh), and a writer creates
# a project every second (tests/e2e/write-loop.sh), while, one case after the
# other: (1) the VIP holder is killed, (2) it comes back (`lab start`, then
# `deploy --limit`), (3) a node that does not hold the VIP is killed, (4) it
# comes back. Each case prints sent, failed, worst latency and the seconds
# from the fault until answers were fast again; the test fails if any token
# request failed or an acknowledged project cannot be read back.
# Usage: tests/e2e/failover.sh
# Environment (besides lib.sh's): FAILOVER_RATE (0.5 requests/s: what a lab
# on a busy 2-core machine answers without a queue), FAILOVER_TIMEOUT (10 s
# per request), FAILOVER_RETRIES (3: the client sends a failed request again
# after 0.5, 1 and 2 s, as keystoneauth's connect_retries does; a request in
# flight through a node at the moment it dies is lost with its TCP
# connection, and while no node holds the VIP (VRRP's 3 missed adverts, about
# 4 s) a connection is refused, whatever the servers do), FAILOVER_AFTER (30 s of client after a fault), FAILOVER_OUT
# (result directory), FAILOVER_ASSERT (1; 0 only reports, for bench/failover).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=lib.sh
. tests/e2e/lib.sh
need_deployed

RATE=${FAILOVER_RATE:-0.5}
TIMEOUT=${FAILOVER_TIMEOUT:-10}
RETRIES=${FAILOVER_RETRIES:-3}
AFTER=${FAILOVER_AFTER:-30}
OUT=${FAILOVER_OUT:-$WORK/failover}
ASSERT=${FAILOVER_ASSERT:-1}
mkdir -p "$OUT"
: > "$OUT/results"
openrc=$CONF/admin-openrc.sh
haproxy_password=$(awk '$1 == "haproxy_password:" {print $2}' "$CONF/passwords.yml")

running_addrs() { $KOALA lab status --name "$LAB" | awk -v p="$LAB-node" '$2 == "node" && index($1, p) == 1 && $5 == "running" {print $4}'; }

# backends_down: the haproxy servers that some running loadbalancer does not
# report UP (from its stats page, as `koala check` reads it).
backends_down() {
  local a
  for a in $(running_addrs); do
    curl -s -m 10 -u "openstack:$haproxy_password" "http://$a:1984/;csv" |
      awk -F, -v a="$a" '$1 !~ /^#/ && $2 != "FRONTEND" && $2 != "BACKEND" && $18 !~ /^UP/ && $18 != "no check" {print a ": " $1 "/" $2 " " $18}'
  done
}
# wait_all_up: every server UP on every loadbalancer, within 5 minutes.
wait_all_up() {
  local down
  for _ in $(seq 60); do down=$(backends_down); [ -z "$down" ] && return 0; sleep 5; done
  fail "haproxy servers not UP after 5 minutes: $down"
}

# wait_serving: a fault is measured only on a cloud that answers: 3 token
# requests in a row, each within 5 s, in at most 60 tries 5 s apart.
# (Overloaded, keystone answers nothing until its queue of abandoned requests
# drains.)
wait_serving() {
  local ok=0
  for _ in $(seq 60); do
    if TOKEN_LOOP_TIMEOUT=5 TOKEN_LOOP_MAX_REQUESTS=1 tests/e2e/token-loop.sh "$openrc" "$OUT/serving.log" | grep 'failures=0' >/dev/null; then
      ok=$((ok + 1)); [ "$ok" = 3 ] && return 0
    else
      ok=0; sleep 5
    fi
  done
  fail "keystone does not answer 3 token requests in a row within 5 s each (60 tries)"
}

# run_case NAME CMD...: start both clients, run CMD after 10 s of quiet
# traffic, keep the clients AFTER seconds longer, stop them, report.
run_case() {
  local name=$1; shift
  local tl=$OUT/$name-tokens.log wl=$OUT/$name-writes.log tpid wpid t_event t_done rc=0
  wait_serving
  TOKEN_LOOP_RATE=$RATE TOKEN_LOOP_TIMEOUT=$TIMEOUT TOKEN_LOOP_RETRIES=$RETRIES TOKEN_LOOP_MAX_SECONDS=1500 \
    tests/e2e/token-loop.sh "$openrc" "$tl" > "$OUT/$name-tokens.summary" &
  tpid=$!
  WRITE_LOOP_MAX_SECONDS=1500 tests/e2e/write-loop.sh "$openrc" "$wl" "failover-$name-$$" > "$OUT/$name-writes.summary" &
  wpid=$!
  sleep 10
  step "$name: $*"
  t_event=$(date +%s.%N)
  "$@" || rc=$?
  t_done=$(date +%s.%N)
  sleep "$AFTER"
  kill "$tpid" "$wpid"; wait "$tpid" "$wpid" || true
  [ "$rc" = 0 ] || fail "$name: $* exited $rc"
  report "$name" "$t_event" "$t_done" "$tl" "$wl"
}

# report NAME T_EVENT T_DONE TOKEN_LOG WRITE_LOG: one line of results. A
# request is slow when it took more than max(1 s, 3 × the median before the
# fault); fast_after is when the last slow or failed request ended, counted
# from the fault.
report() {
  local name=$1 t_event=$2 t_done=$3 tl=$4 wl=$5 line
  line=$(sort -n "$tl" | awk -v te="$t_event" -v td="$t_done" '
    $1 < te {base[nb++] = $3}
    {n++; if ($2 != 201) f++; if ($5 > 1) r++; if ($3 > worst) worst = $3; lat[NR] = $3; st[NR] = $1; ok[NR] = ($2 == 201)}
    END {
      # median of the quiet requests (sorted by insertion sort; they are few)
      for (i = 1; i < nb; i++) { v = base[i]; for (j = i - 1; j >= 0 && base[j] > v; j--) base[j + 1] = base[j]; base[j + 1] = v }
      med = nb ? base[int(nb / 2)] : 0
      thr = 3 * med; if (thr < 1) thr = 1
      fast = 0
      for (i = 1; i <= NR; i++) if (st[i] >= te && (!ok[i] || lat[i] > thr)) { e = st[i] + lat[i] - te; if (e > fast) fast = e }
      printf "sent=%d failed=%d retried=%d worst=%.2f fast_after=%.1f slow_threshold=%.2f took=%.0f", n, f, r, worst, fast, thr, td - te
    }')
  line="case=$name $line writes=$(awk '{n++} $2 == 201 {a++} END {printf "%d/%d", a, n}' "$wl") load=$(cut -d' ' -f1 /proc/loadavg)"
  echo "$line" | tee -a "$OUT/results"
  echo "$line" | grep -q ' failed=0 ' || { awk '$2 != 201' "$tl" | sort -n | head -20; }
}

# node_back HOST: the killed node starts again and is deployed to.
node_back() { $KOALA lab start --name "$LAB" "$1" && $KOALA deploy "${common[@]}" --limit "$1"; }

step "every haproxy server UP before the first fault"
wait_all_up

holder=$(vip_holder)
[ -n "$holder" ] || fail "no node holds the VIP"
run_case vip-holder-killed $KOALA lab kill --name "$LAB" "$holder"
run_case vip-holder-back node_back "$holder"
wait_all_up

other=$(node_hosts | grep -vx "$(vip_holder)" | head -1)
run_case other-node-killed $KOALA lab kill --name "$LAB" "$other"
run_case other-node-back node_back "$other"
wait_all_up

step "every acknowledged project reads back"
lost=0
for wl in "$OUT"/*-writes.log; do
  tests/e2e/write-loop.sh --verify "$openrc" "$wl" || lost=1
done

cat "$OUT/results"
[ "$ASSERT" = 1 ] || exit 0
[ "$lost" = 0 ] || fail "acknowledged projects were lost"
if grep -v ' failed=0 ' "$OUT/results"; then fail "token requests failed during failover (above)"; fi
step "FAILOVER E2E PASSED"
