# Sourced by the openvswitch-base kolla_extend_start (Kolla's contract).
if [[ ! -r /var/log/kolla/openvswitch/ovs-vswitchd.log ]]; then
    touch /var/log/kolla/openvswitch/ovs-vswitchd.log
    chown openvswitch:openvswitch /var/log/kolla/openvswitch/ovs-vswitchd.log
fi
# The kernel datapath, where the kernel has it (a host's /lib/modules is
# mounted); without it only bridges with datapath_type=netdev work.
if ! modprobe openvswitch 2>/dev/null; then
    echo "openvswitch kernel module not available: only datapath_type=netdev bridges will work" >&2
fi
