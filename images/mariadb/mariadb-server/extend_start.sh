#!/bin/bash
# Sourced by kolla_start before it execs the command (Kolla's contract), as the
# mysql user.

mkdir -p /var/log/kolla/mariadb

# Bootstrap (kolla-ansible runs it once, on the first node of a new cluster):
# make the data directory and root's password login, then exit. The datadir
# owner (mysql@localhost) keeps its socket login, for health checks.
if [[ "${KOLLA_BOOTSTRAP:-}" != "" ]]; then
    set -e
    mysql_install_db --user=mysql --datadir=/var/lib/mysql --skip-test-db >/dev/null
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
