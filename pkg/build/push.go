package build

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/pkg/jsonmessage"
)

// pushEngine pushes ref from the Docker engine's image store. The engine decides
// whether the registry may be plain HTTP (127.0.0.0/8 always may; others need the
// engine's insecure-registries setting).
func (b *Builder) pushEngine(ctx context.Context, ref string, log io.Writer) error {
	auth := base64.URLEncoding.EncodeToString([]byte("{}"))
	rc, err := b.docker.ImagePush(ctx, ref, image.PushOptions{RegistryAuth: auth})
	if err != nil {
		return err
	}
	defer rc.Close()
	if log == nil {
		log = io.Discard
	}
	dec := json.NewDecoder(rc)
	for {
		var m jsonmessage.JSONMessage
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("reading the engine's push stream: %w", err)
		}
		if m.Error != nil {
			return fmt.Errorf("engine: %s", m.Error.Message)
		}
		if m.Status != "" && m.Progress == nil {
			fmt.Fprintf(log, "push %s: %s %s\n", ref, m.ID, m.Status)
		}
	}
}

// PushError is a build that succeeded and a push that did not.
type PushError struct {
	Ref string
	Err error
}

func (e *PushError) Error() string { return fmt.Sprintf("push %s: %v", e.Ref, e.Err) }
func (e *PushError) Unwrap() error { return e.Err }
