package hub

import (
	"bytes"
	"log/slog"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// handoverHook closes a race in mochi's session takeover. When a client
// reconnects to its lasting session, mochi copies the old connection's
// in-flight messages to the new one; a message being fanned out at that
// moment can land on the old client object after the copy and would be
// lost until the next restart (it is in the store). The hook catches such
// a message and hands it to the session's current client.
type handoverHook struct {
	mqtt.HookBase
	srv *mqtt.Server
	log *slog.Logger

	mu    sync.Mutex
	stash map[string][]packets.Packet // client id → messages awaiting the new connection
}

func newHandoverHook(srv *mqtt.Server, log *slog.Logger) *handoverHook {
	return &handoverHook{srv: srv, log: log, stash: map[string][]packets.Packet{}}
}

func (h *handoverHook) ID() string { return "hubd-handover" }

func (h *handoverHook) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnQosPublish, mqtt.OnSessionEstablished}, []byte{b})
}

// OnQosPublish notices a message queued on a client that has been taken
// over.
func (h *handoverHook) OnQosPublish(cl *mqtt.Client, pk packets.Packet, sent int64, resends int) {
	if pk.FixedHeader.Type != packets.Publish || !cl.IsTakenOver() {
		return
	}
	h.mu.Lock()
	cur, ok := h.srv.Clients.Get(cl.ID)
	if !ok || cur == cl {
		// The new connection is not registered yet: it takes the message
		// in OnSessionEstablished.
		h.stash[cl.ID] = append(h.stash[cl.ID], pk)
		h.mu.Unlock()
		return
	}
	h.mu.Unlock()
	h.deliver(cur, pk)
}

// OnSessionEstablished hands a new connection what landed on its old one.
func (h *handoverHook) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	h.mu.Lock()
	pending := h.stash[cl.ID]
	delete(h.stash, cl.ID)
	h.mu.Unlock()
	for _, pk := range pending {
		h.deliver(cl, pk)
	}
}

// deliver adds pk to cur's in-flight messages unless the copy made at the
// takeover already holds it, and sends it if cur is connected.
func (h *handoverHook) deliver(cur *mqtt.Client, pk packets.Packet) {
	if have, ok := cur.State.Inflight.Get(pk.PacketID); ok {
		if have.TopicName == pk.TopicName && bytes.Equal(have.Payload, pk.Payload) {
			return // copied at the takeover after all
		}
		h.log.Warn("message caught during a session takeover collides with a new one; it stays in the store until the next restart",
			"client", cur.ID, "packet_id", pk.PacketID, "topic", pk.TopicName)
		return
	}
	cur.State.Inflight.Set(pk)
	h.log.Debug("message handed over to the reconnected session", "client", cur.ID, "packet_id", pk.PacketID, "topic", pk.TopicName)
	if cur.Net.Conn != nil && !cur.Closed() {
		pk.FixedHeader.Dup = false
		_ = cur.WritePacket(pk)
	}
}
