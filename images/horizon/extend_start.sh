#!/bin/bash
# Sourced by kolla_start before it execs the command (Kolla's contract), as
# root: Apache drops to horizon itself.

MANAGE_PY="python3 /usr/share/openstack-dashboard/manage.py"

# Bootstrap mode (KOLLA_BOOTSTRAP set, even to ""): create Django's tables
# (sessions kept in the database), exit.
if [[ -v KOLLA_BOOTSTRAP ]]; then
    set -e
    $MANAGE_PY migrate --noinput
    exit 0
fi

# The settings decide what django-compressor produces (COMPRESS_OFFLINE):
# collect and compress again when any settings file changed since the last
# start, or when FORCE_GENERATE=yes.
hash_file=/var/lib/kolla/.settings.md5sum.txt
settings_hash() {
    cat /etc/openstack-dashboard/local_settings.py /etc/openstack-dashboard/local_settings.d/*.py 2>/dev/null | md5sum
}
if [[ "${FORCE_GENERATE:-}" == "yes" || ! -f $hash_file || "$(settings_hash)" != "$(cat "$hash_file")" ]]; then
    $MANAGE_PY collectstatic --noinput --clear
    $MANAGE_PY compress --force
    settings_hash > "$hash_file"
fi

# manage.py, run here as root, creates Debian's secret key file when it is
# missing (local_settings.py reads it before kolla-ansible's SECRET_KEY
# replaces it); the WSGI daemon runs as horizon and must read it too.
key=/var/lib/openstack-dashboard/secret-key/.secret_key_store
if [[ -f $key && "$(stat -c %U "$key")" != horizon ]]; then
    chown horizon: "$key"
fi

# The shared kolla_logs volume keeps what the first container put in it.
if [[ ! -d /var/log/kolla/horizon ]]; then
    mkdir -p /var/log/kolla/horizon
fi
if [[ "$(stat -c %a /var/log/kolla/horizon)" != "755" ]]; then
    chmod 755 /var/log/kolla/horizon
fi

# Apache leaves its pid file and sockets behind when the container stops;
# a stale pid file stops the next start.
. /etc/apache2/envvars
rm -rf /var/run/apache2/*
