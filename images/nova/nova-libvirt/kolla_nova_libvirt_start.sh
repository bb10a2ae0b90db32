#!/bin/bash
# kolla-ansible's nova_libvirt command: virtlogd (QEMU's console logs) in the
# background, libvirtd listening as libvirtd.conf says.
set -euo pipefail
/usr/sbin/virtlogd &
exec /usr/sbin/libvirtd --listen
