# Sourced by the neutron-base kolla_extend_start (Kolla's contract): the
# database in kolla-ansible's one-off bootstrap/upgrade containers.
if [[ -v KOLLA_BOOTSTRAP ]]; then
    set -e
    neutron-db-manage --subproject neutron upgrade head
    for service in ${NEUTRON_BOOTSTRAP_SERVICES:-}; do
        neutron-db-manage --subproject "$service" upgrade head
    done
    exit 0
fi
if [[ -v KOLLA_UPGRADE ]]; then
    set -e
    db_action=
    if [[ -v NEUTRON_DB_EXPAND ]]; then
        db_action=--expand
    fi
    if [[ -v NEUTRON_DB_CONTRACT ]]; then
        db_action=--contract
    fi
    neutron-db-manage --subproject neutron upgrade $db_action
    for service in ${NEUTRON_ROLLING_UPGRADE_SERVICES:-}; do
        neutron-db-manage --subproject "$service" upgrade $db_action
    done
    exit 0
fi
