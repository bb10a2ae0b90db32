#!/usr/bin/env bash
# Issue Keystone tokens (POST /v3/auth/tokens) through the VIP until stopped
# (SIGTERM or SIGINT) or a bound is reached, then print
# `requests=N failures=F seconds=S max_latency=L`. A failure is any answer
# other than 201, or none within the timeout. Every request is logged as
# `START_EPOCH HTTP_CODE SECONDS CURL_EXIT ATTEMPTS` to LOG (000 when nothing
# came back; SECONDS and the rest are of all attempts together).
# Usage: tests/e2e/token-loop.sh OPENRC LOG   (OPENRC: koala post-deploy's admin-openrc.sh)
# Environment:
#   TOKEN_LOOP_RATE     requests started per second, each on its own, so a
#                       slow answer does not delay the next (0, the default:
#                       one after the other)
#   TOKEN_LOOP_TIMEOUT  seconds a request may take (60: haproxy's server timeout)
#   TOKEN_LOOP_RETRIES  how often a failed request is sent again, after 0.5 s,
#                       then 1 s, 2 s, ... as keystoneauth's connect_retries
#                       does (0)
#   TOKEN_LOOP_MAX_SECONDS, TOKEN_LOOP_MAX_REQUESTS  bounds (1800 s, 100000)
# The password goes to curl on stdin, never in its arguments.
set -uo pipefail
[ $# = 2 ] || { echo "usage: $0 OPENRC LOG" >&2; exit 1; }
# shellcheck disable=SC1090
. "$1"
log=$2
rate=${TOKEN_LOOP_RATE:-0}
timeout=${TOKEN_LOOP_TIMEOUT:-60}
retries=${TOKEN_LOOP_RETRIES:-0}
max_seconds=${TOKEN_LOOP_MAX_SECONDS:-1800}
max_requests=${TOKEN_LOOP_MAX_REQUESTS:-100000}
: > "$log"
# shellcheck source=auth.sh
. "$(dirname "$0")/auth.sh"

# request: one token request, logged as one line (a single write, so lines of
# concurrent requests do not mix).
request() {
  local start out code rc attempt=0
  start=$(date +%s.%N)
  while :; do
    attempt=$((attempt + 1)) rc=0
    out=$(curl -s -o /dev/null -m "$timeout" "${tls[@]}" -w '%{http_code}' \
      -H 'Content-Type: application/json' --data-binary @- "$OS_AUTH_URL/v3/auth/tokens" <<< "$body" 2>/dev/null) || rc=$?
    code=${out:-000}
    [ "$code" = 201 ] || [ "$attempt" -gt "$retries" ] && break
    sleep "$(awk -v a="$attempt" 'BEGIN {print 0.5 * 2 ^ (a - 1)}')"
  done
  echo "$start $code $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.3f", b - a}') $rc $attempt" >> "$log"
}

stop=0
trap 'stop=1' TERM INT
n=0 t0=$(date +%s.%N)
while [ "$stop" = 0 ] && [ "$n" -lt "$max_requests" ] && \
      [ "$(echo "$(date +%s.%N) - $t0 < $max_seconds" | bc)" = 1 ]; do
  if [ "$rate" = 0 ]; then
    request
  else
    request &
    # The next start is due at t0 + n/rate, whatever this one takes.
    wait_s=$(echo "$t0 + ($n + 1) / $rate - $(date +%s.%N)" | bc -l)
    [ "$(echo "$wait_s > 0" | bc)" = 1 ] && { sleep "$wait_s" & wait $!; }
  fi
  n=$((n + 1))
done
# Requests still running end within their timeout.
wait
awk -v n="$n" -v s="$(echo "$(date +%s.%N) - $t0" | bc)" '
  $2 != 201 {f++} $3 > m {m = $3}
  END {printf "requests=%d failures=%d seconds=%d max_latency=%s\n", n, f, s, m + 0}' "$log"
