package transport

import (
	"context"
	"testing"

	"github.com/koala-stack/koala/internal/sshtest"
)

// go test -run '^$' -bench . ./pkg/transport: the cost of one command on an
// open connection, in a persistent shell and in a session of its own, plain,
// through sudo and 2-way parallel.
func BenchmarkExec(b *testing.B) {
	f := sshtest.Start(b, 1)
	h := f.Hosts[0]
	for _, mode := range []struct {
		name     string
		sessions bool
	}{{"shell", false}, {"session", true}} {
		p := NewPool(PoolOptions{KnownHostsFile: f.KnownHosts, HostKeyPolicy: Strict, SessionPerCommand: mode.sessions})
		defer p.Close()
		c, err := p.Get(context.Background(), HostSpec{Name: h.Name, Address: h.Addr, Port: h.Port, User: h.User, KeyFiles: []string{h.KeyFile}})
		if err != nil {
			b.Fatal(err)
		}
		for _, bc := range []struct {
			name string
			conn Conn
		}{{"plain", c}, {"become", Become(c, "")}} {
			b.Run(mode.name+"/"+bc.name, func(b *testing.B) {
				for b.Loop() {
					if res, err := bc.conn.Exec(context.Background(), Command{Cmd: "true"}); err != nil || res.RC != 0 {
						b.Fatal(res.RC, err)
					}
				}
			})
		}
		b.Run(mode.name+"/parallel", func(b *testing.B) {
			b.SetParallelism(1) // GOMAXPROCS goroutines: 2 on the build machine
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.Exec(context.Background(), Command{Cmd: "true"}); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
