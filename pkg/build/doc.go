// Package build turns koala's Dockerfile.j2 image tree into container images with
// BuildKit: it discovers the tree, renders the selected templates, derives each
// image's parent from its rendered FROM, and builds the resulting DAG in parallel,
// one BuildKit solve (Dockerfile frontend "dockerfile.v0") per image.
//
// By default BuildKit is the one embedded in the local Docker engine, reached the
// way buildx's docker driver does: the control API over `POST /grpc` upgraded to
// h2c and the client session over `POST /session`. Images are exported with the
// "moby" exporter into the engine's image store, so a child's FROM finds its parent
// without a registry; pushes then go through the engine's push API. With an
// address (unix://, tcp://, docker-container://NAME) a standalone buildkitd is
// used instead, with the "image" exporter (push=true, registry.insecure=true).
//
// Building one image from Go (what `koala lab` does for its node image):
//
//	b, err := build.NewBuilder(ctx, build.BuilderOptions{}) // or {Addr: "tcp://..."}
//	if err != nil { ... }
//	defer b.Close()
//	err = b.Build(ctx, build.Spec{
//		Name:       "lab-node",
//		ContextDir: dir,                     // files the Dockerfile COPYs
//		Dockerfile: dockerfile,              // content; need not be in ContextDir
//		Tags:       []string{"koala/lab-node:latest"},
//		Labels:     map[string]string{"org.opencontainers.image.title": "lab-node"},
//		Progress:   os.Stderr,               // plain BuildKit progress, optional
//	})
//
// Build is safe to call concurrently; each call is its own solve and session.
package build
