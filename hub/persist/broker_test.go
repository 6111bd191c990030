package persist_test

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"

	"hubd/hub/listener"
	"hubd/hub/persist"
	"hubd/hub/sqlite"
)

// testBroker is a mochi server on 127.0.0.1:0 that lets every client in,
// with the storage hook on a fresh database unless persistence is off.
type testBroker struct {
	srv  *mqtt.Server
	db   *sqlite.DB
	hook *persist.Hook
	addr string
}

// startBroker starts a testBroker with the extra hooks added before the
// storage hook; it stops with the test.
func startBroker(tb testing.TB, persistent bool, extra ...mqtt.Hook) *testBroker {
	tb.Helper()
	b := &testBroker{srv: mqtt.New(&mqtt.Options{Logger: slog.New(slog.DiscardHandler)})}
	b.srv.Options.Capabilities.MaximumMessageExpiryInterval = 0
	b.srv.Options.Capabilities.MaximumInflight = 65535
	for _, hk := range append([]mqtt.Hook{new(auth.AllowHook)}, extra...) {
		if err := b.srv.AddHook(hk, nil); err != nil {
			tb.Fatal(err)
		}
	}
	if persistent {
		var err error
		if b.db, err = sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "hubd.db"), nil); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { b.db.Close() })
		if err := persist.Migrate(context.Background(), b.db); err != nil {
			tb.Fatal(err)
		}
		b.hook = &persist.Hook{}
		if err := b.srv.AddHook(b.hook, &persist.Options{DB: b.db, CommitInterval: 10 * time.Millisecond}); err != nil {
			tb.Fatal(err)
		}
	}
	if err := b.srv.Serve(); err != nil {
		tb.Fatal(err)
	}
	if b.hook != nil {
		if err := b.hook.Restore(context.Background(), b.srv); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(b.hook.Close) // runs after the server's Close below
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	if err := b.srv.AddListener(listener.NewNet("test", "tcp", l)); err != nil {
		tb.Fatal(err)
	}
	b.srv.Listeners.Serve("test", b.srv.EstablishConnection)
	tb.Cleanup(func() { b.srv.Close() })
	b.addr = l.Addr().String()
	return b
}
