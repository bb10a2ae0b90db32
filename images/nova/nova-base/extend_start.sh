#!/bin/bash
# Sourced by kolla_start before it execs the command (Kolla's contract), as the
# image's user.

# The shared kolla_logs volume keeps what the first container put in it.
if [[ ! -d /var/log/kolla/nova ]]; then
    mkdir -p /var/log/kolla/nova
fi
if [[ "$(stat -c %a /var/log/kolla/nova)" != "755" ]]; then
    chmod 755 /var/log/kolla/nova
fi

. /usr/local/bin/kolla_nova_extend_start
