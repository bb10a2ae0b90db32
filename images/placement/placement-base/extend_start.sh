#!/bin/bash
# Sourced by kolla_start before it execs the command (Kolla's contract).

# The shared kolla_logs volume keeps what the first container put in it.
if [[ ! -d /var/log/kolla/placement ]]; then
    mkdir -p /var/log/kolla/placement
fi
if [[ "$(stat -c %a /var/log/kolla/placement)" != "755" ]]; then
    chmod 755 /var/log/kolla/placement
fi

. /usr/local/bin/kolla_placement_extend_start
