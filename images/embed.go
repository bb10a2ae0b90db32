// Package images holds koala's Dockerfile.j2 tree (see docs/images.md), embedded in
// the binary so `koala build-images` works without a checkout; --images-dir uses a
// tree on disk instead.
package images

import "embed"

// FS is the tree: macros.j2, users.yml and one directory per image holding its
// Dockerfile.j2 and the files it COPYs.
//
//go:embed macros.j2 users.yml base openstack-base keystone glance placement heat mariadb rabbitmq memcached haproxy keepalived horizon
var FS embed.FS
