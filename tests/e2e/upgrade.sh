#!/usr/bin/env bash
# End-to-end: `koala upgrade --tags keystone` on a lab that tests/e2e/run.sh
# deployed (same LAB_NAME, E2E_DIR, E2E_REGISTRY_PORT). First an upgrade to a
# tag the registry does not have must fail before any container is touched.
# Then keystone is rebuilt under the same tag with one more label and pushed;
# the upgrade must recreate every keystone container on the new image, one node
# at a time, while a client issuing tokens through the VIP the whole time sees
# no failed request (tests/e2e/token-loop.sh). Other containers are left alone,
# and a second upgrade changes nothing. Usage: tests/e2e/upgrade.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib.sh
. tests/e2e/lib.sh
need_deployed

# Every container of every node: name, ID, image ID, start time.
containers() { for n in $(nodes); do docker exec "$n" sh -c 'docker ps -q | xargs -r docker inspect -f "{{.Name}} {{.Id}} {{.Image}} {{.State.StartedAt}}"' | sed "s|^|$n |"; done | sort; }

step "an upgrade to an image the registry does not have touches nothing"
before=$(containers)
if $KOALA upgrade "${common[@]}" --tags keystone -e openstack_tag=e2e-no-such-tag > "$WORK/upgrade-missing.log" 2>&1; then
  fail "upgrade to a missing image succeeded"
fi
grep -q 'e2e-no-such-tag' "$WORK/upgrade-missing.log" || fail "the failure does not name the missing image: $(tail -5 "$WORK/upgrade-missing.log")"
[ "$before" = "$(containers)" ] || { diff <(echo "$before") <(containers) || true; fail "the failed upgrade touched containers"; }

step "rebuild keystone under the same tag (one more label), push it"
cat > "$WORK/upgrade-override.j2" <<EOF
{% block keystone_footer %}
LABEL org.koala.e2e.rebuilt="$(date +%s)"
{% endblock %}
EOF
$KOALA build-images --push --registry "127.0.0.1:$REG_PORT" --registry-insecure \
  --logs-dir "$WORK/build-logs" --template-override "$WORK/upgrade-override.j2" '^keystone$'
new_id=$(docker image inspect -f '{{.Id}}' "127.0.0.1:$REG_PORT/kolla/keystone:2025.1")
echo "$before" | awk '$2 == "/keystone" {print $4}' | grep -qx "$new_id" && fail "the rebuilt keystone has the running image's ID"

step "koala upgrade --tags keystone under a token-issuing client"
under_token_client upgrade $KOALA upgrade "${common[@]}" --tags keystone

step "every keystone container runs the new image; nothing else was restarted"
after=$(containers)
n=$(echo "$after" | awk -v id="$new_id" '$2 == "/keystone" && $4 == id' | wc -l)
[ "$n" = 3 ] || fail "$n keystone containers run the new image, want 3"
diff <(echo "$before" | grep -v ' /keystone ') <(echo "$after" | grep -v ' /keystone ') || fail "the upgrade restarted other containers"

step "a second upgrade changes nothing"
s0=$(date +%s.%N)
$KOALA upgrade "${common[@]}" --tags keystone
echo "no-change upgrade took $(echo "$(date +%s.%N) - $s0" | bc) s"
[ "$after" = "$(containers)" ] || fail "the no-change upgrade restarted containers"

step "UPGRADE E2E PASSED"
