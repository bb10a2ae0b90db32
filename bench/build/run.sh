#!/bin/bash
# Build benchmark (make bench-build): koala build-images on the local Docker engine.
#  1. warm-up: build the selection once (cached layers make this fast when repeated);
#  2. no-change rebuild of the selection: wall time (target < 5 s for the whole tree);
#  3. cold builds with --threads 4 and --threads 1 (--no-cache: BuildKit reuses no
#     layer; debian:bookworm and every other image stay) and their ratio.
# SELECTION (default: the whole tree) and COLD_SELECTION (default: --profile infra,
# six images of which five build in parallel) are koala build-images arguments.
set -euo pipefail
cd "$(dirname "$0")/../.."
KOALA=${KOALA:-bin/koala}
SELECTION=${SELECTION:-}
COLD_SELECTION=${COLD_SELECTION:---profile infra}
NS=${NS:-koala-bench}
run() { # label args...
	local label=$1; shift
	local start end
	start=$(date +%s.%N)
	if ! "$KOALA" build-images --namespace "$NS" --progress quiet "$@" >/tmp/koala-bench-build.log 2>&1; then
		echo "$label: FAILED, see /tmp/koala-bench-build.log" >&2
		tail -20 /tmp/koala-bench-build.log >&2
		exit 1
	fi
	end=$(date +%s.%N)
	awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }'
}
echo "engine: $(docker version -f '{{.Server.Version}}'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
t=$(run warm-up $SELECTION)
echo "warm-up build (${SELECTION:-whole tree}): ${t}s"
t=$(run no-change $SELECTION)
echo "no-change rebuild (${SELECTION:-whole tree}): ${t}s"
t4=$(run cold-4 --no-cache --threads 4 $COLD_SELECTION)
echo "cold --threads 4 ($COLD_SELECTION): ${t4}s"
t1=$(run cold-1 --no-cache --threads 1 $COLD_SELECTION)
echo "cold --threads 1 ($COLD_SELECTION): ${t1}s"
echo "ratio threads1/threads4: $(awk -v a="$t1" -v b="$t4" 'BEGIN { printf "%.2f", a / b }')"
