#!/usr/bin/env bash
# Ask the APIs behind the VIP, one request after the other, until stopped
# (SIGTERM or SIGINT), then print `requests=N failures=F seconds=S
# max_latency=L`. A token is issued once (and again when it is refused); each
# round GETs every URL with it. A failure is any answer but 200, or none
# within 60 s (haproxy's server timeout). Every request is logged as
# `EPOCH HTTP_CODE SECONDS URL` to LOG.
# Usage: tests/e2e/api-loop.sh OPENRC LOG URL...   (OPENRC: koala post-deploy's admin-openrc.sh)
# The password goes to curl on stdin, never in its arguments.
set -uo pipefail
[ $# -ge 3 ] || { echo "usage: $0 OPENRC LOG URL..." >&2; exit 1; }
# shellcheck disable=SC1090
. "$1"
log=$2
shift 2
: > "$log"
# shellcheck source=auth.sh
. "$(dirname "$0")/auth.sh"
token() {
  curl -s -D - -o /dev/null -m 60 "${tls[@]}" -H 'Content-Type: application/json' \
    --data-binary @- "$OS_AUTH_URL/v3/auth/tokens" <<< "$body" 2>/dev/null |
    awk 'tolower($1) == "x-subject-token:" {print $2}' | tr -d '\r'
}

stop=0
trap 'stop=1' TERM INT
n=0 failed=0 t0=$(date +%s) tok=""
while [ "$stop" = 0 ]; do
  [ -n "$tok" ] || tok=$(token)
  for url in "$@"; do
    out=$(curl -s -o /dev/null -m 60 "${tls[@]}" -H "X-Auth-Token: $tok" -w '%{http_code} %{time_total}' "$url" 2>/dev/null) || true
    code=${out%% *}
    n=$((n + 1))
    if [ "$code" != 200 ]; then
      failed=$((failed + 1))
      [ "$code" = 401 ] && tok=""
    fi
    echo "$(date +%s.%N) ${out:-000 0} $url" >> "$log"
  done
done
max=$(awk '$3 > m {m = $3} END {print m + 0}' "$log")
echo "requests=$n failures=$failed seconds=$(( $(date +%s) - t0 )) max_latency=$max"
