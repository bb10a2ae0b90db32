# Sourced by the neutron-base kolla_extend_start (Kolla's contract): dnsmasq
# logs to a file neutron's dhcp_agent.ini names, which must exist.
if [[ ! -f /var/log/kolla/neutron/dnsmasq.log ]]; then
    touch /var/log/kolla/neutron/dnsmasq.log
    chown neutron:kolla /var/log/kolla/neutron/dnsmasq.log
fi
