# Sourced by the e2e clients after an openrc file: $body is the Keystone
# password-auth request of OS_USERNAME for OS_PROJECT_NAME (the password goes
# to curl on stdin, never in its arguments), $tls curl's CA option.
# shellcheck shell=bash disable=SC2034
body=$(python3 -c 'import json, os; e = os.environ; print(json.dumps({"auth": {
    "identity": {"methods": ["password"], "password": {"user": {"name": e["OS_USERNAME"],
        "domain": {"name": e["OS_USER_DOMAIN_NAME"]}, "password": e["OS_PASSWORD"]}}},
    "scope": {"project": {"name": e["OS_PROJECT_NAME"], "domain": {"name": e["OS_PROJECT_DOMAIN_NAME"]}}}}}))')
tls=()
[ -n "${OS_CACERT:-}" ] && tls=(--cacert "$OS_CACERT")
