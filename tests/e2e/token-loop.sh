#!/usr/bin/env bash
# Issue Keystone tokens (POST /v3/auth/tokens) through the VIP one after the
# other until stopped (SIGTERM or SIGINT), then print
# `requests=N failures=F seconds=S max_latency=L`. A failure is any answer
# other than 201, or none within 60 s (haproxy's server timeout). Every
# request is logged as `EPOCH HTTP_CODE SECONDS` to LOG.
# Usage: tests/e2e/token-loop.sh OPENRC LOG   (OPENRC: koala post-deploy's admin-openrc.sh)
# The password goes to curl on stdin, never in its arguments.
set -uo pipefail
[ $# = 2 ] || { echo "usage: $0 OPENRC LOG" >&2; exit 1; }
# shellcheck disable=SC1090
. "$1"
log=$2
: > "$log"
body=$(python3 -c 'import json, os; e = os.environ; print(json.dumps({"auth": {
    "identity": {"methods": ["password"], "password": {"user": {"name": e["OS_USERNAME"],
        "domain": {"name": e["OS_USER_DOMAIN_NAME"]}, "password": e["OS_PASSWORD"]}}},
    "scope": {"project": {"name": e["OS_PROJECT_NAME"], "domain": {"name": e["OS_PROJECT_DOMAIN_NAME"]}}}}}))')
tls=()
[ -n "${OS_CACERT:-}" ] && tls=(--cacert "$OS_CACERT")

stop=0
trap 'stop=1' TERM INT
n=0 failed=0 t0=$(date +%s)
while [ "$stop" = 0 ]; do
  out=$(curl -s -o /dev/null -m 60 "${tls[@]}" -w '%{http_code} %{time_total}' \
    -H 'Content-Type: application/json' --data-binary @- "$OS_AUTH_URL/v3/auth/tokens" <<< "$body" 2>/dev/null) || true
  code=${out%% *}
  n=$((n + 1))
  [ "$code" = 201 ] || failed=$((failed + 1))
  echo "$(date +%s.%N) ${out:-000 0}" >> "$log"
done
max=$(awk '$3 > m {m = $3} END {print m + 0}' "$log")
echo "requests=$n failures=$failed seconds=$(( $(date +%s) - t0 )) max_latency=$max"
