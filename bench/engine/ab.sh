#!/bin/bash
# A/B of two koala binaries on the engine workload (docs/BENCHMARKS.md,
# "Persistent shells"), on a private fleet that does not disturb fleet.sh's:
# hosts on 127.0.3.x, output under /tmp/fleetroot-ab, the runs alternated.
# Host CPU is everything the fleet's sshds ran, read from a cpuacct cgroup.
#
#   bench/engine/ab.sh OLD_KOALA NEW_KOALA [PLAYBOOK]   # ROUNDS=2 N=5
#
# Needs root, openssh-server, cgroup v1 cpuacct at /sys/fs/cgroup/cpuacct.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 2 ] || { echo "usage: $0 OLD_KOALA NEW_KOALA [PLAYBOOK]" >&2; exit 2; }
old=$1 new=$2 play=${3:-$here/site.yml}
BASELINE=${BASELINE:-$here} # site.yml (the same workload for both tools) and fleet.sh
N=${N:-5} ROUNDS=${ROUNDS:-2}
export FLEET_DIR=/tmp/sshfleet-ab
cg=/sys/fs/cgroup/cpuacct/koala-ab
work=$(mktemp -d /tmp/bench-ab.XXXXXX)
sed -e 's|127\.0\.$((1 + |127.0.$((3 + |' -e 's|/tmp/fleetroot|/tmp/fleetroot-ab|g' "$BASELINE/fleet.sh" >"$work/fleet.sh"
cp -r "$(dirname "$play")/templates" "$work/" 2>/dev/null || true
sed 's|/tmp/fleetroot/|/tmp/fleetroot-ab/|' "$play" >"$work/play.yml"
# fleet.sh installs its key as the fleet user's only one: share fleet.sh's keys
# (the host key too, so known_hosts entries stay valid between runs).
mkdir -p "$FLEET_DIR"
[ -f /tmp/sshfleet/id_ed25519 ] && cp /tmp/sshfleet/id_ed25519* /tmp/sshfleet/hostkey* "$FLEET_DIR/"
bash "$work/fleet.sh" down >/dev/null 2>&1 || true
bash "$work/fleet.sh" up "$N" >/dev/null
trap 'bash "$work/fleet.sh" down >/dev/null 2>&1 || true' EXIT
mkdir -p "$cg"
for p in "$FLEET_DIR"/h*.pid; do cat "$p" >"$cg/cgroup.procs"; done
hostcpu() { echo $(($(cat "$cg/cpuacct.usage") / 10000000)); } # centiseconds
for round in $(seq "$ROUNDS"); do
	for k in old new; do
		bin=$old; [ $k = new ] && bin=$new
		rm -rf /tmp/fleetroot-ab; mkdir -p /tmp/fleetroot-ab; chmod 1777 /tmp/fleetroot-ab
		for r in first no-change; do
			h0=$(hostcpu)
			/usr/bin/time -f "%e %U %S" -o "$work/t" "$bin" run -i "$FLEET_DIR/inventory.ini" -f 50 "$work/play.yml" >"$work/$k.$r.$round.log" 2>&1 ||
				{ echo "$k $r failed:" >&2; tail -20 "$work/$k.$r.$round.log" >&2; exit 1; }
			# wait until the hosts have reaped every session and shell
			for _ in $(seq 100); do pgrep -u fleet >/dev/null || break; sleep 0.2; done
			read -r w u s <"$work/t"
			printf "round %d %-3s %-9s wall %6.2fs  koala CPU %5.2fs  host CPU %6.2fs  load %s\n" \
				"$round" $k $r "$w" "$(echo "$u + $s" | bc)" "$(echo "scale=2; ($(hostcpu) - $h0) / 100" | bc)" "$(cut -d' ' -f1 /proc/loadavg)"
		done
	done
done
echo "logs: $work"
