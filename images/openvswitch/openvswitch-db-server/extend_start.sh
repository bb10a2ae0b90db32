# Sourced by the openvswitch-base kolla_extend_start (Kolla's contract): the
# database lives in the openvswitch_db volume; made on first start, converted
# after an upgrade of Open vSwitch.
mkdir -p /run/openvswitch
if [[ ! -e /var/lib/openvswitch/conf.db ]]; then
    ovsdb-tool create /var/lib/openvswitch/conf.db
fi
if [[ "$(ovsdb-tool needs-conversion /var/lib/openvswitch/conf.db)" == yes ]]; then
    ovsdb-tool convert /var/lib/openvswitch/conf.db
fi
if [[ ! -r /var/log/kolla/openvswitch/ovsdb-server.log ]]; then
    touch /var/log/kolla/openvswitch/ovsdb-server.log
    chown openvswitch:openvswitch /var/log/kolla/openvswitch/ovsdb-server.log
fi
