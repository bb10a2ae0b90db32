# Sourced by the nova-base kolla_extend_start (Kolla's contract). Each mode is
# a one-off container of kolla-ansible's: do the step and exit.

# Bootstrap: the API database and cell0's/the local cell's schema (the cells
# themselves are mapped by the role with nova-manage cell_v2).
if [[ -v KOLLA_BOOTSTRAP ]]; then
    set -e
    nova-manage api_db sync
    nova-manage db sync --local_cell
    nova-manage db online_data_migrations
    exit 0
fi
if [[ -v KOLLA_UPGRADE ]]; then
    set -e
    nova-manage api_db sync
    nova-manage db sync --local_cell
    exit 0
fi
if [[ -v KOLLA_OSM ]]; then
    nova-manage db online_data_migrations
    exit $?
fi
if [[ -v KOLLA_UPGRADE_CHECK ]]; then
    nova-status upgrade check
    exit $?
fi

# Apache leaves its pid file and sockets behind when the container stops;
# a stale pid file stops the next start.
. /etc/apache2/envvars
rm -rf /var/run/apache2/*
