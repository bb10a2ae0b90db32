#!/bin/bash
# Sourced by kolla_start before it execs the command (Kolla's contract).

# The shared kolla_logs volume keeps what the first container put in it: on a
# host where another service made it first, this directory is made here, by
# root in placement-api (Apache), and mod_wsgi's placement processes could
# not write their log (HTTP 500). Kolla 2025.1's placement-base does the same.
if [[ ! -d /var/log/kolla/placement ]]; then
    mkdir -p /var/log/kolla/placement
fi
if [[ "$(stat -c %U:%G /var/log/kolla/placement)" != "placement:kolla" ]]; then
    chown -R placement:kolla /var/log/kolla/placement
fi
if [[ "$(stat -c %a /var/log/kolla/placement)" != "755" ]]; then
    chmod 755 /var/log/kolla/placement
fi

. /usr/local/bin/kolla_placement_extend_start
