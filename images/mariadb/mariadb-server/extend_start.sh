#!/bin/bash
# Sourced by kolla_start before it execs the command (Kolla's contract), as the
# mysql user.

mkdir -p /var/log/kolla/mariadb

# Bootstrap (kolla-ansible runs it once, on the first node of a new cluster):
# make the data directory and root's password login, then exit. The datadir
# owner (mysql@localhost) keeps its socket login, for health checks.
if [[ "${KOLLA_BOOTSTRAP:-}" != "" ]]; then
    set -e
    mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db >/dev/null
    mariadbd --wsrep-on=OFF --skip-networking --socket=/tmp/bootstrap.sock &
    pid=$!
    for _ in $(seq 60); do
        mariadb-admin --socket=/tmp/bootstrap.sock -u mysql ping >/dev/null 2>&1 && break
        sleep 1
    done
    # The password arrives in the environment, never in a process argument.
    mariadb --socket=/tmp/bootstrap.sock -u mysql <<SQL
CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY '${DB_ROOT_PASSWORD}';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;
ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('${DB_ROOT_PASSWORD}');
FLUSH PRIVILEGES;
SQL
    mariadb-admin --socket=/tmp/bootstrap.sock -u mysql shutdown
    wait "$pid"
    exit 0
fi

# The first node of a new cluster starts it; every later start joins.
if [[ "${KOLLA_GALERA_NEW_CLUSTER:-}" != "" ]]; then
    ARGS="--wsrep-new-cluster"
fi

# Recovery after every node went down (koala mariadb-recovery; kolla-ansible's
# recover_cluster passes the same BOOTSTRAP_ARGS): print this node's last
# committed position and exit. grastate.dat holds it after a clean shutdown;
# after a crash its seqno is -1 and InnoDB knows it (--wsrep-recover). The
# server's log is appended to mariadb.log, where kolla-ansible looks for it.
if [[ "${BOOTSTRAP_ARGS:-}" == *--wsrep-recover* ]]; then
    state=/var/lib/mysql/grastate.dat
    uuid=$(awk '/^uuid:/ {print $2}' "$state" 2>/dev/null || true)
    seqno=$(awk '/^seqno:/ {print $2}' "$state" 2>/dev/null || true)
    safe=$(awk '/^safe_to_bootstrap:/ {print $2}' "$state" 2>/dev/null || true)
    source=grastate
    if [[ -z "$seqno" || "$seqno" == "-1" ]]; then
        log=$(mktemp)
        rc=0
        mariadbd ${BOOTSTRAP_ARGS} --log-error="$log" || rc=$?
        cat "$log" >> /var/log/kolla/mariadb/mariadb.log
        pos=$(awk '/WSREP: Recovered position:/ {p=$NF} END {print p}' "$log")
        if [[ $rc != 0 || -z "$pos" ]]; then
            echo "mariadbd --wsrep-recover exited $rc without a recovered position:" >&2
            tail -n 20 "$log" >&2
            exit 1
        fi
        uuid=${pos%:*}
        seqno=${pos##*:}
        source=wsrep-recover
    fi
    echo "position: ${uuid}:${seqno} source=${source} safe_to_bootstrap=${safe:-0}"
    exit 0
fi

# kolla-ansible's way to pass mariadbd extra arguments for one start.
if [[ -n "${BOOTSTRAP_ARGS:-}" ]]; then
    ARGS="${BOOTSTRAP_ARGS}"
fi
