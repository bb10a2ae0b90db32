#!/bin/sh
# Builds koala-test/keystone-deb:zed, the Keystone that keystone_register's
# test runs: Debian bookworm's keystone package (Zed) with an SQLite database
# already synced and fernet/credential keys made. Needs the local
# debian:bookworm image and Debian's package mirror. About 10 minutes.
set -eu
image=koala-test/keystone-deb:zed
name=koala-keystone-image-build
docker rm -f "$name" >/dev/null 2>&1 || true
docker run --name "$name" --network host debian:bookworm sh -euc '
echo force-unsafe-io > /etc/dpkg/dpkg.cfg.d/unsafe-io
export DEBIAN_FRONTEND=noninteractive
for q in configure_db create-admin-tenant register-endpoint; do
  echo "keystone keystone/$q boolean false" | debconf-set-selections
done
apt-get update
apt-get install -y --no-install-recommends keystone
rm -rf /var/lib/apt/lists/*
cat > /etc/keystone/keystone.conf <<CONF
[DEFAULT]
use_stderr = true
[database]
connection = sqlite:////var/lib/keystone/keystone.db?timeout=120
[token]
provider = fernet
[fernet_tokens]
key_repository = /etc/keystone/fernet-keys/
[credential]
key_repository = /etc/keystone/credential-keys/
CONF
keystone-manage db_sync
keystone-manage fernet_setup --keystone-user root --keystone-group root
keystone-manage credential_setup --keystone-user root --keystone-group root
'
docker commit "$name" "$image"
docker rm "$name" >/dev/null
echo "built $image"
