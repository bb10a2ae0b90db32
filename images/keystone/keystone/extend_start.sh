#!/bin/bash
# Sourced by kolla_start before it execs the command (Kolla's contract).
# Bootstrap mode (kolla-ansible runs it once): sync the database and exit.
if [[ "${KOLLA_BOOTSTRAP:-}" != "" ]]; then
    sudo -H -u keystone keystone-manage db_sync
    exit 0
fi
# Apache is started in the foreground by the command; a stale pid file after a
# restart would stop it.
rm -f /var/run/apache2/apache2.pid
