#!/bin/bash
# Sourced by kolla_start before it execs the command (Kolla's contract).

# The shared kolla_logs volume keeps what the first container put in it.
if [[ ! -d /var/log/kolla/heat ]]; then
    mkdir -p /var/log/kolla/heat
fi
if [[ "$(stat -c %a /var/log/kolla/heat)" != "755" ]]; then
    chmod 755 /var/log/kolla/heat
fi

. /usr/local/bin/kolla_heat_extend_start
