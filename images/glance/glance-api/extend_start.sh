# Sourced by the glance-base kolla_extend_start (Kolla's contract).

# Bootstrap mode (kolla-ansible runs it once, with KOLLA_BOOTSTRAP set, even
# to an empty string): sync the database, load the metadata definitions, exit.
if [[ -v KOLLA_BOOTSTRAP ]]; then
    set -e
    glance-manage db_sync
    glance-manage db_load_metadefs
    exit 0
fi
