package persist_test

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"

	"hubd/hub/listener"
	"hubd/hub/persist"
	"hubd/hub/sqlite"
)

// TestNoAckWhenNotDurable: when the incoming log cannot be written, an
// MQTT 3.1.1 publisher gets no PUBACK (mochi would send one whatever the
// hook said): the hook drops the connection instead, and the publish
// fails on the client's side.
func TestNoAckWhenNotDurable(t *testing.T) {
	srv := mqtt.New(&mqtt.Options{Logger: slog.New(slog.DiscardHandler)})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "x.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := persist.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	hook := &persist.Hook{}
	if err := srv.AddHook(hook, &persist.Options{DB: db, CommitInterval: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	if err := hook.Restore(context.Background(), srv); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.AddListener(listener.NewNet("t", "tcp", l)); err != nil {
		t.Fatal(err)
	}
	srv.Listeners.Serve("t", srv.EstablishConnection)
	defer srv.Close()
	defer hook.Close()

	// The disk "fails": the incoming log cannot be written.
	if _, err := db.SQL().Exec(`DROP TABLE mqtt_incoming`); err != nil {
		t.Fatal(err)
	}
	c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + l.Addr().String()).
		SetClientID("p").SetProtocolVersion(4).SetAutoReconnect(false))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(0)
	tok := c.Publish("x", 1, false, "hello")
	if !tok.WaitTimeout(10 * time.Second) {
		t.Fatal("the publish neither failed nor completed")
	}
	if tok.Error() == nil {
		t.Fatal("the publisher got a PUBACK although the message could not be stored")
	}
}
