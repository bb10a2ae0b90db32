// Package images holds koala's Dockerfile.j2 tree (see docs/images.md), embedded in
// the binary so `koala build-images` works without a checkout; --images-dir uses a
// tree on disk instead.
package images

import "embed"

// FS is the whole tree: macros.j2, users.yml and one directory per project or
// image holding Dockerfile.j2 and the files it COPYs. Every entry is embedded
// (this file too, which the tree's loader ignores), so a new image directory
// needs no change here.
//
//go:embed *
var FS embed.FS
