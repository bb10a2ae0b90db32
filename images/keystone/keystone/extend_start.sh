#!/bin/bash
# Sourced by kolla_start before it execs the command (Kolla's contract).

# The shared kolla_logs volume keeps what the first container put in it:
# keystone's log directory may be missing (Kolla's extend_start makes it too).
if [[ ! -d /var/log/kolla/keystone ]]; then
    mkdir -p /var/log/kolla/keystone
fi
# Owner as in Kolla (keystone:kolla), and only when it differs, so that a
# config.json permissions entry is not undone here.
if [[ "$(id -u)" == 0 && "$(stat -c %U:%G /var/log/kolla/keystone)" != "keystone:kolla" ]]; then
    chown keystone:kolla /var/log/kolla/keystone
fi
# Upgrade (kolla-ansible's KOLLA_UPGRADE, once before the first new container
# starts): the additive schema changes, which the running release tolerates.
# KOLLA_FINISH_UPGRADE, once no old container is left: the removals. Both are
# no-ops when the schema is already at the image's head (same-release updates).
if [[ "${KOLLA_UPGRADE:-}" != "" ]]; then
    set -e
    sudo -H -u keystone keystone-manage db_sync --expand
    sudo -H -u keystone keystone-manage db_sync --migrate
    exit 0
fi
if [[ "${KOLLA_FINISH_UPGRADE:-}" != "" ]]; then
    set -e
    sudo -H -u keystone keystone-manage db_sync --contract
    exit 0
fi
# Bootstrap mode (kolla-ansible runs it once): sync the database and exit.
# With OS_BOOTSTRAP_PASSWORD set, also create the admin project, user, role and
# the region (keystone-manage reads OS_BOOTSTRAP_* from the environment, so the
# password never shows in a process argument).
if [[ "${KOLLA_BOOTSTRAP:-}" != "" ]]; then
    set -e
    sudo -H -u keystone keystone-manage db_sync
    if [[ -n "${OS_BOOTSTRAP_PASSWORD:-}" ]]; then
        sudo -H -E -u keystone keystone-manage bootstrap
    fi
    exit 0
fi
# Apache is started in the foreground by the command; a stale pid file after a
# restart would stop it.
rm -f /var/run/apache2/apache2.pid
