#!/bin/bash
# Build benchmark (make bench-build): koala build-images on the local Docker engine,
# in one run:
#  1. warm-up: build SELECTION once (a cache hit everywhere when the tree was
#     built before; a cold build otherwise, which can take an hour);
#  2. no-change rebuild of SELECTION: wall time (goal < 2 s for the whole tree,
#     flat in the number of images: every image is skipped unchanged, no solve);
#  3. cold builds of COLD_SELECTION with --threads 4 and --threads 1 and their ratio.
#     --no-cache: BuildKit reuses no layer of the images built (apt downloads and
#     installs again); the images they start FROM stay as they are.
# SELECTION defaults to the whole tree (every image of images/). COLD_SELECTION
# defaults to four leaf images with --skip-parents (memcached, haproxy, keepalived
# on base; heat-engine on heat-base): their parents are cached (built by the
# warm-up) and only they are built cold, four independent builds. A cold build of
# the whole tree (COLD_SELECTION=" ": every image with --no-cache) is dominated by
# the chain base -> openstack-base -> glance-base/heat-base/horizon, ~1 hour of
# mostly serial apt work on a 2-core machine; every leaf:
#   COLD_SELECTION='--skip-parents ^(keystone|glance-api|placement-api|heat-api|heat-engine|horizon|mariadb-server|rabbitmq|memcached|haproxy|keepalived)$'

# COLD_SELECTION=none skips step 3.
#  4. flatness: for each N of SYNTH_SIZES (default "10 40"; "" to skip), a
#     generated tree of N small images (one FROM the base image, the others
#     FROM it, each a RUN and a COPY) is built once, then rebuilt with no
#     change: the no-change time should not grow with N (no solve per image).
# Other variables: KOALA (binary), NS (image namespace, default koala-bench, so
# that the images deploys use are left alone), LOG (koala's output).
set -euo pipefail
cd "$(dirname "$0")/../.."
KOALA=${KOALA:-bin/koala}
SELECTION=${SELECTION:-}
COLD_SELECTION=${COLD_SELECTION:---skip-parents ^(memcached|haproxy|keepalived|heat-engine)$}
SYNTH_SIZES=${SYNTH_SIZES-10 40}
NS=${NS:-koala-bench}
LOG=${LOG:-/tmp/koala-bench-build.log}
SUMMARY=$(mktemp)
trap 'rm -f "$SUMMARY"' EXIT

run() { # label args... -> wall seconds; the summary of the run is in $SUMMARY
	local label=$1; shift
	local start end
	start=$(date +%s.%N)
	if ! "$KOALA" build-images --namespace "$NS" --progress quiet --summary-json "$SUMMARY" "$@" >"$LOG" 2>&1; then
		echo "$label: FAILED, see $LOG" >&2
		tail -20 "$LOG" >&2
		exit 1
	fi
	end=$(date +%s.%N)
	awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }'
}
built() { python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["built"]))' "$SUMMARY"; }
unchanged() { python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["skipped_unchanged"]))' "$SUMMARY"; }

echo "engine: $(docker version -f '{{.Server.Version}}'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
# shellcheck disable=SC2086
t=$(run warm-up $SELECTION)
echo "warm-up build (${SELECTION:-whole tree}, $(built) images): ${t}s"
# shellcheck disable=SC2086
t=$(run no-change $SELECTION)
echo "no-change rebuild (${SELECTION:-whole tree}): ${t}s, $(built) built, $(unchanged) unchanged"
for n in $SYNTH_SIZES; do
	tree=$(mktemp -d)
	printf 'kolla: 42400\n' >"$tree/users.yml"
	for i in $(seq 0 $((n - 1))); do
		mkdir -p "$tree/s$i"
		from='{{ image_prefix }}s0:{{ tag }}'
		[ "$i" = 0 ] && from='{{ base_image }}:{{ base_tag }}'
		printf 'FROM %s\nCOPY f /s%d\nRUN echo %d > /n\n' "$from" "$i" "$i" >"$tree/s$i/Dockerfile.j2"
		echo "$i" >"$tree/s$i/f"
	done
	t=$(run synth-first --tag bench --images-dir "$tree")
	echo "synthetic tree of $n images: first build ${t}s ($(built) built, $(unchanged) unchanged)"
	t=$(run synth-no-change --tag bench --images-dir "$tree")
	echo "synthetic tree of $n images: no-change rebuild ${t}s ($(built) built, $(unchanged) unchanged)"
	rm -rf "$tree"
	# shellcheck disable=SC2046
	docker rmi $(for i in $(seq 0 $((n - 1))); do echo "$NS/s$i:bench"; done) >/dev/null
done
[ "$COLD_SELECTION" = none ] && { echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"; exit 0; }
echo "load before the cold builds: $(cut -d' ' -f1-3 /proc/loadavg)"
# shellcheck disable=SC2086
t4=$(run cold-4 --no-cache --threads 4 $COLD_SELECTION)
echo "cold --threads 4 ($COLD_SELECTION, $(built) images): ${t4}s"
# shellcheck disable=SC2086
t1=$(run cold-1 --no-cache --threads 1 $COLD_SELECTION)
echo "cold --threads 1 ($COLD_SELECTION, $(built) images): ${t1}s"
echo "ratio threads1/threads4: $(awk -v a="$t1" -v b="$t4" 'BEGIN { printf "%.2f", a / b }')"
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
