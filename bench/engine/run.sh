#!/bin/bash
# Engine benchmark (docs/BENCHMARKS.md, "Engine"): the same workload run by
# ansible-playbook and by `koala run` against the same loopback sshd fleet,
# first run and no-change run, then koala alone on a large fleet.
#
#   make bench-engine                     # or: bench/engine/run.sh
#   N_SMALL=5 N_BIG=200 BASELINE=DIR bench/engine/run.sh   # DIR: another site.yml + fleet.sh for ansible
#   SKIP_ANSIBLE=1 N_BIG=0 bench/engine/run.sh   # koala alone, small fleet: for iterating
#
# Needs root (fleet.sh starts sshd), openssh-server and ansible-core.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
BASELINE=${BASELINE:-$here} # site.yml (the same workload for both tools) and fleet.sh
N_SMALL=${N_SMALL:-5}
N_BIG=${N_BIG:-200}
SKIP_ANSIBLE=${SKIP_ANSIBLE:-}
KOALA=${KOALA:-$root/bin/koala}
FORKS=${FORKS:-50}
fleet=$BASELINE/fleet.sh
inv=${FLEET_DIR:-/tmp/sshfleet}/inventory.ini
work=$(mktemp -d /tmp/bench-engine.XXXXXX)
items=41 # task-items per host: fact gathering + 4 tasks x 10 services

export ANSIBLE_HOST_KEY_CHECKING=False ANSIBLE_PIPELINING=True
trap 'bash "$fleet" down >/dev/null 2>&1 || true' EXIT

# timed NAME CMD...: runs CMD, keeps its output in $work/NAME.log and its
# "wall user sys" seconds in $work/NAME.time; fails when CMD fails.
timed() {
	local name=$1; shift
	if ! /usr/bin/time -f "%e %U %S" -o "$work/$name.time" "$@" >"$work/$name.log" 2>&1; then
		echo "$name failed; its output:" >&2; tail -40 "$work/$name.log" >&2; exit 1
	fi
}
wall() { cut -d' ' -f1 "$work/$1.time"; }
cpu() { awk '{print $2 + $3}' "$work/$1.time"; }
fresh() { rm -rf /tmp/fleetroot; mkdir -p /tmp/fleetroot; chmod 1777 /tmp/fleetroot; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }

[ -x "$KOALA" ] || make -C "$root" build >/dev/null
bash "$fleet" down >/dev/null 2>&1 || true
bash "$fleet" up "$N_SMALL" >/dev/null

if [ -z "$SKIP_ANSIBLE" ]; then
	fresh
	timed ansible1 ansible-playbook -i "$inv" -f 20 "$BASELINE/site.yml"
	timed ansible2 ansible-playbook -i "$inv" -f 20 "$BASELINE/site.yml"
	rm -rf "$work/ansible-out"; cp -a /tmp/fleetroot "$work/ansible-out"
fi

fresh
timed koala1 "$KOALA" run -i "$inv" -f "$FORKS" "$here/site.yml"
timed koala2 "$KOALA" run -i "$inv" -f "$FORKS" "$here/site.yml"
grep -q "changed=0 " <(grep -E '^host' "$work/koala2.log") || { echo "koala no-change run changed something:" >&2; cat "$work/koala2.log" >&2; exit 1; }

echo "== Engine benchmark: $N_SMALL hosts, $items task-items per host"
printf "%-22s %9s %9s\n" "" "first" "no-change"
if [ -z "$SKIP_ANSIBLE" ]; then
	printf "%-22s %8ss %8ss\n" "ansible-playbook -f20" "$(wall ansible1)" "$(wall ansible2)"
fi
printf "%-22s %8ss %8ss\n" "koala run" "$(wall koala1)" "$(wall koala2)"
if [ -z "$SKIP_ANSIBLE" ]; then
	printf "%-22s %8sx %8sx\n" "speed-up" "$(ratio "$(wall ansible1)" "$(wall koala1)")" "$(ratio "$(wall ansible2)" "$(wall koala2)")"
	printf "%-22s %8ss %8ss\n" "controller CPU ansible" "$(cpu ansible1)" "$(cpu ansible2)"
fi
printf "%-22s %8ss %8ss\n" "controller CPU koala" "$(cpu koala1)" "$(cpu koala2)"
if [ -z "$SKIP_ANSIBLE" ]; then
	same=identical
	if ! diff -r "$work/ansible-out" /tmp/fleetroot >"$work/content.diff"; then
		same="DIFFERENT (see $work/content.diff)"
	fi
	echo "files produced: $same"
fi
[ "$N_BIG" -gt 0 ] || { echo "logs: $work"; exit 0; }

bash "$fleet" down >/dev/null
bash "$fleet" up "$N_BIG" >/dev/null
fresh
timed big1 "$KOALA" run -i "$inv" -f "$FORKS" "$here/site.yml"
timed big2 "$KOALA" run -i "$inv" -f "$FORKS" "$here/site.yml"
n=$((N_BIG * items))
echo "== koala alone: $N_BIG hosts, -f $FORKS, $n host-task-items"
for r in big1 big2; do
	label=first; [ $r = big2 ] && label=no-change
	awk -v w="$(wall $r)" -v c="$(cpu $r)" -v n="$n" -v l="$label" \
		'BEGIN { printf "%-10s wall %6.1fs  koala CPU %6.2fs  = %.3f ms per host-task-item\n", l, w, c, c * 1000 / n }'
done
echo "logs: $work"
