#!/bin/bash
# Scale benchmark (make bench-scale; docs/BENCHMARKS.md, "Scale"): `koala run`
# of bench/scale/site.yml against a loopback sshd fleet of N hosts, first and
# no-change run, with each of FORKS: the
# controller's CPU per host-task (user+sys / (hosts x task-items)) and its peak
# RSS. The workload's cost per host does not depend on N, so a figure that
# grows with N is the engine's own. The fleet is bench/engine/fleet.sh's.
#
#   N=1000 FORKS="50 200" bench/scale/run.sh
#
# Needs root (fleet.sh starts one sshd per host) and openssh-server; the fleet
# is stopped on exit. 1,000 sshds and their sessions take a few GB of memory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
N=${N:-1000}
FORKS=${FORKS:-50 200}
KOALA=${KOALA:-$root/bin/koala}
fleet=$root/bench/engine/fleet.sh
inv=${FLEET_DIR:-/tmp/sshfleet}/inventory.ini
work=$(mktemp -d /tmp/bench-scale.XXXXXX)
items=9 # task-items per host: facts, 3 dirs, 3 configs, a command, a debug

trap 'bash "$fleet" down >/dev/null 2>&1 || true' EXIT
[ -x "$KOALA" ] || make -C "$root" build >/dev/null
bash "$fleet" down >/dev/null 2>&1 || true
bash "$fleet" up "$N" >/dev/null
echo "== Scale: $N hosts, $items task-items per host, load $(cut -d' ' -f1-3 /proc/loadavg)"
for f in $FORKS; do
	rm -rf /tmp/fleetroot; mkdir -p /tmp/fleetroot; chmod 1777 /tmp/fleetroot
	for r in first no-change; do
		/usr/bin/time -f "%e %U %S %M" -o "$work/time" "$KOALA" run -i "$inv" -f "$f" "$here/site.yml" >"$work/$f-$r.log" 2>&1 ||
			{ echo "-f $f $r failed:" >&2; tail -20 "$work/$f-$r.log" >&2; exit 1; }
		read -r w u s m <"$work/time"
		awk -v f="$f" -v r="$r" -v w="$w" -v u="$u" -v s="$s" -v m="$m" -v n="$((N * items))" -v l="$(cut -d' ' -f1 /proc/loadavg)" \
			'BEGIN { printf "-f %-4s %-9s wall %7.1fs  CPU %6.2fs = %.3f ms per host-task  peak RSS %4.0f MB  load %s\n", f, r, w, u + s, (u + s) * 1000 / n, m / 1024, l }'
	done
	grep -q "changed=0 " <(grep -E '^host' "$work/$f-no-change.log") || { echo "the no-change run changed something: $work/$f-no-change.log" >&2; exit 1; }
done
echo "logs: $work"
