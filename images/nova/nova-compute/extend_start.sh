# Sourced by the nova-base kolla_extend_start (Kolla's contract).
# The instances directory is a volume (nova_compute) that starts empty.
if [[ ! -d /var/lib/nova/instances ]]; then
    mkdir -p /var/lib/nova/instances
fi
