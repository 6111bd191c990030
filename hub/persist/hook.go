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
	// that re-sending a message does not rewrite it, and the open group its
	// last write waits in, so that later writes to it stay in order.
	inflight map[inflightKey]inflightEntry
	// retained remembers the open group holding a topic's last retained
	// write, for the same reason.
	retained map[string]*group
	// order numbers the messages queued for each offline session (see
	// OnQosPublish); seq numbers every stored queued message.
	order map[string]uint16
	seq   int64
}

type inflightEntry struct {
	typ byte
	g   *group
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
	h.retained = map[string]*group{}
	h.order = map[string]uint16{}
	if err := o.DB.SQL().QueryRow(`SELECT coalesce(max(seq), 0) FROM mqtt_inflight`).Scan(&h.seq); err != nil {
		return fmt.Errorf("read queue order: %w", err)
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

// write queues stmts behind an earlier write still waiting in an open
// group (after), else in the open fan-out group of origin, else on their
// own. It returns the group used, or nil. The caller holds h.mu.
func (h *Hook) write(after *group, origin string, stmts ...stmt) *group {
	g := after
	if g != nil && g.closed {
		g = nil
	}
	if g == nil && origin != "" {
		g = h.groups[origin]
	}
	if g == nil {
		h.w.submit(batch{stmts: stmts})
		return nil
	}
	g.stmts = append(g.stmts, stmts...)
	return g
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
	for k := range h.inflight {
		if k.client == id {
			delete(h.inflight, k)
		}
	}
	h.w.submit(batch{stmts: []stmt{
		{`DELETE FROM mqtt_sessions WHERE client_id = ?`, []any{id}},
		{`DELETE FROM mqtt_subscriptions WHERE client_id = ?`, []any{id}},
		{`DELETE FROM mqtt_inflight WHERE client_id = ?`, []any{id}},
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
	h.storeSession(cl)
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
	err = h.w.sync(context.Background(), stmt{
		`INSERT INTO mqtt_incoming (origin, packet_id, created, expiry, version, packet) VALUES (?, ?, ?, ?, ?, ?)`,
		[]any{cl.ID, pk.PacketID, pk.Created, pk.Expiry, pk.ProtocolVersion, data},
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
	st := stmt{`DELETE FROM mqtt_retained WHERE topic = ?`, []any{pk.TopicName}}
	if r != -1 {
		data, err := encodePublish(pk)
		if err != nil {
			h.Log.Error("persist retained", "topic", pk.TopicName, "error", err)
			return
		}
		st = stmt{
			`INSERT INTO mqtt_retained (topic, created, expiry, version, packet) VALUES (?, ?, ?, ?, ?)
			 ON CONFLICT (topic) DO UPDATE SET created = excluded.created, expiry = excluded.expiry,
			 version = excluded.version, packet = excluded.packet`,
			[]any{pk.TopicName, pk.Created, pk.Expiry, pk.ProtocolVersion, data},
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if g := h.write(h.retained[pk.TopicName], originOf(cl, pk), st); g != nil {
		h.retained[pk.TopicName] = g
	} else {
		delete(h.retained, pk.TopicName)
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
	h.w.submit(batch{stmts: []stmt{{`DELETE FROM mqtt_retained WHERE topic = ?`, []any{topic}}}})
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
	h.seq++
	st := stmt{
		`INSERT INTO mqtt_inflight (client_id, packet_id, type, created, expiry, packet, seq) VALUES (?, ?, ?, ?, ?, ?, ?)
		 ON CONFLICT (client_id, packet_id) DO UPDATE SET type = excluded.type, created = excluded.created,
		 expiry = excluded.expiry, packet = excluded.packet, seq = excluded.seq`,
		[]any{cl.ID, pk.PacketID, pk.FixedHeader.Type, pk.Created, pk.Expiry, data, h.seq},
	}
	e = h.inflight[key]
	h.inflight[key] = inflightEntry{typ: pk.FixedHeader.Type, g: h.write(e.g, origin, st)}
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
	h.inflight[key] = inflightEntry{typ: packets.Pubrel, g: h.write(e.g, "", stmt{
		`UPDATE mqtt_inflight SET type = ?, packet = NULL WHERE client_id = ? AND packet_id = ?`,
		[]any{packets.Pubrel, cl.ID, pk.PacketID},
	})}
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
	e, stored := h.inflight[key]
	if !stored {
		return
	}
	delete(h.inflight, key)
	h.write(e.g, "", stmt{`DELETE FROM mqtt_inflight WHERE client_id = ? AND packet_id = ?`, []any{cl.ID, id}})
}
