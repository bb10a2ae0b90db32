#!/usr/bin/env bash
# End-to-end: the day-2 commands on a deployed lab (after tests/e2e/run.sh, or
# on any lab whose config directory it made). check passes on the healthy
# cloud and fails naming the host when a container is stopped by hand;
# deploy-containers brings it back; genconfig changes no container; a changed
# keystone.conf option is applied by reconfigure, which restarts only keystone;
# a no-change reconfigure restarts nothing; pull changes no container; a --limit
# matching no host and destructive commands without the flag are refused;
# prune-images removes the dangling Kolla images only; stop stops every koala
# container; destroy leaves no koala container, volume or
# config on the hosts. It ends with the cloud destroyed.
# Usage: tests/e2e/lifecycle.sh (environment: tests/e2e/lib.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib.sh
. tests/e2e/lib.sh
need_deployed
first_host() { node_hosts | head -1; }
koala_containers() { docker exec "$1" docker ps ${2:-} --filter label=org.openstack.koala.spec --format '{{.Names}}'; }
# check on a healthy cloud. On a loaded machine keepalived's check script can
# time out and drop the VIP for a while (check then rightly fails): retry.
check_ok() {
  for i in 1 2 3 4 5 6; do
    local a b
    a=$(date +%s.%N)
    if $KOALA check "${common[@]}" "$@" > "$WORK/check.out" 2>&1; then
      b=$(date +%s.%N)
      echo "$(secs "$a" "$b")" > "$WORK/check.secs"
      cat "$WORK/check.out"; return 0
    fi
    echo "check attempt $i failed:"; cat "$WORK/check.out"; sleep 15
  done
  return 1
}
secs() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$@"; }

step "deploy (no change after run.sh)"
$KOALA deploy "${common[@]}"

step "check passes on the healthy cloud (timed), text and --json"
check_ok || fail "check on the deployed cloud"
echo "check took $(cat "$WORK/check.secs") s" | tee "$WORK/check.time"
check_ok --json > "$WORK/check.json" || fail "check --json on the deployed cloud"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["ok"] and r["hosts"] and all(h["ok"] and h["checks"] for h in r["hosts"]), r' "$WORK/check.json" \
  || fail "check --json does not report a healthy cloud"

step "a container stopped by hand: check fails and names the host"
host=$(first_host)
docker exec "$(node_ctr "$host")" docker stop keystone >/dev/null
set +e
$KOALA check "${common[@]}" > "$WORK/check-bad.txt" 2>&1
rc=$?
set -e
cat "$WORK/check-bad.txt"
[ "$rc" = 2 ] || fail "check exited $rc with keystone stopped on $host, want 2"
grep -q "^$host: .*problem" "$WORK/check-bad.txt" || fail "the report does not name $host"
grep -q "FAIL container keystone: exited" "$WORK/check-bad.txt" || fail "the report does not name the stopped container"

step "prechecks pass with keystone stopped (haproxy's VIP listener on its port is not in its way)"
$KOALA prechecks "${common[@]}" || fail "prechecks with keystone stopped on $host"

step "deploy-containers --limit $host starts it again; check passes"
$KOALA deploy-containers "${common[@]}" --limit "$host"
check_ok >/dev/null || fail "check after deploy-containers"

step "genconfig writes a changed keystone.conf option and restarts nothing"
mkdir -p "$CONF/config"
printf '[DEFAULT]\nmax_param_size = 65\n' > "$CONF/config/keystone.conf"
before=$(started_at)
$KOALA genconfig "${common[@]}"
after=$(started_at)
[ "$before" = "$after" ] || fail "genconfig restarted: $(restarted "$before" "$after")"
docker exec "$(node_ctr "$host")" grep -q 'max_param_size = 65' /etc/kolla/keystone/keystone.conf || fail "genconfig did not write the option"

step "reconfigure restarts keystone and nothing else, one node at a time under a token client"
before=$(started_at)
under_token_client reconfigure $KOALA reconfigure "${common[@]}"
after=$(started_at)
got=$(restarted "$before" "$after")
[ "$got" = "keystone " ] || fail "reconfigure restarted '$got', want only keystone"
[ "$(diff <(echo "$before") <(echo "$after") | grep -c '^>')" = "$(nodes | wc -l)" ] || fail "keystone not restarted on every node"
for n in $(nodes); do
  docker exec "$n" docker exec keystone grep -q 'max_param_size = 65' /etc/keystone/keystone.conf || fail "$n: keystone does not run with the new option"
done
check_ok >/dev/null || fail "check after reconfigure"

step "a no-change reconfigure restarts nothing and changes nothing (timed)"
before=$(started_at)
a=$(date +%s.%N)
$KOALA reconfigure "${common[@]}" --json > "$WORK/reconfigure.jsonl"
b=$(date +%s.%N)
after=$(started_at)
echo "no-change reconfigure took $(secs "$a" "$b") s" | tee "$WORK/reconfigure.time"
[ "$before" = "$after" ] || fail "the no-change reconfigure restarted: $(restarted "$before" "$after")"
grep -q '"status":"changed"' "$WORK/reconfigure.jsonl" && fail "the no-change reconfigure reported changes"

step "the option removed: reconfigure restarts keystone again"
rm "$CONF/config/keystone.conf"
before=$(started_at)
$KOALA reconfigure "${common[@]}"
got=$(restarted "$before" "$(started_at)")
[ "$got" = "keystone " ] || fail "reconfigure restarted '$got', want only keystone"

step "pull changes no container"
before=$(started_at)
$KOALA pull "${common[@]}"
[ "$before" = "$(started_at)" ] || fail "pull restarted containers"

step "bad input: a --limit matching no host, stop and destroy without the flag"
set +e
out=$($KOALA check "${common[@]}" --limit no-such-host 2>&1); rc=$?
set -e
[ "$rc" = 1 ] && grep -q 'matches no host' <<<"$out" || fail "--limit no-such-host: exit $rc: $out"
for cmd in stop destroy prune-images; do
  set +e
  out=$($KOALA "$cmd" "${common[@]}" 2>&1); rc=$?
  set -e
  [ "$rc" = 1 ] && grep -q 'refused without --yes-i-really-really-mean-it' <<<"$out" || fail "$cmd without the flag: exit $rc: $out"
done
for n in $(nodes); do
  [ -n "$(koala_containers "$n")" ] || fail "$n: containers gone after a refused command"
done
check_ok >/dev/null || fail "check after the refused commands"

step "prune-images removes the dangling Kolla images only (upgrade.sh's old keystone, and one made here)"
dangling() { docker exec "$1" docker images -q -f dangling=true -f label=kolla_version; }
for n in $(nodes); do docker exec "$n" docker commit memcached >/dev/null; done
$KOALA prune-images "${common[@]}" --yes-i-really-really-mean-it --json > "$WORK/prune.jsonl"
[ "$(grep -c '"status":"changed"' "$WORK/prune.jsonl")" = "$(nodes | wc -l)" ] || fail "prune-images did not report a change on every node"
for n in $(nodes); do
  left=$(dangling "$n")
  [ -z "$left" ] || fail "$n: dangling Kolla images left: $left"
done
check_ok >/dev/null || fail "check after prune-images"
$KOALA prune-images "${common[@]}" --yes-i-really-really-mean-it --json > "$WORK/prune2.jsonl"
grep -q '"status":"changed"' "$WORK/prune2.jsonl" && fail "a second prune-images reported changes"

step "stop: every koala container stopped, none removed; check fails"
$KOALA stop "${common[@]}" --yes-i-really-really-mean-it
for n in $(nodes); do
  running=$(koala_containers "$n")
  [ -z "$running" ] || fail "$n: still running after stop: $running"
  [ -n "$(koala_containers "$n" -a)" ] || fail "$n: stop removed the containers"
done
set +e; $KOALA check "${common[@]}" >/dev/null 2>&1; rc=$?; set -e
[ "$rc" = 2 ] || fail "check exited $rc on a stopped cloud, want 2"

step "destroy: no koala container, volume, config or state left"
$KOALA destroy "${common[@]}" --yes-i-really-really-mean-it
for n in $(nodes); do
  left=$(koala_containers "$n" -a)
  [ -z "$left" ] || fail "$n: containers left: $left"
  vols=$(docker exec "$n" docker volume ls -q)
  [ -z "$vols" ] || fail "$n: volumes left: $vols"
  cfg=$(docker exec "$n" find /etc/kolla -mindepth 1)
  [ -z "$cfg" ] || fail "$n: config left: $cfg"
  docker exec "$n" test ! -e /var/lib/koala || fail "$n: /var/lib/koala left"
done
step "destroy again changes nothing"
$KOALA destroy "${common[@]}" --yes-i-really-really-mean-it --json > "$WORK/destroy2.jsonl"
grep -q '"status":"changed"' "$WORK/destroy2.jsonl" && fail "a second destroy reported changes"

step "LIFECYCLE PASSED"
echo "1 passed, 0 failed"
