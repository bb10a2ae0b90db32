#!/usr/bin/env bash
# make bench-failover: tests/e2e/failover.sh's cases (the VIP holder killed and
# back, another node killed and back) under a token client, first with
# kolla-ansible's haproxy settings (bench/failover/kolla-ansible.yml, put in
# the config directory's globals.d for the run), then with koala's defaults; prints the table
# for docs/BENCHMARKS.md. Works on the lab tests/e2e/run.sh deployed (same
# LAB_NAME, E2E_DIR, ...), running run.sh first when there is none. Needs
# root and Docker. Usage: bench/failover/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=../../tests/e2e/lib.sh
. tests/e2e/lib.sh
[ -f "$CONF/admin-openrc.sh" ] || tests/e2e/run.sh
out=$WORK/bench-failover

# measure NAME [GLOBALS]: reconfigure with the GLOBALS file in globals.d (none:
# koala's defaults), then the failover cases, results in $out/NAME/results.
measure() {
  rm -f "$CONF/globals.d/bench-failover.yml"
  if [ -n "${2:-}" ]; then mkdir -p "$CONF/globals.d" && cp "$2" "$CONF/globals.d/bench-failover.yml"; fi
  step "$1: reconfigure ${2:-}"
  $KOALA reconfigure "${common[@]}" > "$out/$1-reconfigure.log" 2>&1 ||
    { tail -20 "$out/$1-reconfigure.log"; fail "reconfigure for $1"; }
  FAILOVER_ASSERT=0 FAILOVER_OUT=$out/$1 KOALA=$KOALA tests/e2e/failover.sh
}
mkdir -p "$out"
measure before bench/failover/kolla-ansible.yml
measure after

# val NAME CASE KEY: one figure of a case's results line.
val() { awk -v c="case=$2" -v k="$3" '$1 == c { for (i = 2; i <= NF; i++) if (index($i, k "=") == 1) print substr($i, length(k) + 2) }' "$out/$1/results"; }
step "results: sent / failed (retried) / worst latency s / fast again after s; load average"
echo '| case | before (kolla-ansible) | after (koala) | load before / after |'
echo '|---|---|---|---|'
row() { echo "$(val "$1" "$2" sent) / $(val "$1" "$2" failed) ($(val "$1" "$2" retried)) / $(val "$1" "$2" worst) / $(val "$1" "$2" fast_after)"; }
for c in $(awk '{print substr($1, 6)}' "$out/before/results"); do
  echo "| $c | $(row before "$c") | $(row after "$c") | $(val before "$c" load) / $(val after "$c" load) |"
done
