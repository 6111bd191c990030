package persist_test

import (
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// TestNoAckWhenNotDurable: when the incoming log cannot be written, an
// MQTT 3.1.1 publisher gets no PUBACK (mochi would send one whatever the
// hook said): the hook drops the connection instead, and the publish
// fails on the client's side.
func TestNoAckWhenNotDurable(t *testing.T) {
	b := startBroker(t, true)

	// The disk "fails": the incoming log cannot be written.
	if _, err := b.db.SQL().Exec(`DROP TABLE mqtt_incoming`); err != nil {
		t.Fatal(err)
	}
	c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + b.addr).
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
