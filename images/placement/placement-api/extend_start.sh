# Sourced by the placement-base kolla_extend_start (Kolla's contract).

# Bootstrap mode (KOLLA_BOOTSTRAP set, even to ""): sync the database, exit.
if [[ -v KOLLA_BOOTSTRAP ]]; then
    set -e
    placement-manage db sync
    exit 0
fi

# Apache leaves its pid file and sockets behind when the container stops;
# a stale pid file stops the next start.
. /etc/apache2/envvars
rm -rf /var/run/apache2/*
