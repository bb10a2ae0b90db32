#!/bin/bash
# Sourced by kolla_start before it execs sshd (Kolla's contract): host keys
# made at first start (none in the image, so no two computes share one) and
# nova's .ssh (its keys come from config.json).
for key_type in rsa ecdsa ed25519; do
    key_path=/etc/ssh/ssh_host_${key_type}_key
    if [[ ! -f "$key_path" ]]; then
        ssh-keygen -q -t "$key_type" -f "$key_path" -N ""
    fi
done
mkdir -p /run/sshd /var/lib/nova/.ssh
if [[ "$(stat -c %U:%G /var/lib/nova/.ssh)" != "nova:nova" ]]; then
    chown nova: /var/lib/nova/.ssh
fi
