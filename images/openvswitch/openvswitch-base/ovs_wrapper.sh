#!/bin/bash
# kolla-ansible's OVS commands run under this wrapper: on SIGTERM/SIGQUIT the
# daemon is asked to exit through its control socket (a plain signal would
# leave its pid file and socket behind for the next start).
catch_exit() {
    ovs-appctl -T1 -t "/run/openvswitch/$1.$child.ctl" exit
    exit 0
}
trap 'catch_exit "$(basename "$1")"' SIGTERM SIGQUIT

"$@" &
child=$!
wait "$child"
