#!/bin/bash
# Sourced by kolla_start before it execs the command (Kolla's contract), as the
# image's user.

# The shared kolla_logs volume keeps what the first container put in it.
if [[ ! -d /var/log/kolla/glance ]]; then
    mkdir -p /var/log/kolla/glance
fi
if [[ "$(stat -c %a /var/log/kolla/glance)" != "755" ]]; then
    chmod 755 /var/log/kolla/glance
fi

. /usr/local/bin/kolla_glance_extend_start
