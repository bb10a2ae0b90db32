#!/usr/bin/env bash
# The write path under failover: create a Keystone project (POST /v3/projects,
# named PREFIX-N) through the VIP every second until stopped (SIGTERM or
# SIGINT) or a bound is reached, each request on its own with a timeout. Every
# request is logged as `START_EPOCH HTTP_CODE SECONDS NAME PROJECT_ID` to LOG
# (PROJECT_ID `-` unless created). `tests/e2e/write-loop.sh --verify OPENRC LOG`
# then reads back every acknowledged (201) project and prints
# `acknowledged=A missing=M`, exit 1 when one is missing.
# Usage: tests/e2e/write-loop.sh OPENRC LOG PREFIX
# Environment: WRITE_LOOP_TIMEOUT (10 s), WRITE_LOOP_MAX_SECONDS (1800),
# WRITE_LOOP_MAX_REQUESTS (3600).
set -uo pipefail
verify=0
[ "${1:-}" = --verify ] && { verify=1; shift; }
[ $# = $((3 - verify)) ] || { echo "usage: $0 OPENRC LOG PREFIX | $0 --verify OPENRC LOG" >&2; exit 1; }
# shellcheck disable=SC1090
. "$1"
log=$2
timeout=${WRITE_LOOP_TIMEOUT:-10}
# shellcheck source=auth.sh
. "$(dirname "$0")/auth.sh"

# A token for the whole run (valid for a day), asked for before any fault; the
# cloud may still be recovering from the previous case: up to 2 minutes.
token=""
for _ in $(seq 12); do
  token=$(curl -s -m 10 "${tls[@]}" -D - -o /dev/null -H 'Content-Type: application/json' \
    --data-binary @- "$OS_AUTH_URL/v3/auth/tokens" <<< "$body" | tr -d '\r' | awk -F': ' 'tolower($1) == "x-subject-token" {print $2}')
  [ -n "$token" ] && break
  sleep 1
done
[ -n "$token" ] || { echo "write-loop: no token from $OS_AUTH_URL" >&2; exit 1; }
hdr=(-H "X-Auth-Token: $token" -H 'Content-Type: application/json')

if [ "$verify" = 1 ]; then
  acked=0 missing=0
  while read -r _ code _ name id; do
    [ "$code" = 201 ] || continue
    acked=$((acked + 1))
    got=$(curl -s -o /dev/null -m 30 "${tls[@]}" -w '%{http_code}' "${hdr[@]}" "$OS_AUTH_URL/v3/projects/$id")
    [ "$got" = 200 ] || { missing=$((missing + 1)); echo "acknowledged project $name ($id) reads back $got" >&2; }
  done < "$log"
  echo "acknowledged=$acked missing=$missing"
  [ "$missing" = 0 ]
  exit
fi

prefix=$3
max_seconds=${WRITE_LOOP_MAX_SECONDS:-1800}
max_requests=${WRITE_LOOP_MAX_REQUESTS:-3600}
: > "$log"
create() {
  local start name=$prefix-$1 out code id
  start=$(date +%s.%N)
  out=$(curl -s -m "$timeout" "${tls[@]}" -w '\n%{http_code} %{time_total}' "${hdr[@]}" \
    --data-binary "{\"project\": {\"name\": \"$name\", \"domain_id\": \"default\"}}" "$OS_AUTH_URL/v3/projects" 2>/dev/null)
  code=$(tail -1 <<< "$out")
  [ -n "$code" ] || code="000 $timeout"
  id=$(head -n -1 <<< "$out" | python3 -c 'import json, sys
try: print(json.load(sys.stdin)["project"]["id"])
except Exception: print("-")')
  echo "$start $code $name $id" >> "$log"
}
stop=0
trap 'stop=1' TERM INT
n=0 t0=$(date +%s)
while [ "$stop" = 0 ] && [ "$n" -lt "$max_requests" ] && [ $(( $(date +%s) - t0 )) -lt "$max_seconds" ]; do
  create "$n" &
  n=$((n + 1))
  sleep 1 & wait $!
done
wait
awk -v n="$n" '$2 != 201 {f++} END {printf "writes=%d failures=%d\n", n, f}' "$log"
