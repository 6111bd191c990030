package commands

import (
	"bytes"
	"sync"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Property is the MQTT 5 user property that tags a published command with
// its id, so that the broker's QoS events can be tied back to it, also
// after a restart (the stored message keeps its properties).
const Property = "hubd-command"

// Tracker is the broker hook that follows tagged commands through the
// device's QoS 2 exchange: PUBREC (or PUBCOMP) from the device makes a
// command delivered; a dropped message makes it failed.
type Tracker struct {
	mqtt.HookBase
	s *Service

	mu    sync.Mutex
	byPID map[pidKey]string // (client, packet id) → command id
	n     atomic.Int64      // len(byPID), read without the lock on the hot path
}

type pidKey struct {
	client string
	id     uint16
}

// NewTracker returns the hook for s.
func NewTracker(s *Service) *Tracker { return &Tracker{s: s, byPID: map[pidKey]string{}} }

// ID returns "hubd-commands".
func (t *Tracker) ID() string { return "hubd-commands" }

// Provides reports the events the hook handles.
func (t *Tracker) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnQosPublish, mqtt.OnPacketRead, mqtt.OnQosComplete, mqtt.OnQosDropped}, []byte{b})
}

// CommandID returns the command id a packet is tagged with.
func CommandID(pk packets.Packet) string {
	for _, p := range pk.Properties.User {
		if p.Key == Property {
			return p.Val
		}
	}
	return ""
}

// OnQosPublish remembers which packet id carries a command to a device.
func (t *Tracker) OnQosPublish(cl *mqtt.Client, pk packets.Packet, sent int64, resends int) {
	if pk.FixedHeader.Type != packets.Publish || len(pk.Properties.User) == 0 {
		return
	}
	if id := CommandID(pk); id != "" && t.s.concerns(id, cl.ID) {
		t.mu.Lock()
		t.byPID[pidKey{cl.ID, pk.PacketID}] = id
		t.n.Store(int64(len(t.byPID)))
		t.mu.Unlock()
	}
}

// OnPacketRead sees the device's PUBREC: it has the command.
func (t *Tracker) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Type == packets.Pubrec || pk.FixedHeader.Type == packets.Puback {
		if id := t.lookup(cl.ID, pk.PacketID, pk.FixedHeader.Type == packets.Puback); id != "" {
			if pk.ReasonCode >= packets.ErrUnspecifiedError.Code {
				t.s.Dropped(id, "the device refused the command (reason code "+hex2(pk.ReasonCode)+")")
			} else {
				t.s.Delivered(id)
			}
		}
	}
	return pk, nil
}

// OnQosComplete forgets a finished exchange.
func (t *Tracker) OnQosComplete(cl *mqtt.Client, pk packets.Packet) {
	if id := t.lookup(cl.ID, pk.PacketID, true); id != "" {
		t.s.Delivered(id)
	}
}

// OnQosDropped fails a command the broker gave up on.
func (t *Tracker) OnQosDropped(cl *mqtt.Client, pk packets.Packet) {
	if cl.IsTakenOver() {
		return
	}
	if id := t.lookup(cl.ID, pk.PacketID, true); id != "" {
		t.s.Dropped(id, "the broker dropped the message (expired or refused)")
	}
}

// lookup runs for every QoS acknowledgement the broker reads; with no
// command in flight it returns without taking the lock.
func (t *Tracker) lookup(client string, pid uint16, forget bool) string {
	if t.n.Load() == 0 {
		return ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	k := pidKey{client, pid}
	id := t.byPID[k]
	if forget {
		delete(t.byPID, k)
		t.n.Store(int64(len(t.byPID)))
	}
	return id
}

func hex2(b byte) string {
	const digits = "0123456789abcdef"
	return "0x" + string([]byte{digits[b>>4], digits[b&15]})
}
