#!/usr/bin/env bash
# make bench-deploy: the wall time of the first deploy of a fresh 3-node lab and
# of no-change redeploys, with the controller's CPU (user+sys of the koala
# process) for each. Needs root, Docker and Debian's mirror; the lab is made
# from scratch (warm image cache: a few minutes) and removed at the end unless
# KEEP_LAB=1. Usage: bench/deploy/run.sh [REDEPLOYS]
set -euo pipefail
cd "$(dirname "$0")/../.."
export LAB_NAME=${LAB_NAME:-koala-bench} E2E_DIR=${E2E_DIR:-/tmp/koala-bench}
export E2E_REGISTRY_PORT=${E2E_REGISTRY_PORT:-5010} E2E_SUBNET=${E2E_SUBNET:-10.92.0.0/24}
# shellcheck source=../../tests/e2e/lib.sh
. tests/e2e/lib.sh
runs=${1:-3}

make build >/dev/null
step "fresh lab $LAB"
$KOALA lab down --name "$LAB" >/dev/null 2>&1 || true
rm -rf "$CONF"
e2e_setup
step "bootstrap-servers"
$KOALA bootstrap-servers "${common[@]}" >/dev/null

# timed LABEL CMD...: one line "LABEL wall user sys" into $WORK/bench.txt.
timed() {
  local label=$1; shift
  /usr/bin/time -f "%e %U %S" -o "$WORK/time.out" "$@" >"$WORK/$label.log" 2>&1 \
    || { tail -30 "$WORK/$label.log"; fail "$label failed (log: $WORK/$label.log)"; }
  echo "$label $(cat "$WORK/time.out")" | tee -a "$WORK/bench.txt"
}
: >"$WORK/bench.txt"
step "first deploy"
timed deploy-first $KOALA deploy "${common[@]}"
for i in $(seq "$runs"); do
  step "no-change redeploy $i/$runs"
  timed "redeploy-$i" $KOALA deploy "${common[@]}"
done

step "results (seconds; controller CPU = user + sys of koala)"
load=$(cut -d' ' -f1-3 /proc/loadavg)
awk -v la="$load" 'BEGIN { printf "%-14s %8s %8s\n", "run", "wall", "ctl CPU" }
  { printf "%-14s %8.2f %8.2f\n", $1, $2, $3 + $4 }
  END { print "load average at the end: " la }' "$WORK/bench.txt"
[ "${KEEP_LAB:-0}" = 1 ] || $KOALA lab down --name "$LAB" >/dev/null
