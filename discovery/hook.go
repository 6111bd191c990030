package discovery

import (
	"bytes"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Hook shows the registry the messages it cares about: discovery configs,
// the state and availability topics of known entities, and Will messages
// (a device's Will usually marks it unavailable). It only copies and
// queues; the work happens on the registry's own goroutine, never on the
// broker's publish path.
type Hook struct {
	mqtt.HookBase
	s *Service
}

// NewHook returns the broker hook feeding s.
func NewHook(s *Service) *Hook { return &Hook{s: s} }

// ID returns "hubd-discovery".
func (h *Hook) ID() string { return "hubd-discovery" }

// Provides reports the events the hook handles.
func (h *Hook) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnPublish, mqtt.OnWillSent}, []byte{b})
}

// OnPublish queues a message the registry cares about. It runs after the
// ACL allowed the publish and before the broker acknowledges it, so a
// client that got its PUBACK knows the registry has the message queued
// (Service.Sync then waits for it).
func (h *Hook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	h.observe(cl, pk)
	return pk, nil
}

// OnWillSent queues a Will message the registry cares about.
func (h *Hook) OnWillSent(cl *mqtt.Client, pk packets.Packet) {
	h.observe(cl, pk)
}

func (h *Hook) observe(cl *mqtt.Client, pk packets.Packet) {
	if pk.Ignore || !h.s.interested(pk.TopicName) {
		return
	}
	m := message{topic: pk.TopicName, payload: append([]byte(nil), pk.Payload...)}
	if cl != nil {
		m.clientID = cl.ID
		m.username = string(cl.Properties.Username)
	}
	h.s.enqueue(m)
}
