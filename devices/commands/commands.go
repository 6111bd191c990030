// Package commands is the one path every command takes to a device: it
// records the command in SQLite before publishing it, publishes it at
// QoS 2, follows the device's QoS 2 exchange through the broker's hooks,
// and waits for the device to report the requested state:
// pending → sent → delivered → confirmed | unconfirmed | failed, or
// aborted when hubd stopped before it was published.
package commands

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"time"

	"hubd/devices"
	"hubd/devices/store"
)

// Encoder maps a request to the messages to publish, in order, and to
// the state that confirms it; the discovery registry implements it.
type Encoder interface {
	EncodeCommand(ctx context.Context, entityID string, req devices.CommandRequest) (msgs []devices.CommandMessage, expect string, expectAttr map[string]any, err error)
	// Owner returns the MQTT client id of the device the entity belongs
	// to, or "" if unknown: only that client's acknowledgement counts.
	Owner(entityID string) string
}

// Publisher publishes a command at QoS 2 tagged with its id, and returns
// only once the broker's queued copies are durable. It reports whether
// the owner's session (any session when owner is "") was subscribed.
type Publisher interface {
	PublishCommand(ctx context.Context, topic string, payload []byte, commandID, owner string) (received bool, err error)
	// Pending reports whether the broker holds the tagged command in
	// flight for some session (after a restart).
	Pending(commandID string) bool
}

// Options configures a Service.
type Options struct {
	Store   *store.Store
	Encoder Encoder
	Events  devices.EventService
	Logger  *slog.Logger
	// Timeout is how long after delivery the device has to report the
	// requested state; 10 s when zero.
	Timeout time.Duration
	Now     func() time.Time
}

// Service implements devices.CommandService.
type Service struct {
	store   *store.Store
	enc     Encoder
	events  devices.EventService
	log     *slog.Logger
	timeout time.Duration
	now     func() time.Time
	pub     Publisher

	mu   sync.Mutex
	open map[string]*tracked // command id → what confirms it

	sub  devices.Subscription
	done chan struct{}
}

type tracked struct {
	cmd        devices.Command
	owner      string
	expect     string
	expectAttr map[string]any
	timer      *time.Timer
}

// New returns a Service. Call Start before Send.
func New(o Options) *Service {
	if o.Events == nil {
		o.Events = devices.NopEventService{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{store: o.Store, enc: o.Encoder, events: o.Events, log: o.Logger, timeout: o.Timeout, now: o.Now,
		open: map[string]*tracked{}, done: make(chan struct{})}
}

// Start reconciles the commands left open by the last run and starts
// watching state changes for confirmations. A command recorded but never
// published is aborted; one the broker still holds in flight is followed
// again and completes through MQTT redelivery.
func (s *Service) Start(ctx context.Context, pub Publisher) error {
	s.pub = pub
	s.sub = s.events.Subscribe()
	go s.watch()
	open, err := s.store.FindOpenCommands(ctx)
	if err != nil {
		return err
	}
	for _, c := range open {
		switch {
		case c.Status == devices.CommandPending:
			s.update(ctx, c.ID, devices.CommandAborted, "hubd stopped before the command was published; it was never sent")
		case c.Status == devices.CommandSent && !pub.Pending(c.ID):
			s.update(ctx, c.ID, devices.CommandAborted, "hubd stopped before the command reached the broker's store; it was never sent")
		default:
			_, expect, attr, err := s.enc.EncodeCommand(ctx, c.EntityID, c.Request)
			if err != nil {
				expect, attr = "", nil
			}
			s.track(c, s.enc.Owner(c.EntityID), expect, attr)
			if c.Status == devices.CommandDelivered {
				s.startTimer(c.ID)
			}
		}
	}
	return nil
}

// Close stops watching.
func (s *Service) Close() {
	if s.sub != nil {
		s.sub.Close()
		<-s.done
	}
	s.mu.Lock()
	for _, t := range s.open {
		if t.timer != nil {
			t.timer.Stop()
		}
	}
	s.mu.Unlock()
}

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Send records and publishes a command. ENOTFOUND, EINVALID, ECONFLICT.
func (s *Service) Send(ctx context.Context, entityID string, req devices.CommandRequest) (devices.Command, error) {
	msgs, expect, attr, err := s.enc.EncodeCommand(ctx, entityID, req)
	if err != nil {
		return devices.Command{}, err
	}
	if len(msgs) == 0 {
		return devices.Command{}, devices.Errorf(devices.EINVALID, "%s: the request publishes nothing", entityID)
	}
	now := s.now().UTC()
	c := devices.Command{ID: newID(), EntityID: entityID, Request: req, Topic: msgs[0].Topic, Payload: msgs[0].Payload,
		Status: devices.CommandPending, CreatedAt: now, UpdatedAt: now}
	if len(msgs) > 1 {
		c.Messages = msgs
	}
	if err := s.store.CreateCommand(ctx, c); err != nil {
		return c, err
	}
	owner := s.enc.Owner(entityID)
	s.track(c, owner, expect, attr)
	// Marked sent before publishing: after a crash, a "sent" command the
	// broker does not hold was never published, and is aborted.
	c, _ = s.update(ctx, c.ID, devices.CommandSent, "")
	for _, m := range msgs {
		received, err := s.pub.PublishCommand(ctx, m.Topic, []byte(m.Payload), c.ID, owner)
		if err != nil {
			c, _ = s.update(ctx, c.ID, devices.CommandFailed, "publish: "+err.Error())
			break
		}
		if !received {
			c, _ = s.update(ctx, c.ID, devices.CommandFailed, fmt.Sprintf("the device is not subscribed to %s", m.Topic))
			break
		}
	}
	s.log.Info("command sent", "command", c.ID, "entity", entityID, "topic", c.Topic, "messages", len(msgs), "status", c.Status)
	return c, nil
}

// FindCommand returns a command. ENOTFOUND.
func (s *Service) FindCommand(ctx context.Context, id string) (devices.Command, error) {
	return s.store.FindCommand(ctx, id)
}

func (s *Service) track(c devices.Command, owner, expect string, attr map[string]any) {
	s.mu.Lock()
	s.open[c.ID] = &tracked{cmd: c, owner: owner, expect: expect, expectAttr: attr}
	s.mu.Unlock()
}

// concerns reports whether a QoS event of clientID counts for command id:
// only the owning device's does, so another subscriber to the command
// topic (a dashboard, a logger) cannot make it look delivered.
func (s *Service) concerns(id, clientID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.open[id]
	return ok && (t.owner == "" || t.owner == clientID)
}

// update moves a command on and announces the change.
func (s *Service) update(ctx context.Context, id string, st devices.CommandStatus, reason string) (devices.Command, bool) {
	c, changed, err := s.store.UpdateCommand(ctx, id, st, reason)
	if err != nil {
		s.log.Error("update command", "command", id, "status", st, "error", err)
		return c, false
	}
	if c.Status.Final() {
		s.mu.Lock()
		if t, ok := s.open[id]; ok {
			if t.timer != nil {
				t.timer.Stop()
			}
			delete(s.open, id)
		}
		s.mu.Unlock()
	}
	if changed {
		s.events.PublishEvent(devices.Event{Type: devices.EventCommandUpdated, EntityID: c.EntityID, Payload: c})
	}
	return c, changed
}

// Delivered is called by the QoS tracking hook when the device's session
// completed its part of the QoS 2 exchange.
func (s *Service) Delivered(id string) {
	s.mu.Lock()
	t, ok := s.open[id]
	s.mu.Unlock()
	if !ok {
		return
	}
	ctx := context.Background()
	if t.expect == "" && len(t.expectAttr) == 0 {
		s.update(ctx, id, devices.CommandDelivered, "")
		s.update(ctx, id, devices.CommandConfirmed, "nothing to confirm: delivery is the confirmation")
		return
	}
	if _, changed := s.update(ctx, id, devices.CommandDelivered, ""); changed {
		s.startTimer(id)
	}
}

// Dropped is called when the broker gave up on a tagged command.
func (s *Service) Dropped(id, reason string) {
	s.update(context.Background(), id, devices.CommandFailed, reason)
}

func (s *Service) startTimer(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.open[id]
	if !ok || t.timer != nil {
		return
	}
	t.timer = time.AfterFunc(s.timeout, func() {
		s.update(context.Background(), id, devices.CommandUnconfirmed,
			fmt.Sprintf("the device did not report the requested state within %v", s.timeout))
	})
}

// watch confirms commands when their entity reports the requested state.
func (s *Service) watch() {
	defer close(s.done)
	for ev := range s.sub.C() {
		if ev.Type != devices.EventStateChanged {
			continue
		}
		v, ok := ev.Payload.(devices.EntityView)
		if !ok {
			continue
		}
		var hit []string
		s.mu.Lock()
		for id, t := range s.open {
			if t.cmd.EntityID == v.ID && (t.expect != "" || len(t.expectAttr) > 0) && matches(t, v) {
				hit = append(hit, id)
			}
		}
		s.mu.Unlock()
		for _, id := range hit {
			s.update(context.Background(), id, devices.CommandDelivered, "")
			s.update(context.Background(), id, devices.CommandConfirmed, "")
		}
	}
}

func matches(t *tracked, v devices.EntityView) bool {
	if t.expect != "" && v.State != t.expect {
		return false
	}
	for k, want := range t.expectAttr {
		got, ok := v.Attributes[k]
		if !ok || !sameValue(got, want) {
			return false
		}
	}
	return true
}

// sameValue compares attribute values that may have gone through JSON
// (numbers as float64).
func sameValue(a, b any) bool {
	if fa, ok := toFloat(a); ok {
		if fb, ok := toFloat(b); ok {
			return fa == fb
		}
	}
	return reflect.DeepEqual(a, b)
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	case float32:
		return float64(x), true
	}
	return 0, false
}

var _ devices.CommandService = (*Service)(nil)
