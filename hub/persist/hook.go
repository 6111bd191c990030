// Package persist keeps the broker's state in SQLite: sessions that outlive
// their connection, subscriptions, QoS 1/2 messages in flight or queued for
// offline clients, and retained messages.
//
// The rule it keeps: once the broker has acknowledged a QoS 1/2 publish
// (PUBACK or PUBREC), the message survives a kill -9. mochi writes that
// acknowledgement before it fans the message out, so OnPublish first logs
// the message in mqtt_incoming and waits for the commit; the fan-out that
// follows (queued copies for subscribers, the retained copy) is committed
// in one transaction together with the removal of the log entry. A log
// entry still present at start-up is fanned out again.
package persist

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/storage"
	"github.com/mochi-mqtt/server/v2/packets"

	"hubd/hub/sqlite"
)

// Options configures the Hook.
type Options struct {
	DB *sqlite.DB
	// CommitInterval is the least time between two commits; writes that
	// arrive meanwhile share the next transaction.
	CommitInterval time.Duration
}

// Hook is a mochi storage hook backed by SQLite.
type Hook struct {
	mqtt.HookBase

	db *sqlite.DB
	w  *writer

	mu sync.Mutex
	// groups holds the writes of a publish being fanned out, keyed by the
	// publishing client's id; they commit together when the publish has
	// been processed.
	groups map[string]*group
	// sessions holds the ids of clients whose session is stored.
	sessions map[string]bool
	// inflight remembers the stored type of each (client, packet id), so
	// that re-sending a message does not rewrite it, and the sequence
	// number of its write, which is the order it was queued in.
	inflight map[inflightKey]inflightEntry
	// order numbers the messages queued for each offline session (see
	// OnQosPublish).
	order map[string]uint16
	// seq numbers every write (see the package doc); replaySeq, when set,
	// is the number a replayed publish's retained write takes.
	seq       int64
	replaySeq int64
}

type inflightEntry struct {
	typ byte
	seq int64
}

type inflightKey struct {
	client string
	id     uint16
}

type group struct {
	stmts  []stmt
	closed bool
}

// Migrate creates or updates the tables the hook owns.
func Migrate(ctx context.Context, db *sqlite.DB) error {
	return db.Migrate(ctx, "persist", migrations, "migrations")
}

// ID returns the hook's id.
func (h *Hook) ID() string { return "hubd-persist" }

// Provides reports the events the hook handles.
func (h *Hook) Provides(b byte) bool {
	return bytes.Contains([]byte{
		mqtt.OnSessionEstablish,
		mqtt.OnSessionEstablished,
		mqtt.OnDisconnect,
		mqtt.OnSubscribed,
		mqtt.OnUnsubscribed,
		mqtt.OnPublish,
		mqtt.OnPacketProcessed,
		mqtt.OnRetainMessage,
		mqtt.OnQosPublish,
		mqtt.OnQosComplete,
		mqtt.OnQosDropped,
		mqtt.OnPacketSent,
		mqtt.OnClientExpired,
		mqtt.OnRetainedExpired,
		mqtt.StoredClients,
		mqtt.StoredSubscriptions,
	}, []byte{b})
}

// Init opens the writer. config must be *Options.
func (h *Hook) Init(config any) error {
	o, ok := config.(*Options)
	if !ok || o == nil || o.DB == nil {
		return mqtt.ErrInvalidConfigType
	}
	if o.CommitInterval < 0 {
		return fmt.Errorf("commit interval %v is negative", o.CommitInterval)
	}
	h.db = o.DB
	h.groups = map[string]*group{}
	h.sessions = map[string]bool{}
	h.inflight = map[inflightKey]inflightEntry{}
	h.order = map[string]uint16{}
	if err := o.DB.SQL().QueryRow(`SELECT max(
		(SELECT coalesce(max(seq), 0) FROM mqtt_inflight),
		(SELECT coalesce(max(seq), 0) FROM mqtt_retained),
		(SELECT coalesce(max(seq), 0) FROM mqtt_incoming),
		(SELECT coalesce(max(seq), 0) FROM mqtt_cleared))`).Scan(&h.seq); err != nil {
		return fmt.Errorf("read write order: %w", err)
	}
	log := h.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h.w = newWriter(o.DB.SQL(), log, o.CommitInterval)
	return nil
}

// Stop commits what is queued. The writer keeps running, because mochi
// stops hooks before its clients' connections have wound down and their
// last writes arrive; Close stops it.
func (h *Hook) Stop() error {
	if h.w == nil {
		return nil
	}
	return h.w.sync(context.Background())
}

// Close commits what is queued and stops the writer. Call it once the
// broker's clients are gone.
func (h *Hook) Close() {
	if h.w != nil {
		h.w.close()
	}
}

// Flush waits until every write queued before the call is committed.
func (h *Hook) Flush(ctx context.Context) error {
	return h.w.sync(ctx)
}

// Stats reports how many transactions and statements the writer committed.
func (h *Hook) Stats() (commits, statements int64) {
	return h.w.commits.Load(), h.w.statement.Load()
}

// persistent reports whether cl's session outlives its connection.
func persistent(cl *mqtt.Client) bool {
	if cl.Net.Inline {
		return false
	}
	if cl.Properties.ProtocolVersion == 5 {
		return cl.Properties.Props.SessionExpiryInterval > 0
	}
	return !cl.Properties.Clean
}

// write queues stmts in the open fan-out group of origin, or on their own.
// The caller holds h.mu. Writes never join another publisher's group:
// each row is guarded by its sequence number, so the order in which
// groups commit does not matter.
func (h *Hook) write(origin string, stmts ...stmt) {
	if g := h.groups[origin]; g != nil && origin != "" {
		g.stmts = append(g.stmts, stmts...)
		return
	}
	h.w.submit(batch{stmts: stmts})
}

// next returns the next write sequence number. The caller holds h.mu.
func (h *Hook) next() int64 {
	h.seq++
	return h.seq
}

// closeGroup submits g. The caller holds h.mu, so that no write can slip
// past g's writes in the queue.
func (h *Hook) closeGroup(origin string, g *group) {
	if h.groups[origin] == g {
		delete(h.groups, origin)
	}
	g.closed = true
	h.w.submit(batch{stmts: g.stmts})
	g.stmts = nil // others may still point at g; its writes are queued
}

// OnSessionEstablish forgets a stored session that a clean start replaces.
func (h *Hook) OnSessionEstablish(cl *mqtt.Client, pk packets.Packet) {
	if !pk.Connect.Clean {
		return
	}
	h.mu.Lock()
	had := h.sessions[cl.ID]
	h.mu.Unlock()
	if had {
		h.deleteSession(cl.ID)
	}
}

// OnSessionEstablished stores a session that outlives its connection.
func (h *Hook) OnSessionEstablished(cl *mqtt.Client, pk packets.Packet) {
	if persistent(cl) {
		h.storeSession(cl)
	}
}

func (h *Hook) storeSession(cl *mqtt.Client) {
	props := cl.Properties.Props.Copy(false)
	c := storage.Client{
		ID:              cl.ID,
		T:               storage.ClientKey,
		Remote:          cl.Net.Remote,
		Listener:        cl.Net.Listener,
		Username:        cl.Properties.Username,
		Clean:           cl.Properties.Clean,
		ProtocolVersion: cl.Properties.ProtocolVersion,
		Properties: storage.ClientProperties{
			SessionExpiryInterval:     props.SessionExpiryInterval,
			SessionExpiryIntervalFlag: props.SessionExpiryIntervalFlag,
			AuthenticationMethod:      props.AuthenticationMethod,
			AuthenticationData:        props.AuthenticationData,
			RequestProblemInfo:        props.RequestProblemInfo,
			RequestProblemInfoFlag:    props.RequestProblemInfoFlag,
			RequestResponseInfo:       props.RequestResponseInfo,
			ReceiveMaximum:            props.ReceiveMaximum,
			TopicAliasMaximum:         props.TopicAliasMaximum,
			User:                      props.User,
			MaximumPacketSize:         props.MaximumPacketSize,
		},
		Will: storage.ClientWill(cl.Properties.Will),
	}
	data, err := json.Marshal(c)
	if err != nil {
		h.Log.Error("encode session", "client", cl.ID, "error", err)
		return
	}
	h.mu.Lock()
	h.sessions[cl.ID] = true
	h.mu.Unlock()
	h.w.submit(batch{stmts: []stmt{{
		`INSERT INTO mqtt_sessions (client_id, data, updated) VALUES (?, ?, ?)
		 ON CONFLICT (client_id) DO UPDATE SET data = excluded.data, updated = excluded.updated`,
		[]any{cl.ID, data, time.Now().Unix()},
	}}})
}

func (h *Hook) deleteSession(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.sessions, id)
	delete(h.order, id)
	for k := range h.inflight {
		if k.client == id {
			delete(h.inflight, k)
		}
	}
	// Queued messages of this session still waiting in some publisher's
	// group commit later; mqtt_cleared voids them at restore.
	seq := h.next()
	h.w.submit(batch{stmts: []stmt{
		{`DELETE FROM mqtt_sessions WHERE client_id = ?`, []any{id}},
		{`DELETE FROM mqtt_subscriptions WHERE client_id = ?`, []any{id}},
		{`DELETE FROM mqtt_inflight WHERE client_id = ?`, []any{id}},
		{`INSERT INTO mqtt_cleared (client_id, seq) VALUES (?, ?)
		  ON CONFLICT (client_id) DO UPDATE SET seq = max(seq, excluded.seq)`, []any{id, seq}},
	}})
}

// OnDisconnect drops a session that ends with its connection, and keeps
// the stored copy of one that does not up to date.
func (h *Hook) OnDisconnect(cl *mqtt.Client, err error, expire bool) {
	if cl.IsTakenOver() || errors.Is(cl.StopCause(), packets.ErrSessionTakenOver) {
		return
	}
	if expire {
		h.mu.Lock()
		had := h.sessions[cl.ID]
		h.mu.Unlock()
		if had {
			h.deleteSession(cl.ID)
		}
		return
	}
	if errors.Is(err, packets.ErrServerShuttingDown) && cl.Net.Conn == nil {
		return // a session being restored from the store
	}
	h.renumber(cl)
	h.storeSession(cl)
}

// renumber gives the messages a session holds as its connection ends the
// order they were queued in, in Created (see OnQosPublish): those sent
// while it was online carry seconds, which mochi's resend would mix up
// with the counters of those queued while it was offline. The connection
// is gone, so no acknowledgement can race with it.
func (h *Hook) renumber(cl *mqtt.Client) {
	held := cl.State.Inflight.GetAll(false)
	if len(held) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	sort.SliceStable(held, func(i, j int) bool {
		a, b := h.inflight[inflightKey{cl.ID, held[i].PacketID}].seq, h.inflight[inflightKey{cl.ID, held[j].PacketID}].seq
		if a != b {
			return a < b
		}
		return held[i].PacketID < held[j].PacketID
	})
	for i, pk := range held {
		pk.Created = int64(i + 1)
		cl.State.Inflight.Set(pk)
	}
	h.order[cl.ID] = uint16(len(held))
}

// OnClientExpired deletes an expired session.
func (h *Hook) OnClientExpired(cl *mqtt.Client) {
	h.deleteSession(cl.ID)
}

// OnSubscribed stores the granted subscriptions of a lasting session.
func (h *Hook) OnSubscribed(cl *mqtt.Client, pk packets.Packet, reasonCodes []byte) {
	if !persistent(cl) {
		return
	}
	var stmts []stmt
	for i, f := range pk.Filters {
		if i < len(reasonCodes) && reasonCodes[i] >= packets.ErrUnspecifiedError.Code {
			continue
		}
		data, err := json.Marshal(storage.Subscription{
			T:                 storage.SubscriptionKey,
			Client:            cl.ID,
			Filter:            f.Filter,
			Identifier:        f.Identifier,
			RetainHandling:    f.RetainHandling,
			Qos:               f.Qos,
			RetainAsPublished: f.RetainAsPublished,
			NoLocal:           f.NoLocal,
		})
		if err != nil {
			h.Log.Error("encode subscription", "client", cl.ID, "filter", f.Filter, "error", err)
			continue
		}
		stmts = append(stmts, stmt{
			`INSERT INTO mqtt_subscriptions (client_id, filter, data) VALUES (?, ?, ?)
			 ON CONFLICT (client_id, filter) DO UPDATE SET data = excluded.data`,
			[]any{cl.ID, f.Filter, data},
		})
	}
	h.w.submit(batch{stmts: stmts})
}

// OnUnsubscribed removes stored subscriptions.
func (h *Hook) OnUnsubscribed(cl *mqtt.Client, pk packets.Packet) {
	h.mu.Lock()
	had := h.sessions[cl.ID]
	h.mu.Unlock()
	if !had {
		return
	}
	stmts := make([]stmt, 0, len(pk.Filters))
	for _, f := range pk.Filters {
		stmts = append(stmts, stmt{`DELETE FROM mqtt_subscriptions WHERE client_id = ? AND filter = ?`, []any{cl.ID, f.Filter}})
	}
	h.w.submit(batch{stmts: stmts})
}

// OnPublish makes an incoming QoS 1/2 publish durable before mochi
// acknowledges it: it logs the message and waits for the commit, then
// opens the group that collects the fan-out's writes.
func (h *Hook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline || pk.FixedHeader.Qos == 0 {
		return pk, nil
	}
	data, err := encodePublish(pk)
	if err != nil {
		h.Log.Error("persist publish", "client", cl.ID, "topic", pk.TopicName, "error", err)
		return pk, packets.ErrImplementationSpecificError
	}
	g := &group{}
	h.mu.Lock()
	if old, ok := h.groups[cl.ID]; ok { // not finished: commit it now
		h.closeGroup(cl.ID, old)
	}
	h.groups[cl.ID] = g
	h.mu.Unlock()

	// The incoming log row is written in its own transaction, and the
	// group will delete it by origin and packet id.
	h.mu.Lock()
	seq := h.next()
	h.mu.Unlock()
	err = h.w.sync(context.Background(), stmt{
		`INSERT INTO mqtt_incoming (origin, packet_id, created, expiry, version, packet, seq) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		[]any{cl.ID, pk.PacketID, pk.Created, pk.Expiry, pk.ProtocolVersion, data, seq},
	})
	if err != nil {
		h.mu.Lock()
		if h.groups[cl.ID] == g {
			delete(h.groups, cl.ID)
		}
		g.closed = true
		h.mu.Unlock()
		// No acknowledgement for what is not stored. mochi would still
		// acknowledge an MQTT 3.1.1 publish whatever the error, so refuse
		// the packet and drop the connection: the client sends it again.
		h.Log.Error("persist publish: message refused, client disconnected", "client", cl.ID, "topic", pk.TopicName, "error", err)
		cl.Stop(packets.ErrImplementationSpecificError)
		return pk, packets.ErrRejectPacket
	}
	h.mu.Lock()
	del := stmt{`DELETE FROM mqtt_incoming WHERE origin = ? AND packet_id = ?`, []any{cl.ID, pk.PacketID}}
	if g.closed {
		// A takeover of the client id closed the group meanwhile; the
		// fan-out writes go on their own, and so does this.
		h.w.submit(batch{stmts: []stmt{del}})
	} else {
		g.stmts = append(g.stmts, del)
	}
	h.mu.Unlock()
	return pk, nil
}

// OnPacketProcessed commits the fan-out group of a processed publish.
func (h *Hook) OnPacketProcessed(cl *mqtt.Client, pk packets.Packet, err error) {
	if pk.FixedHeader.Type != packets.Publish || cl.Net.Inline {
		return
	}
	h.mu.Lock()
	if g, ok := h.groups[cl.ID]; ok {
		h.closeGroup(cl.ID, g)
	}
	h.mu.Unlock()
}

// OnRetainMessage stores or clears a retained message.
func (h *Hook) OnRetainMessage(cl *mqtt.Client, pk packets.Packet, r int64) {
	var data []byte
	if r != -1 {
		var err error
		if data, err = encodePublish(pk); err != nil {
			h.Log.Error("persist retained", "topic", pk.TopicName, "error", err)
			return
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	seq := h.replaySeq
	if seq == 0 {
		seq = h.next()
	}
	st := retainedTombstone(pk.TopicName, seq)
	if r != -1 {
		st = stmt{
			`INSERT INTO mqtt_retained (topic, created, expiry, version, packet, seq, deleted) VALUES (?, ?, ?, ?, ?, ?, 0)
			 ON CONFLICT (topic) DO UPDATE SET created = excluded.created, expiry = excluded.expiry,
			 version = excluded.version, packet = excluded.packet, seq = excluded.seq, deleted = 0
			 WHERE excluded.seq > mqtt_retained.seq`,
			[]any{pk.TopicName, pk.Created, pk.Expiry, pk.ProtocolVersion, data, seq},
		}
	}
	h.write(originOf(cl, pk), st)
}

// retainedTombstone marks a topic's retained message cleared as of seq.
func retainedTombstone(topic string, seq int64) stmt {
	return stmt{
		`INSERT INTO mqtt_retained (topic, created, expiry, version, packet, seq, deleted) VALUES (?, 0, 0, 0, x'', ?, 1)
		 ON CONFLICT (topic) DO UPDATE SET packet = x'', seq = excluded.seq, deleted = 1
		 WHERE excluded.seq > mqtt_retained.seq`,
		[]any{topic, seq},
	}
}

// originOf names the fan-out group a write belongs to: the publisher's,
// unless the publisher is an inline client, whose publishes may run
// concurrently from many goroutines.
func originOf(cl *mqtt.Client, pk packets.Packet) string {
	if cl != nil && cl.Net.Inline {
		return ""
	}
	return pk.Origin
}

// OnRetainedExpired deletes an expired retained message.
func (h *Hook) OnRetainedExpired(topic string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.w.submit(batch{stmts: []stmt{retainedTombstone(topic, h.next())}})
}

// OnQosPublish stores a QoS 1/2 message in flight to, or queued for, a
// client with a lasting session.
//
// It also keeps a queue's order: mochi resends a session's messages
// sorted by uint16(Created), Created being in seconds, so messages queued
// within the same second come back in random order (an "ON" and an "OFF"
// swapped). For a client that is offline, so that no acknowledgement can
// race with it, the hook replaces Created of the queued copy with the
// session's running count of queued messages. Expiry is kept in its own
// field and is not affected.
func (h *Hook) OnQosPublish(cl *mqtt.Client, pk packets.Packet, sent int64, resends int) {
	if !persistent(cl) {
		return
	}
	key := inflightKey{cl.ID, pk.PacketID}
	h.mu.Lock()
	e, stored := h.inflight[key]
	h.mu.Unlock()
	if stored && e.typ == pk.FixedHeader.Type && (pk.FixedHeader.Dup || pk.FixedHeader.Type != packets.Publish) {
		return // a resend of what is stored already (mochi marks resends DUP)
	}

	var data []byte
	origin := cl.ID // the acknowledgement of the client's own publish
	if pk.FixedHeader.Type == packets.Publish {
		if cl.Net.Conn == nil || cl.Closed() {
			h.mu.Lock()
			if cl.State.Inflight.Len() <= 1 {
				h.order[cl.ID] = 0 // the queue was empty: start again
			}
			h.order[cl.ID]++
			pk.Created = int64(h.order[cl.ID])
			h.mu.Unlock()
			cl.State.Inflight.Set(pk)
		}
		var err error
		if data, err = encodePublish(pk); err != nil {
			h.Log.Error("persist inflight", "client", cl.ID, "topic", pk.TopicName, "error", err)
			return
		}
		origin = pk.Origin
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	seq := h.next()
	h.inflight[key] = inflightEntry{typ: pk.FixedHeader.Type, seq: seq}
	h.write(origin, stmt{
		`INSERT INTO mqtt_inflight (client_id, packet_id, type, created, expiry, packet, seq, deleted) VALUES (?, ?, ?, ?, ?, ?, ?, 0)
		 ON CONFLICT (client_id, packet_id) DO UPDATE SET type = excluded.type, created = excluded.created,
		 expiry = excluded.expiry, packet = excluded.packet, seq = excluded.seq, deleted = 0
		 WHERE excluded.seq > mqtt_inflight.seq`,
		[]any{cl.ID, pk.PacketID, pk.FixedHeader.Type, pk.Created, pk.Expiry, data, seq},
	})
}

// OnPacketSent records that a QoS 2 delivery reached PUBREL, so that after
// a restart the broker resends the PUBREL and not the message.
func (h *Hook) OnPacketSent(cl *mqtt.Client, pk packets.Packet, b []byte) {
	if pk.FixedHeader.Type != packets.Pubrel || !persistent(cl) {
		return
	}
	key := inflightKey{cl.ID, pk.PacketID}
	h.mu.Lock()
	defer h.mu.Unlock()
	e, stored := h.inflight[key]
	if !stored || e.typ == packets.Pubrel {
		return
	}
	// An upsert, so that it holds even if the PUBLISH row it replaces is
	// still waiting in a publisher's group: that older write will not
	// overwrite it.
	seq := h.next()
	h.inflight[key] = inflightEntry{typ: packets.Pubrel, seq: e.seq}
	h.w.submit(batch{stmts: []stmt{{
		`INSERT INTO mqtt_inflight (client_id, packet_id, type, created, expiry, packet, seq, deleted) VALUES (?, ?, ?, 0, 0, NULL, ?, 0)
		 ON CONFLICT (client_id, packet_id) DO UPDATE SET type = excluded.type, packet = NULL, seq = excluded.seq
		 WHERE excluded.seq > mqtt_inflight.seq`,
		[]any{cl.ID, pk.PacketID, packets.Pubrel, seq},
	}}})
}

// OnQosComplete deletes a finished QoS 1/2 message.
func (h *Hook) OnQosComplete(cl *mqtt.Client, pk packets.Packet) {
	h.deleteInflight(cl, pk.PacketID)
}

// OnQosDropped deletes a dropped or expired QoS 1/2 message.
func (h *Hook) OnQosDropped(cl *mqtt.Client, pk packets.Packet) {
	if cl.IsTakenOver() {
		return // the message moved to the client's new connection
	}
	h.deleteInflight(cl, pk.PacketID)
}

func (h *Hook) deleteInflight(cl *mqtt.Client, id uint16) {
	key := inflightKey{cl.ID, id}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, stored := h.inflight[key]; !stored {
		return
	}
	delete(h.inflight, key)
	// A tombstone, not a DELETE: the row's insert may still be waiting in
	// a publisher's group and must not bring it back.
	h.w.submit(batch{stmts: []stmt{{
		`INSERT INTO mqtt_inflight (client_id, packet_id, type, created, expiry, packet, seq, deleted) VALUES (?, ?, 0, 0, 0, NULL, ?, 1)
		 ON CONFLICT (client_id, packet_id) DO UPDATE SET packet = NULL, seq = excluded.seq, deleted = 1
		 WHERE excluded.seq > mqtt_inflight.seq`,
		[]any{cl.ID, id, h.next()},
	}}})
}
