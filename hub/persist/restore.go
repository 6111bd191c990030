package persist

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/storage"
	"github.com/mochi-mqtt/server/v2/packets"
)

// StoredClients returns the stored sessions; mochi restores them in Serve.
func (h *Hook) StoredClients() ([]storage.Client, error) {
	rows, err := h.db.SQL().Query(`SELECT client_id, data FROM mqtt_sessions ORDER BY client_id`)
	if err != nil {
		return nil, fmt.Errorf("read sessions: %w", err)
	}
	defer rows.Close()
	var out []storage.Client
	for rows.Next() {
		var id string
		var data []byte
		if err := rows.Scan(&id, &data); err != nil {
			return nil, fmt.Errorf("read sessions: %w", err)
		}
		var c storage.Client
		if err := json.Unmarshal(data, &c); err != nil {
			h.Log.Error("skipping unreadable stored session", "client", id, "error", err)
			continue
		}
		out = append(out, c)
		h.mu.Lock()
		h.sessions[c.ID] = true
		h.mu.Unlock()
	}
	return out, rows.Err()
}

// StoredSubscriptions returns the stored subscriptions; mochi restores
// them in Serve.
func (h *Hook) StoredSubscriptions() ([]storage.Subscription, error) {
	rows, err := h.db.SQL().Query(`SELECT client_id, filter, data FROM mqtt_subscriptions ORDER BY client_id, filter`)
	if err != nil {
		return nil, fmt.Errorf("read subscriptions: %w", err)
	}
	defer rows.Close()
	var out []storage.Subscription
	for rows.Next() {
		var id, filter string
		var data []byte
		if err := rows.Scan(&id, &filter, &data); err != nil {
			return nil, fmt.Errorf("read subscriptions: %w", err)
		}
		var s storage.Subscription
		if err := json.Unmarshal(data, &s); err != nil {
			h.Log.Error("skipping unreadable stored subscription", "client", id, "filter", filter, "error", err)
			continue
		}
		s.Client, s.Filter = id, filter
		out = append(out, s)
	}
	return out, rows.Err()
}

// Restore loads what mochi's own restore cannot carry whole (message
// expiry, protocol versions) and finishes interrupted work: retained
// messages, messages in flight or queued, and publishes that were
// acknowledged but not yet fanned out when the hub stopped. Call it after
// srv.Serve and before any listener accepts clients.
func (h *Hook) Restore(ctx context.Context, srv *mqtt.Server) error {
	if err := h.restoreRetained(ctx, srv); err != nil {
		return err
	}
	if err := h.restoreInflight(ctx, srv); err != nil {
		return err
	}
	if err := h.refanout(ctx, srv); err != nil {
		return err
	}
	// Drop rows that belong to no stored session, and the tombstones: no
	// older write can be waiting any more.
	return h.w.sync(ctx,
		stmt{`DELETE FROM mqtt_subscriptions WHERE client_id NOT IN (SELECT client_id FROM mqtt_sessions)`, nil},
		stmt{`DELETE FROM mqtt_inflight WHERE deleted = 1 OR client_id NOT IN (SELECT client_id FROM mqtt_sessions)
			OR seq <= coalesce((SELECT seq FROM mqtt_cleared c WHERE c.client_id = mqtt_inflight.client_id), 0)`, nil},
		stmt{`DELETE FROM mqtt_retained WHERE deleted = 1`, nil},
		stmt{`DELETE FROM mqtt_cleared`, nil},
	)
}

func (h *Hook) restoreRetained(ctx context.Context, srv *mqtt.Server) error {
	rows, err := h.db.SQL().QueryContext(ctx, `SELECT topic, created, expiry, version, packet FROM mqtt_retained WHERE deleted = 0`)
	if err != nil {
		return fmt.Errorf("read retained: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var topic string
		var created, expiry int64
		var version byte
		var data []byte
		if err := rows.Scan(&topic, &created, &expiry, &version, &data); err != nil {
			return fmt.Errorf("read retained: %w", err)
		}
		pk, err := decodePublish(data)
		if err != nil {
			h.Log.Error("skipping unreadable retained message", "topic", topic, "error", err)
			continue
		}
		pk.TopicName, pk.Created, pk.Expiry, pk.ProtocolVersion = topic, created, expiry, version
		pk.FixedHeader.Retain = true
		pk.PacketID = 0
		srv.Topics.RetainMessage(pk)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read retained: %w", err)
	}
	atomic.StoreInt64(&srv.Info.Retained, int64(srv.Topics.Retained.Len()))
	return nil
}

func (h *Hook) restoreInflight(ctx context.Context, srv *mqtt.Server) error {
	rows, err := h.db.SQL().QueryContext(ctx, `SELECT client_id, packet_id, type, created, expiry, packet, seq FROM mqtt_inflight i
		WHERE deleted = 0 AND seq > coalesce((SELECT seq FROM mqtt_cleared c WHERE c.client_id = i.client_id), 0)
		ORDER BY client_id, seq, packet_id`)
	if err != nil {
		return fmt.Errorf("read inflight: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var client string
		var id uint16
		var typ byte
		var created, expiry, seq int64
		var data []byte
		if err := rows.Scan(&client, &id, &typ, &created, &expiry, &data, &seq); err != nil {
			return fmt.Errorf("read inflight: %w", err)
		}
		cl, ok := srv.Clients.Get(client)
		if !ok {
			continue
		}
		var pk packets.Packet
		switch typ {
		case packets.Publish:
			if pk, err = decodePublish(data); err != nil {
				h.Log.Error("skipping unreadable queued message", "client", client, "packet_id", id, "error", err)
				continue
			}
		case packets.Pubrel:
			pk.FixedHeader = packets.FixedHeader{Type: packets.Pubrel, Qos: 1}
		case packets.Pubrec:
			pk.FixedHeader = packets.FixedHeader{Type: packets.Pubrec}
		default:
			continue
		}
		// Created orders the resend (see OnQosPublish): number the
		// session's messages in the order they were queued.
		h.mu.Lock()
		h.order[client]++
		created = int64(h.order[client])
		h.mu.Unlock()
		pk.PacketID, pk.Created, pk.Expiry = id, created, expiry
		h.setRestored(srv, cl, pk, seq)
	}
	return rows.Err()
}

func (h *Hook) setRestored(srv *mqtt.Server, cl *mqtt.Client, pk packets.Packet, seq int64) {
	if cl.State.Inflight.Set(pk) {
		atomic.AddInt64(&srv.Info.Inflight, 1)
	}
	h.mu.Lock()
	h.inflight[inflightKey{cl.ID, pk.PacketID}] = inflightEntry{typ: pk.FixedHeader.Type, seq: seq}
	h.mu.Unlock()
}

type incoming struct {
	id      int64
	origin  string
	pk      packets.Packet
	version byte
	seq     int64
}

// refanout delivers again the publishes whose acknowledgement was durable
// but whose fan-out was not, each in one transaction with the removal of
// its log entry, so a crash during recovery cannot deliver one twice.
func (h *Hook) refanout(ctx context.Context, srv *mqtt.Server) error {
	rows, err := h.db.SQL().QueryContext(ctx, `SELECT id, origin, packet_id, created, expiry, version, packet, seq FROM mqtt_incoming ORDER BY id`)
	if err != nil {
		return fmt.Errorf("read incoming log: %w", err)
	}
	var todo []incoming
	for rows.Next() {
		var in incoming
		var pid uint16
		var created, expiry int64
		var data []byte
		if err := rows.Scan(&in.id, &in.origin, &pid, &created, &expiry, &in.version, &data, &in.seq); err != nil {
			rows.Close()
			return fmt.Errorf("read incoming log: %w", err)
		}
		if in.pk, err = decodePublish(data); err != nil {
			h.Log.Error("dropping unreadable logged publish", "origin", in.origin, "packet_id", pid, "error", err)
			h.w.submit(batch{stmts: []stmt{{`DELETE FROM mqtt_incoming WHERE id = ?`, []any{in.id}}}})
			continue
		}
		in.pk.PacketID, in.pk.Created, in.pk.Expiry = pid, created, expiry
		todo = append(todo, in)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read incoming log: %w", err)
	}

	for _, in := range todo {
		// The publisher may have been sent PUBREC for a QoS 2 message: keep
		// its packet id busy until its PUBREL, so that a resent PUBLISH is
		// not taken for a new message.
		if cl, ok := srv.Clients.Get(in.origin); ok && in.pk.FixedHeader.Qos == 2 {
			if _, busy := cl.State.Inflight.Get(in.pk.PacketID); !busy {
				pubrec := packets.Packet{
					FixedHeader: packets.FixedHeader{Type: packets.Pubrec},
					PacketID:    in.pk.PacketID,
					Created:     in.pk.Created,
				}
				if cl.State.Inflight.Set(pubrec) {
					atomic.AddInt64(&srv.Info.Inflight, 1)
				}
				h.OnQosPublish(cl, pubrec, 0, 0)
			}
		}

		// A retained publish must not replace a newer retained message
		// that made it to the store: it is then delivered, not retained.
		if in.pk.FixedHeader.Retain {
			var newer int
			if err := h.db.SQL().QueryRowContext(ctx, `SELECT count(*) FROM mqtt_retained WHERE topic = ? AND seq > ?`,
				in.pk.TopicName, in.seq).Scan(&newer); err != nil {
				return fmt.Errorf("read retained %s: %w", in.pk.TopicName, err)
			}
			in.pk.FixedHeader.Retain = newer == 0
		}

		pub := srv.NewClient(nil, "restore", in.origin, true)
		pub.Properties.ProtocolVersion = 5
		g := &group{}
		h.mu.Lock()
		h.groups[in.origin] = g
		h.replaySeq = in.seq
		h.mu.Unlock()
		err := srv.InjectPacket(pub, in.pk)
		h.mu.Lock()
		h.replaySeq = 0
		g.stmts = append(g.stmts, stmt{`DELETE FROM mqtt_incoming WHERE id = ?`, []any{in.id}})
		h.closeGroup(in.origin, g)
		h.mu.Unlock()
		if err != nil {
			h.Log.Error("re-delivering logged publish failed", "origin", in.origin, "topic", in.pk.TopicName, "error", err)
			continue
		}
		h.Log.Info("re-delivered a publish acknowledged before the last stop", "origin", in.origin, "topic", in.pk.TopicName)
	}
	return nil
}
