// Command kolla-runtime is the in-image runtime alone (pkg/kollaruntime): a
// small static binary for the base image, called through symlinks named
// after Kolla's tools or as "kolla-runtime TOOL ARGS". koala itself runs the
// same code when called by those names. See docs/runtime.md.
package main

import (
	"os"

	"github.com/koala-stack/koala/pkg/kollaruntime"
)

func main() {
	os.Exit(kollaruntime.Main(os.Args))
}
