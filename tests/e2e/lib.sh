# Shared by the end-to-end scripts and bench/deploy: one lab, its images in the
# lab's registry, a kolla config directory, and helpers that read `koala lab
# status`. Source it from the repository root after setting (or accepting) the
# variables below; every step is a koala command an operator would run.

KOALA=${KOALA:-bin/koala}
LAB=${LAB_NAME:-koala-e2e}
WORK=${E2E_DIR:-/tmp/koala-e2e}
LAB_DIR=$WORK/lab
CONF=${E2E_CONF:-$WORK/etc-kolla}
INV=$LAB_DIR/multinode
# Not `koala lab`'s defaults (10.99.0.0/24, port 5000): a lab made by `make lab`
# may be up on the same machine, and two labs cannot share a subnet or a port.
REG_PORT=${E2E_REGISTRY_PORT:-5098}
# e2e_subnet: the e2e lab's own subnet when its network exists, else the first
# of a few /24s that no Docker network on this machine uses (another lab, even
# one an earlier version of these scripts left, may hold 10.98.0.0/24).
e2e_subnet() {
  local s taken c
  s=$(docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}' "$LAB-net" 2>/dev/null) && [ -n "$s" ] && { echo "$s"; return; }
  taken=" $(docker network ls -q | xargs -r docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}} {{end}}' 2>/dev/null | tr '\n' ' ') "
  for c in 98 96 94 91 89; do
    [[ "$taken" == *" 10.$c.0.0/24 "* ]] || { echo "10.$c.0.0/24"; return; }
  done
  echo 10.98.0.0/24
}
SUBNET=${E2E_SUBNET:-$(e2e_subnet)}
NODES=${E2E_NODES:-3}
# SSH connects take seconds on a loaded 2-core machine running a 3-node lab;
# E2E_KOALA_ARGS adds options to every lifecycle command.
read -ra e2e_extra <<< "${E2E_KOALA_ARGS:-}"
common=(-i "$INV" --configdir "$CONF" -e ansible_timeout=90 "${e2e_extra[@]}")

t0=${t0:-$(date +%s)}
step() { printf '\n=== [%4ss] %s\n' "$(( $(date +%s) - t0 ))" "$*"; }
fail() { echo "E2E FAILED ($(basename "$0")): $*" >&2; exit 1; }
# need_deployed: the scripts after run.sh work on the cloud it deployed.
need_deployed() { [ -f "$INV" ] && [ -f "$CONF/admin-openrc.sh" ] || fail "no deployed lab in $WORK (run tests/e2e/run.sh first)"; }

# e2e_setup: base image, lab up, images pushed to the lab registry, the config
# directory (the lab's globals.yml, kolla-ansible's passwords.yml, genpwd).
e2e_setup() {
  step "base image (debootstrap, cached)"
  $KOALA lab base

  step "lab up --nodes $NODES"
  $KOALA lab up --name "$LAB" --nodes "$NODES" --subnet "$SUBNET" --lab-dir "$LAB_DIR" --registry-port "$REG_PORT"
  [ -f "$INV" ] || fail "lab up wrote no inventory at $INV"

  step "config directory: the lab's globals.yml, kolla-ansible's passwords.yml, genpwd"
  mkdir -p "$CONF"
  cp "$LAB_DIR/globals.yml" "$CONF/globals.yml"
  [ -f "$CONF/passwords.yml" ] || cp templates/etc/kolla/passwords.yml "$CONF/passwords.yml"
  if [ -n "${E2E_GLOBALS_EXTRA:-}" ]; then printf '%s\n' "$E2E_GLOBALS_EXTRA" >> "$CONF/globals.yml"; fi
  $KOALA genpwd -p "$CONF/passwords.yml"

  # The images of the services globals.yml enables (koala deploy's list).
  step "build-images for the enabled services, pushed to the lab registry"
  $KOALA build-images --push --registry "127.0.0.1:$REG_PORT" --registry-insecure \
    --logs-dir "$WORK/build-logs" -i "$INV" --configdir "$CONF"
}

# vip_url PORT: http://VIP:PORT, the VIP from globals.yml.
vip_url() { echo "http://$(sed -n 's/^kolla_internal_vip_address: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$CONF/globals.yml"):$1"; }

# `koala lab status` columns: NAME ROLE HOST ADDRESS STATE NETWORK [holds VIP]
# Node rows only: the line "no node holds the VIP" has "node" in column 2 too.
nodes() { $KOALA lab status --name "$LAB" | awk -v p="$LAB-node" '$2 == "node" && index($1, p) == 1 {print $1}'; }
vip_holder() { $KOALA lab status --name "$LAB" | awk -v p="$LAB-node" '$2 == "node" && index($1, p) == 1 && /holds VIP/ {print $3}'; }
node_ctr() { $KOALA lab status --name "$LAB" | awk -v p="$LAB-node" -v h="$1" '$2 == "node" && index($1, p) == 1 && $3 == h {print $1}'; }
node_hosts() { $KOALA lab status --name "$LAB" | awk -v p="$LAB-node" '$2 == "node" && index($1, p) == 1 {print $3}'; }
# started_at: every container of every node with its start time, sorted.
started_at() { for n in $(nodes); do docker exec "$n" docker ps -aq | xargs -r docker exec "$n" docker inspect -f "$n {{.Name}} {{.State.StartedAt}}"; done | sort; }
# restarted: the containers whose start time differs between two started_at outputs.
restarted() { { diff <(echo "$1") <(echo "$2") || true; } | awk '/^>/ {sub("^/", "", $3); print $3}' | sort -u | tr '\n' ' '; }

# under_token_client NAME CMD...: run CMD while tests/e2e/token-loop.sh issues
# Keystone tokens through the VIP; fail if CMD fails or any token request
# failed. Sets TOOK (CMD's seconds); the requests go to $WORK/NAME-tokens.log.
under_token_client() {
  local name=$1; shift
  under_client "$name" tokens 201 "$@"
}

# under_api_client NAME URLS CMD...: the same with tests/e2e/api-loop.sh
# asking every URL of URLS (space-separated) through the VIP.
under_api_client() {
  local name=$1 urls=$2; shift 2
  # shellcheck disable=SC2086
  under_client "$name" api 200 "$@" -- $urls
}

# under_client NAME KIND OK CMD... [-- URLS]: run CMD while the KIND client
# (tokens: token-loop.sh, api: api-loop.sh URLS) asks through the VIP; fail if
# CMD fails or any request did not answer OK.
under_client() {
  local name=$1 kind=$2 ok=$3; shift 3
  local cmd=() urls=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do cmd+=("$1"); shift; done
  [ $# -gt 0 ] && { shift; urls=("$@"); }
  local log="$WORK/$name-$kind.log" sum="$WORK/$name-$kind.summary"
  if [ "$kind" = tokens ]; then
    tests/e2e/token-loop.sh "$CONF/admin-openrc.sh" "$log" > "$sum" &
  else
    tests/e2e/api-loop.sh "$CONF/admin-openrc.sh" "$log" "${urls[@]}" > "$sum" &
  fi
  local loop=$! s0 rc=0
  sleep 5
  s0=$(date +%s.%N)
  "${cmd[@]}" || rc=$?
  TOOK=$(echo "$(date +%s.%N) - $s0" | bc)
  sleep 5
  kill "$loop"; wait "$loop" || true
  [ "$rc" = 0 ] || fail "$name: ${cmd[*]} exited $rc"
  local summary failures requests
  summary=$(cat "$sum")
  echo "$name took $TOOK s; $kind client: $summary"
  failures=$(sed -n 's/.*failures=\([0-9]*\).*/\1/p' <<< "$summary")
  requests=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<< "$summary")
  [ "${requests:-0}" -gt 0 ] || fail "$name: the $kind client made no request"
  [ "$failures" = 0 ] || { awk -v ok="$ok" '$2 != ok' "$log" | head; fail "$name: $failures of $requests $kind requests failed"; }
}
