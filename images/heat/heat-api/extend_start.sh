# Sourced by the heat-base kolla_extend_start (Kolla's contract).

# Bootstrap mode (KOLLA_BOOTSTRAP set, even to ""): sync the database, exit.
# kolla-ansible makes heat's stack domain and its admin with its own tasks.
if [[ -v KOLLA_BOOTSTRAP ]]; then
    set -e
    heat-manage db_sync
    exit 0
fi

# Apache leaves its pid file and sockets behind when the container stops;
# a stale pid file stops the next start.
. /etc/apache2/envvars
rm -rf /var/run/apache2/*
