package modules

import (
	"context"
	"io/fs"
	"strings"

	"github.com/koala-stack/koala/pkg/certs"
)

// kollaCertificates is kolla-ansible's certificates role in one task
// (pkg/certs): the root CA and the haproxy certificates of the external and
// internal VIPs, made where missing, kept (and checked) where present. Like
// merge_configs' sources it works on the deploy host's files, whatever host
// the task runs for: the certificates directory lives there.
type kollaCertificates struct{}

func init() { Register(kollaCertificates{}, "kolla_certificates") }

func (kollaCertificates) Args() (accepted, required []string) {
	return []string{"dir", "external", "internal", "external_cert", "internal_cert",
		"external_names", "internal_names", "same_vip"}, []string{"dir"}
}

func (kollaCertificates) Run(ctx context.Context, t *Task) (Result, error) {
	a := newArgs(t.Args)
	req := certs.Request{
		Dir:           a.str("", "dir"),
		External:      a.boolean(false, "external"),
		Internal:      a.boolean(false, "internal"),
		ExternalPEM:   a.str("", "external_cert"),
		InternalPEM:   a.str("", "internal_cert"),
		ExternalNames: a.list("external_names"),
		InternalNames: a.list("internal_names"),
		SameVIP:       a.boolean(false, "same_vip"),
		Write: func(path string, data []byte, mode fs.FileMode) error {
			_, err := t.change("write "+path, func() error { return certs.WriteNew(path, data, mode) })
			return err
		},
	}
	if err := a.err("kolla_certificates"); err != nil {
		return Result{}, err
	}
	if !req.External && !req.Internal {
		return Result{Msg: "TLS is off (kolla_enable_tls_external and kolla_enable_tls_internal): no certificate to make",
			Data: map[string]any{"created": []any{}, "kept": []any{}, "warnings": []any{}}}, nil
	}
	res, err := certs.Generate(req)
	if err != nil {
		return Result{Failed: true, Msg: err.Error()}, nil
	}
	msg := "nothing to make: " + strings.Join(res.Kept, ", ")
	if res.Changed() {
		msg = "made " + strings.Join(res.Created, ", ")
	}
	return Result{
		Changed: res.Changed(),
		Msg:     msg,
		Data: map[string]any{
			"created":  anyList(res.Created),
			"kept":     anyList(res.Kept),
			"warnings": anyList(res.Warnings),
		},
	}, nil
}
