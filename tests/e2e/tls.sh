#!/usr/bin/env bash
# End-to-end, TLS: `koala certificates`, a deploy with kolla_enable_tls_internal
# and kolla_enable_tls_external (the lab has one VIP: haproxy serves both sides
# on it, as kolla-ansible does) and kolla_copy_ca_into_containers, post-deploy,
# then `openstack token issue` over https with the CA post-deploy names.
# Needs root, a Docker engine and Debian's mirror. Usage: tests/e2e/tls.sh
# Environment: tests/e2e/lib.sh; KOALA (a built koala; default: make build
# and bin/koala).
set -euo pipefail
cd "$(dirname "$0")/../.."

# A config directory of its own, with TLS on both sides and the CA in the
# containers.
export E2E_CONF=${E2E_CONF:-${E2E_DIR:-/tmp/koala-e2e}/etc-kolla-tls}
export E2E_GLOBALS_EXTRA='kolla_enable_tls_internal: "yes"
kolla_enable_tls_external: "yes"
kolla_copy_ca_into_containers: "yes"'
# shellcheck source=lib.sh
. tests/e2e/lib.sh

if [ "$KOALA" = bin/koala ]; then
  step "build koala"
  make build >/dev/null
fi
# After tests/e2e/lifecycle.sh destroyed the plain-HTTP cloud, the same lab;
# alone, a lab of its own making.
e2e_setup
VIP=$(awk -F'"' '/^kolla_internal_vip_address:/ {print $2}' "$CONF/globals.yml")
[ -n "$VIP" ] || VIP=$(awk '/^kolla_internal_vip_address:/ {print $2}' "$CONF/globals.yml")
[ -n "$VIP" ] || fail "no kolla_internal_vip_address in $CONF/globals.yml"

CERTS=$CONF/certificates
step "koala certificates"
$KOALA certificates "${common[@]}"
for f in private/root/root.key private/root/root.crt ca/root.crt haproxy.pem haproxy-internal.pem; do
  [ -s "$CERTS/$f" ] || fail "koala certificates made no $CERTS/$f"
done
for f in private/root/root.key haproxy.pem haproxy-internal.pem; do
  [ "$(stat -c %a "$CERTS/$f")" = 600 ] || fail "$f is mode $(stat -c %a "$CERTS/$f"), want 600"
done
openssl verify -CAfile "$CERTS/ca/root.crt" "$CERTS/haproxy-internal.pem" >/dev/null || fail "haproxy-internal.pem is not signed by ca/root.crt"
openssl x509 -in "$CERTS/haproxy-internal.pem" -noout -ext subjectAltName | grep -q "IP Address:$VIP" || fail "haproxy-internal.pem has no IP SAN $VIP"
cmp -s "$CERTS/haproxy.pem" "$CERTS/haproxy-internal.pem" || fail "one VIP: haproxy.pem and haproxy-internal.pem differ"
sum_before=$(sha256sum "$CERTS"/haproxy*.pem "$CERTS"/private/root/*)
$KOALA certificates "${common[@]}" --json > "$WORK/certificates-again.jsonl"
grep -q '"status":"changed"' "$WORK/certificates-again.jsonl" && fail "a second koala certificates changed something"
[ "$sum_before" = "$(sha256sum "$CERTS"/haproxy*.pem "$CERTS"/private/root/*)" ] || fail "a second koala certificates rewrote files"

step "bootstrap-servers"; $KOALA bootstrap-servers "${common[@]}"
step "prechecks";         $KOALA prechecks "${common[@]}"
step "deploy";            $KOALA deploy "${common[@]}"
step "post-deploy";       $KOALA post-deploy "${common[@]}"
grep -q "^export OS_CACERT='$CERTS/ca/root.crt'$" "$CONF/admin-openrc.sh" || fail "admin-openrc.sh does not set OS_CACERT to $CERTS/ca/root.crt"
grep -q "^export OS_AUTH_URL='https://" "$CONF/admin-openrc.sh" || fail "admin-openrc.sh's OS_AUTH_URL is not https"

step "openstack token issue over https, with the CA from post-deploy"
command -v openstack >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-openstackclient >/dev/null
# shellcheck disable=SC1091
. "$CONF/admin-openrc.sh"
openstack token issue -f value -c id >/dev/null || fail "openstack token issue over https"
urls=$(openstack endpoint list -f value -c URL)
[ -n "$urls" ] || fail "no endpoints"
echo "$urls" | grep -qv '^https://' && fail "endpoints not on https: $urls"
# Without the CA the certificate is not trusted: TLS is really checked.
( unset OS_CACERT; openstack token issue -f value -c id >/dev/null 2>&1 ) && fail "token issued without the CA: the certificate was not verified"
# Plain HTTP on the VIP's API port is not served.
curl -s -o /dev/null -m 10 "http://$VIP:5000/v3" && fail "plain http://$VIP:5000 answered"

step "the CA is trusted inside the containers (kolla_copy_ca_into_containers)"
node=$(nodes | head -1)
docker exec "$node" docker exec keystone curl -sS -o /dev/null -m 10 "https://$VIP:5000/v3" || fail "keystone's container does not trust the deployment's CA"
docker exec "$node" test -f /etc/kolla/haproxy/ca-certificates/root.crt || fail "no CA in /etc/kolla/haproxy/ca-certificates"

step "a second deploy restarts nothing"
before=$(started_at)
$KOALA deploy "${common[@]}" --json > "$WORK/redeploy.jsonl"
after=$(started_at)
[ "$before" = "$after" ] || { diff <(echo "$before") <(echo "$after"); fail "the no-change deploy restarted containers"; }
grep -q '"status":"changed"' "$WORK/redeploy.jsonl" && fail "the no-change deploy reported changes"

step "TLS E2E PASSED"
echo "1 passed, 0 failed"
