#!/bin/bash
# Sourced by kolla_start before it execs the command (Kolla's contract), as the
# image's user.

# The shared kolla_logs volume keeps what the first container put in it.
if [[ ! -d /var/log/kolla/neutron ]]; then
    mkdir -p /var/log/kolla/neutron
fi
if [[ "$(stat -c %a /var/log/kolla/neutron)" != "755" ]]; then
    chmod 755 /var/log/kolla/neutron
fi

# Agents must program the same iptables back end as the host's other users
# (kolla-ansible sets KOLLA_LEGACY_IPTABLES from neutron_legacy_iptables).
if /usr/bin/update-alternatives --display iptables >/dev/null 2>&1; then
    if [[ "${KOLLA_LEGACY_IPTABLES:-false}" == "true" ]]; then
        sudo /usr/bin/update-alternatives --set iptables /usr/sbin/iptables-legacy
        sudo /usr/bin/update-alternatives --set ip6tables /usr/sbin/ip6tables-legacy
    else
        sudo /usr/bin/update-alternatives --auto iptables
        sudo /usr/bin/update-alternatives --auto ip6tables
    fi
fi

. /usr/local/bin/kolla_neutron_extend_start
