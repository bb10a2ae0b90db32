# Sourced by the nova-base kolla_extend_start (Kolla's contract): the cell's
# database in kolla-ansible's one-off bootstrap/upgrade containers.
if [[ -v KOLLA_BOOTSTRAP ]]; then
    set -e
    nova-manage db sync --local_cell
    nova-manage db online_data_migrations
    exit 0
fi
if [[ -v KOLLA_UPGRADE ]]; then
    nova-manage db sync --local_cell
    exit $?
fi
if [[ -v KOLLA_OSM ]]; then
    nova-manage db online_data_migrations
    exit $?
fi
