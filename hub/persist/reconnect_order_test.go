package persist_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/packets"

	"hubd/hub/listener"
	"hubd/hub/persist"
	"hubd/hub/sqlite"
)

// observer signals broker events the test waits for.
type observer struct {
	mqtt.HookBase
	subscribed, queued, gone chan string
}

func (o *observer) ID() string { return "test-observer" }
func (o *observer) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnSubscribed, mqtt.OnQosPublish, mqtt.OnDisconnect}, []byte{b})
}
func (o *observer) OnSubscribed(cl *mqtt.Client, _ packets.Packet, _ []byte) { o.subscribed <- cl.ID }
func (o *observer) OnQosPublish(cl *mqtt.Client, pk packets.Packet, _ int64, _ int) {
	if pk.FixedHeader.Type == packets.Publish && !pk.FixedHeader.Dup {
		o.queued <- cl.ID + ":" + string(pk.Payload)
	}
}
func (o *observer) OnDisconnect(cl *mqtt.Client, _ error, _ bool) { o.gone <- cl.ID }

func expectEvent(t *testing.T, ch chan string, want string) {
	t.Helper()
	for {
		select {
		case got := <-ch:
			if got == want {
				return
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no %q event", want)
		}
	}
}

// TestReconnectResendsInQueueOrder: a message delivered but not
// acknowledged when the subscriber dropped ("ON"), then one queued while
// it was away ("OFF"), come back in that order on reconnect. mochi sorts
// by the second each was queued, which put OFF first.
func TestReconnectResendsInQueueOrder(t *testing.T) {
	ev := &observer{subscribed: make(chan string, 8), queued: make(chan string, 8), gone: make(chan string, 8)}
	srv := mqtt.New(&mqtt.Options{Logger: slog.New(slog.DiscardHandler)})
	for _, hk := range []mqtt.Hook{new(auth.AllowHook), ev} {
		if err := srv.AddHook(hk, nil); err != nil {
			t.Fatal(err)
		}
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
	addr := "tcp://" + l.Addr().String()

	// The subscriber never acknowledges: it leaves "ON" in flight.
	never := paho.NewClientOptions().AddBroker(addr).SetClientID("s").SetProtocolVersion(4).
		SetCleanSession(false).SetAutoReconnect(false).SetAutoAckDisabled(true)
	never.SetDefaultPublishHandler(func(paho.Client, paho.Message) {})
	s := paho.NewClient(never)
	if tok := s.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	if tok := s.Subscribe("x", 1, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	expectEvent(t, ev.subscribed, "s")

	p := paho.NewClient(paho.NewClientOptions().AddBroker(addr).SetClientID("p").SetProtocolVersion(4))
	if tok := p.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer p.Disconnect(0)
	p.Publish("x", 1, false, "ON").WaitTimeout(10 * time.Second)
	expectEvent(t, ev.queued, "s:ON")
	s.Disconnect(0)
	expectEvent(t, ev.gone, "s")
	p.Publish("x", 1, false, "OFF").WaitTimeout(10 * time.Second)
	expectEvent(t, ev.queued, "s:OFF")

	got := make(chan string, 4)
	o := paho.NewClientOptions().AddBroker(addr).SetClientID("s").SetProtocolVersion(4).
		SetCleanSession(false).SetOrderMatters(true).SetAutoReconnect(false)
	o.SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { got <- string(m.Payload()) })
	s = paho.NewClient(o)
	if tok := s.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("reconnect: %v", tok.Error())
	}
	defer s.Disconnect(0)
	var order []string
	for len(order) < 2 {
		select {
		case m := <-got:
			order = append(order, m)
		case <-time.After(10 * time.Second):
			t.Fatalf("got %v, want ON and OFF", order)
		}
	}
	if order[0] != "ON" || order[1] != "OFF" {
		t.Fatalf("resent %v, want [ON OFF] (the order they were queued in)", order)
	}
}
