#!/bin/bash
# Sourced by kolla_start before it execs the command (Kolla's contract).

# The shared kolla_logs volume keeps what the first container put in it: on a
# host where another service made the volume, placement's log directory does
# not exist when kolla_set_configs applies config.json's permissions. Made
# here, owned as in Kolla (placement:kolla), so that the WSGI processes
# (user placement) can write their log.
if [[ ! -d /var/log/kolla/placement ]]; then
    mkdir -p /var/log/kolla/placement
fi
if [[ "$(id -u)" == 0 && "$(stat -c %U:%G /var/log/kolla/placement)" != "placement:kolla" ]]; then
    chown -R placement:kolla /var/log/kolla/placement
fi
if [[ "$(stat -c %a /var/log/kolla/placement)" != "755" ]]; then
    chmod 755 /var/log/kolla/placement
fi

. /usr/local/bin/kolla_placement_extend_start
