package persist

import (
	"context"
	"log/slog"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// newTestHook returns a hook on a fresh database and a server to make
// clients with; the tests call the hook's callbacks in the orders that
// concurrent connections can produce.
func newTestHook(t *testing.T) (*Hook, *mqtt.Server) {
	t.Helper()
	db := openTestDB(t)
	srv := mqtt.New(&mqtt.Options{Logger: slog.New(slog.DiscardHandler)})
	h := &Hook{}
	h.Log = slog.New(slog.DiscardHandler)
	if err := h.Init(&Options{DB: db, CommitInterval: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h, srv
}

func testPublish(origin string, pid uint16, topic, payload string, retain bool) packets.Packet {
	return packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1, Retain: retain},
		PacketID: pid, TopicName: topic, Payload: []byte(payload), Origin: origin, Created: time.Now().Unix(), ProtocolVersion: 4}
}

func flush(t *testing.T, h *Hook) {
	t.Helper()
	if err := h.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Two publishers retain to the same topic; the first one's fan-out group
// is still open (its PUBACK write is slow) when the second is done. The
// newer message must be what stays stored, whichever group commits last.
func TestRetainedWritesCommitInAnyOrder(t *testing.T) {
	h, srv := newTestHook(t)
	p1 := srv.NewClient(nil, "tcp", "P1", false)
	p2 := srv.NewClient(nil, "tcp", "P2", false)
	older := testPublish("P1", 1, "t", "old", true)
	newer := testPublish("P2", 1, "t", "new", true)
	if _, err := h.OnPublish(p1, older); err != nil {
		t.Fatal(err)
	}
	h.OnRetainMessage(p1, older, 1)
	if _, err := h.OnPublish(p2, newer); err != nil {
		t.Fatal(err)
	}
	h.OnRetainMessage(p2, newer, 1)
	h.OnPacketProcessed(p2, newer, nil) // P2 acknowledged and done
	flush(t, h)
	h.OnPacketProcessed(p1, older, nil) // P1's group commits last
	flush(t, h)

	var payload []byte
	if err := h.db.SQL().QueryRow(`SELECT packet FROM mqtt_retained WHERE topic = 't' AND deleted = 0`).Scan(&payload); err != nil {
		t.Fatal(err)
	}
	pk, err := decodePublish(payload)
	if err != nil {
		t.Fatal(err)
	}
	if string(pk.Payload) != "new" {
		t.Fatalf("stored retained message %q, want the newer %q", pk.Payload, "new")
	}
}

// A subscriber acknowledges m1 (packet id 7) while the publisher's group
// holding m1's insert is still open; then m2 reuses id 7 and its group
// commits first. m2 must stay stored and m1 must not come back.
func TestInflightWritesCommitInAnyOrder(t *testing.T) {
	h, srv := newTestHook(t)
	p1 := srv.NewClient(nil, "tcp", "P1", false)
	p2 := srv.NewClient(nil, "tcp", "P2", false)
	s := srv.NewClient(nil, "tcp", "S", false)
	s.Properties.ProtocolVersion = 4 // clean session off: a lasting session
	m1 := testPublish("P1", 1, "a", "m1", false)
	m2 := testPublish("P2", 1, "a", "m2", false)
	if _, err := h.OnPublish(p1, m1); err != nil {
		t.Fatal(err)
	}
	out1 := m1
	out1.PacketID = 7
	h.OnQosPublish(s, out1, 0, 0)
	h.OnQosComplete(s, out1) // S acknowledged m1
	if _, err := h.OnPublish(p2, m2); err != nil {
		t.Fatal(err)
	}
	out2 := m2
	out2.PacketID = 7
	h.OnQosPublish(s, out2, 0, 0)
	h.OnPacketProcessed(p2, m2, nil)
	flush(t, h)
	h.OnPacketProcessed(p1, m1, nil)
	flush(t, h)

	var payload []byte
	if err := h.db.SQL().QueryRow(`SELECT packet FROM mqtt_inflight WHERE client_id = 'S' AND packet_id = 7 AND deleted = 0`).Scan(&payload); err != nil {
		t.Fatalf("m2 is not stored for S: %v", err)
	}
	pk, err := decodePublish(payload)
	if err != nil {
		t.Fatal(err)
	}
	if string(pk.Payload) != "m2" {
		t.Fatalf("S's stored message is %q, want m2", pk.Payload)
	}
}
