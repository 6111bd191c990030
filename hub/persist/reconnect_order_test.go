package persist_test

import (
	"bytes"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
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
	b := startBroker(t, true, ev)
	addr := "tcp://" + b.addr

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
