package discovery

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"hubd/devices"
	"hubd/devices/store"
)

// Publisher publishes through the broker. The broker's inline client
// satisfies it.
type Publisher interface {
	Publish(topic string, payload []byte, retain bool, qos byte) error
}

// Options configures a Service.
type Options struct {
	// Prefix is the discovery prefix; "homeassistant" when empty.
	Prefix string
	// AutoPair pairs every newly discovered device at once, as Home
	// Assistant does; by default new devices wait for the user.
	AutoPair bool
	Store    *store.Store
	Events   devices.EventService
	Logger   *slog.Logger
	// Now returns the current time; tests replace it.
	Now func() time.Time
}

// Service is the device registry fed by discovery: it ingests config,
// state and availability messages seen by the broker, keeps entities and
// their state in memory and in SQLite, and answers the device and entity
// services. It implements devices.DeviceService and devices.EntityService.
type Service struct {
	prefix   string
	autoPair bool
	store    *store.Store
	events   devices.EventService
	log      *slog.Logger
	now      func() time.Time

	pub atomic.Pointer[publisherBox]

	in       chan message
	done     chan struct{}
	stopOnce sync.Once

	mu       sync.RWMutex
	entities map[string]*entityRT
	byState  map[string][]*entityRT // state topic → entities
	byAvail  map[string][]*entityRT // availability topic → entities
	byCmd    map[string][]*entityRT // command topic → entities
	byConfig map[string][]string    // discovery topic → entity ids
	devs     map[string]devices.Device
	dirty    map[string]bool // entity ids whose state is not yet stored

	rejected atomic.Int64
	dropped  atomic.Int64
}

type publisherBox struct{ p Publisher }

// entityRT is an entity at run time: its codec and current state.
type entityRT struct {
	e     devices.Entity
	codec *Codec
	st    devices.State
	avail map[string]bool // availability topic → last value
	mode  string
}

// message is one publish the hook saw.
type message struct {
	topic    string
	payload  []byte
	clientID string
	username string
	// sync, if set, is closed once the message is processed (tests and
	// start-up use it to wait).
	sync chan struct{}
}

// NewService returns a Service. Call Load, then Start.
func NewService(o Options) *Service {
	if o.Prefix == "" {
		o.Prefix = "homeassistant"
	}
	if o.Events == nil {
		o.Events = devices.NopEventService{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{
		prefix: o.Prefix, autoPair: o.AutoPair, store: o.Store, events: o.Events, log: o.Logger, now: o.Now,
		in:       make(chan message, 8192),
		done:     make(chan struct{}),
		entities: map[string]*entityRT{},
		byState:  map[string][]*entityRT{},
		byAvail:  map[string][]*entityRT{},
		byCmd:    map[string][]*entityRT{},
		byConfig: map[string][]string{},
		devs:     map[string]devices.Device{},
		dirty:    map[string]bool{},
	}
}

// Prefix returns the discovery prefix.
func (s *Service) Prefix() string { return s.prefix }

// Rejected counts discovery payloads refused as malformed.
func (s *Service) Rejected() int64 { return s.rejected.Load() }

// Load reads devices, entities and states from the store.
func (s *Service) Load(ctx context.Context) error {
	devs, err := s.store.FindDevices(ctx, devices.DeviceFilter{})
	if err != nil {
		return fmt.Errorf("load devices: %w", err)
	}
	ents, err := s.store.FindEntities(ctx)
	if err != nil {
		return fmt.Errorf("load entities: %w", err)
	}
	states, err := s.store.FindStates(ctx)
	if err != nil {
		return fmt.Errorf("load states: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range devs {
		s.devs[d.ID] = d
	}
	for _, e := range ents {
		rt := s.newRuntime(e)
		if st, ok := states[e.ID]; ok {
			rt.st = st
		}
		s.index(rt)
	}
	return nil
}

// newRuntime compiles e's codec. An untranslatable template leaves the
// entity marked unsupported rather than reading wrong data.
func (s *Service) newRuntime(e devices.Entity) *entityRT {
	codec, err := NewCodec(e)
	if err != nil {
		e.Unsupported = err.Error()
	}
	rt := &entityRT{e: e, codec: codec, avail: map[string]bool{}, mode: "latest"}
	rt.st.EntityID = e.ID
	rt.st.Available = true
	if rt.st.Attributes == nil {
		rt.st.Attributes = map[string]any{}
	}
	return rt
}

// index adds rt to the topic indexes. The caller holds s.mu.
func (s *Service) index(rt *entityRT) {
	s.entities[rt.e.ID] = rt
	s.byConfig[rt.e.DiscoveryTopic] = appendUnique(s.byConfig[rt.e.DiscoveryTopic], rt.e.ID)
	if rt.codec == nil {
		return
	}
	for _, t := range rt.codec.StateTopics() {
		s.byState[t] = append(s.byState[t], rt)
	}
	items, mode := rt.codec.Availability()
	if mode != "" {
		rt.mode = mode
	}
	for _, a := range items {
		s.byAvail[a.Topic] = append(s.byAvail[a.Topic], rt)
	}
	for _, t := range rt.codec.CommandTopics() {
		s.byCmd[t] = append(s.byCmd[t], rt)
	}
}

// unindex removes the entity id from every index. The caller holds s.mu.
func (s *Service) unindex(id string) {
	rt, ok := s.entities[id]
	if !ok {
		return
	}
	delete(s.entities, id)
	s.byConfig[rt.e.DiscoveryTopic] = remove(s.byConfig[rt.e.DiscoveryTopic], id)
	if len(s.byConfig[rt.e.DiscoveryTopic]) == 0 {
		delete(s.byConfig, rt.e.DiscoveryTopic)
	}
	for _, idx := range []map[string][]*entityRT{s.byState, s.byAvail, s.byCmd} {
		for t, list := range idx {
			out := list[:0:0]
			for _, x := range list {
				if x.e.ID != id {
					out = append(out, x)
				}
			}
			if len(out) == 0 {
				delete(idx, t)
			} else {
				idx[t] = out
			}
		}
	}
	delete(s.dirty, id)
}

// sameTopics reports whether two versions of an entity use the same
// state, availability and command topics.
func sameTopics(a, b *entityRT) bool {
	set := func(rt *entityRT) map[string]bool {
		m := map[string]bool{}
		if rt.codec == nil {
			return m
		}
		for _, t := range rt.codec.StateTopics() {
			m["s"+t] = true
		}
		for _, t := range rt.codec.CommandTopics() {
			m["c"+t] = true
		}
		items, _ := rt.codec.Availability()
		for _, a := range items {
			m["a"+a.Topic] = true
		}
		return m
	}
	x, y := set(a), set(b)
	if len(x) != len(y) {
		return false
	}
	for k := range x {
		if !y[k] {
			return false
		}
	}
	return true
}

func appendUnique(list []string, v string) []string {
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}

func remove(list []string, v string) []string {
	out := list[:0:0]
	for _, x := range list {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}

// Start runs the ingest worker until ctx ends or Close; it publishes the
// birth message so that devices announce themselves again.
func (s *Service) Start(ctx context.Context, pub Publisher) {
	s.pub.Store(&publisherBox{p: pub})
	go s.run(ctx)
	s.publish(s.prefix+"/status", []byte("online"), true)
}

// Close stops the worker, stores pending states and publishes the
// "offline" status.
func (s *Service) Close() {
	s.stopOnce.Do(func() {
		if s.pub.Load() == nil { // never started: no worker to wait for
			return
		}
		s.publish(s.prefix+"/status", []byte("offline"), true)
		close(s.in)
		<-s.done
	})
}

func (s *Service) publish(topic string, payload []byte, retain bool) {
	box := s.pub.Load()
	if box == nil {
		return
	}
	if err := box.p.Publish(topic, payload, retain, 0); err != nil {
		s.log.Warn("publish failed", "topic", topic, "error", err)
	}
}

// Observe queues a message for the registry as if the broker had just
// seen it; clientID may be empty when the sender is unknown. The hub
// replays the retained discovery configs through it at start, so that
// the registry agrees with them even if the last run stopped between the
// broker storing a config and the registry taking it in.
func (s *Service) Observe(topic string, payload []byte, clientID, username string) {
	if !s.interested(topic) {
		return
	}
	s.enqueue(message{topic: topic, payload: append([]byte(nil), payload...), clientID: clientID, username: username})
}

// Sync waits until every message seen before the call is processed.
func (s *Service) Sync(ctx context.Context) error {
	done := make(chan struct{})
	select {
	case s.in <- message{sync: done}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Service) run(ctx context.Context) {
	defer close(s.done)
	flush := time.NewTicker(time.Second)
	defer flush.Stop()
	defer s.flushStates(context.Background())
	for {
		select {
		case m, ok := <-s.in:
			if !ok {
				return
			}
			if m.sync != nil {
				s.flushStates(ctx)
				close(m.sync)
				continue
			}
			s.handle(ctx, m)
		case <-flush.C:
			s.flushStates(ctx)
		case <-ctx.Done():
			return
		}
	}
}

// interested reports cheaply, on the broker's publish path, whether a
// topic concerns the registry.
func (s *Service) interested(topic string) bool {
	if len(topic) > len(s.prefix) && topic[:len(s.prefix)] == s.prefix && topic[len(s.prefix)] == '/' {
		return true
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.byState[topic]) > 0 || len(s.byAvail[topic]) > 0
}

// enqueue hands a message to the worker without blocking the broker; a
// full queue drops it with a warning.
func (s *Service) enqueue(m message) {
	defer func() { _ = recover() }() // closed during shutdown
	select {
	case s.in <- m:
	default:
		if s.dropped.Add(1)%100 == 1 {
			s.log.Warn("discovery queue full, dropping messages", "topic", m.topic, "dropped", s.dropped.Load())
		}
	}
}

func (s *Service) handle(ctx context.Context, m message) {
	if t, ok, err := ParseTopic(s.prefix, m.topic); err != nil {
		s.reject(m, err)
		return
	} else if ok {
		s.handleConfig(ctx, t, m)
		return
	}
	s.handleState(m)
}

func (s *Service) reject(m message, err error) {
	s.rejected.Add(1)
	s.log.Warn("discovery payload rejected", "topic", m.topic, "client", m.clientID, "reason", devices.ErrorMessage(err), "error", err)
}

func (s *Service) handleConfig(ctx context.Context, t Topic, m message) {
	if len(m.payload) == 0 {
		s.removeConfig(ctx, m.topic)
		return
	}
	a, err := ParseAnnouncement(t, m.payload)
	if err != nil {
		s.reject(m, err)
		return
	}
	if err := s.applyAnnouncement(ctx, a, m); err != nil {
		s.log.Error("discovery: storing announcement failed", "topic", m.topic, "error", err)
	}
}

func (s *Service) applyAnnouncement(ctx context.Context, a Announcement, m message) error {
	if a.Migrate {
		// The device is moving to another discovery topic; its entities
		// stay until the new config arrives (Home Assistant keeps them).
		s.log.Info("discovery: migration announced", "topic", m.topic, "client", m.clientID)
		return nil
	}
	var dev *devices.Device
	if a.Device != nil {
		d := *a.Device
		d.ClientID, d.Username = m.clientID, m.username
		if s.autoPair && m.clientID != "" {
			d.Status = devices.StatusPaired
		}
		stored, created, err := s.store.UpsertDevice(ctx, d)
		if err != nil {
			return err
		}
		dev = &stored
		s.mu.Lock()
		s.devs[stored.ID] = stored
		s.mu.Unlock()
		typ := devices.EventDeviceUpdated
		if created {
			typ = devices.EventDeviceDiscovered
			s.log.Info("device discovered", "device", stored.ID, "name", stored.Name, "client", m.clientID, "status", stored.Status)
		}
		s.events.PublishEvent(devices.Event{Type: typ, DeviceID: stored.ID, Payload: stored})
	}

	keep := map[string]bool{}
	topicsChanged := false
	for _, e := range a.Entities {
		e.DiscoveryTopic = m.topic
		if dev != nil {
			e.DeviceID = dev.ID
		}
		rt := s.newRuntime(e)
		if rt.e.Unsupported != "" {
			s.log.Warn("entity has an unsupported template; its state stays unknown", "entity", e.ID, "topic", m.topic, "reason", rt.e.Unsupported)
		}
		if _, err := s.store.UpsertEntity(ctx, rt.e); err != nil {
			return err
		}
		keep[e.ID] = true
		s.mu.Lock()
		if old, ok := s.entities[e.ID]; ok {
			rt.st = old.st // an update in place keeps the state
			if !sameTopics(old, rt) {
				topicsChanged = true
			}
			s.unindex(e.ID)
		}
		s.index(rt)
		s.mu.Unlock()
	}
	if topicsChanged && dev != nil && dev.Status == devices.StatusPaired {
		// Pairing granted the topics the device declared then; new ones
		// need the user's consent again.
		s.log.Warn("paired device announced different topics; it is pending until paired again", "device", dev.ID, "topic", m.topic, "client", m.clientID)
		if _, err := s.setStatus(ctx, dev.ID, devices.StatusPending, devices.EventDeviceUnpaired); err != nil {
			return err
		}
	}
	// A device-based config replaces its topic's entities: ones it lists
	// with only a platform ("p") go, and so do ones it no longer lists.
	s.mu.RLock()
	var gone []string
	for _, id := range s.byConfig[m.topic] {
		if !keep[id] {
			gone = append(gone, id)
		}
	}
	s.mu.RUnlock()
	for _, id := range gone {
		s.removeEntity(ctx, id)
	}
	if dev != nil {
		if d, err := s.store.FindDevice(ctx, dev.ID); err == nil {
			s.mu.Lock()
			s.devs[d.ID] = d
			s.mu.Unlock()
		}
	}
	return nil
}

func (s *Service) removeConfig(ctx context.Context, topic string) {
	s.mu.RLock()
	ids := append([]string(nil), s.byConfig[topic]...)
	s.mu.RUnlock()
	for _, id := range ids {
		s.removeEntity(ctx, id)
	}
}

func (s *Service) removeEntity(ctx context.Context, id string) {
	devID, gone, err := s.store.DeleteEntity(ctx, id)
	if err != nil && devices.ErrorCode(err) != devices.ENOTFOUND {
		s.log.Error("remove entity", "entity", id, "error", err)
		return
	}
	s.mu.Lock()
	s.unindex(id)
	if gone {
		delete(s.devs, devID)
	} else if devID != "" {
		if d, ok := s.devs[devID]; ok {
			d.Entities = remove(d.Entities, id)
			s.devs[devID] = d
		}
	}
	s.mu.Unlock()
	s.log.Info("entity removed", "entity", id)
	s.events.PublishEvent(devices.Event{Type: devices.EventEntityRemoved, EntityID: id, DeviceID: devID})
	if gone {
		s.log.Info("device removed", "device", devID)
		s.events.PublishEvent(devices.Event{Type: devices.EventDeviceRemoved, DeviceID: devID})
	}
}

func (s *Service) handleState(m message) {
	now := s.now().UTC()
	s.mu.Lock()
	var events []devices.Event
	for _, rt := range s.byState[m.topic] {
		if rt.codec == nil || rt.e.Unsupported != "" {
			continue
		}
		before := rt.st.State
		changed, err := rt.codec.Apply(&rt.st, m.topic, m.payload)
		if err != nil {
			s.log.Warn("state not understood", "entity", rt.e.ID, "topic", m.topic, "error", err)
			continue
		}
		rt.st.LastUpdated = now
		if rt.st.State != before || rt.st.LastChanged.IsZero() {
			rt.st.LastChanged = now
		}
		s.dirty[rt.e.ID] = true
		if changed {
			events = append(events, devices.Event{Type: devices.EventStateChanged, EntityID: rt.e.ID, DeviceID: rt.e.DeviceID, Time: now, Payload: view(rt)})
		}
	}
	for _, rt := range s.byAvail[m.topic] {
		if ev, ok := s.applyAvailability(rt, m, now); ok {
			events = append(events, ev)
		}
	}
	s.mu.Unlock()
	for _, ev := range events {
		s.events.PublishEvent(ev)
	}
}

// applyAvailability folds one availability message into rt's state. The
// caller holds s.mu.
func (s *Service) applyAvailability(rt *entityRT, m message, now time.Time) (devices.Event, bool) {
	items, _ := rt.codec.Availability()
	for _, a := range items {
		if a.Topic != m.topic {
			continue
		}
		v := string(m.payload)
		if a.Template != nil {
			if out, err := a.Template.Render(m.payload, nil); err == nil {
				v = out
			}
		}
		switch v {
		case a.PayloadAvailable:
			rt.avail[a.Topic] = true
		case a.PayloadNotAvailable:
			rt.avail[a.Topic] = false
		default:
			continue
		}
	}
	avail := rt.st.Available
	switch rt.mode {
	case "all":
		avail = len(rt.avail) == len(items)
		for _, v := range rt.avail {
			avail = avail && v
		}
	case "any":
		avail = false
		for _, v := range rt.avail {
			avail = avail || v
		}
	default: // latest
		if v, ok := rt.avail[m.topic]; ok {
			avail = v
		}
	}
	if avail == rt.st.Available {
		return devices.Event{}, false
	}
	rt.st.Available = avail
	s.dirty[rt.e.ID] = true
	return devices.Event{Type: devices.EventAvailabilityChanged, EntityID: rt.e.ID, DeviceID: rt.e.DeviceID, Time: now, Payload: view(rt)}, true
}

func (s *Service) flushStates(ctx context.Context) {
	s.mu.Lock()
	if len(s.dirty) == 0 {
		s.mu.Unlock()
		return
	}
	states := make([]devices.State, 0, len(s.dirty))
	for id := range s.dirty {
		if rt, ok := s.entities[id]; ok {
			st := rt.st
			st.Attributes = cloneMap(st.Attributes)
			states = append(states, st)
		}
	}
	s.dirty = map[string]bool{}
	s.mu.Unlock()
	if err := s.store.SaveStates(ctx, states); err != nil {
		s.log.Error("store states", "error", err, "count", len(states))
	}
}

func cloneMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// view returns rt as the API shows it. The caller holds s.mu.
func view(rt *entityRT) devices.EntityView {
	v := devices.EntityView{Entity: rt.e, State: rt.st.State, Attributes: cloneMap(rt.st.Attributes), Available: rt.st.Available}
	if !rt.st.LastChanged.IsZero() {
		t := rt.st.LastChanged
		v.LastChanged = &t
	}
	return v
}

// FindEntities returns every entity with its state, by id.
func (s *Service) FindEntities(ctx context.Context) ([]devices.EntityView, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]devices.EntityView, 0, len(s.entities))
	for _, rt := range s.entities {
		out = append(out, view(rt))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// FindEntity returns one entity with its state. ENOTFOUND.
func (s *Service) FindEntity(ctx context.Context, id string) (devices.EntityView, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	rt, ok := s.entities[id]
	if !ok {
		return devices.EntityView{}, devices.Errorf(devices.ENOTFOUND, "entity %q not found", id)
	}
	return view(rt), nil
}

// FindDevices returns the devices filter selects.
func (s *Service) FindDevices(ctx context.Context, filter devices.DeviceFilter) ([]devices.Device, error) {
	return s.store.FindDevices(ctx, filter)
}

// FindDevice returns one device. ENOTFOUND.
func (s *Service) FindDevice(ctx context.Context, id string) (devices.Device, error) {
	return s.store.FindDevice(ctx, id)
}

// Pair accepts a device. ENOTFOUND.
func (s *Service) Pair(ctx context.Context, id string) (devices.Device, error) {
	return s.setStatus(ctx, id, devices.StatusPaired, devices.EventDevicePaired)
}

// Unpair returns a device to pending and withdraws its access. ENOTFOUND.
func (s *Service) Unpair(ctx context.Context, id string) (devices.Device, error) {
	return s.setStatus(ctx, id, devices.StatusPending, devices.EventDeviceUnpaired)
}

// Ignore declines a device. ENOTFOUND.
func (s *Service) Ignore(ctx context.Context, id string) (devices.Device, error) {
	return s.setStatus(ctx, id, devices.StatusIgnored, devices.EventDeviceUnpaired)
}

func (s *Service) setStatus(ctx context.Context, id string, st devices.Status, event string) (devices.Device, error) {
	d, err := s.store.SetDeviceStatus(ctx, id, st)
	if err != nil {
		return d, err
	}
	s.mu.Lock()
	s.devs[d.ID] = d
	s.mu.Unlock()
	s.log.Info("device status changed", "device", id, "status", st)
	s.events.PublishEvent(devices.Event{Type: event, DeviceID: id, Payload: d})
	return d, nil
}

// DeleteDevice forgets a device and clears its retained discovery
// configurations, so it does not come back by itself. ENOTFOUND.
func (s *Service) DeleteDevice(ctx context.Context, id string) error {
	d, err := s.store.FindDevice(ctx, id)
	if err != nil {
		return err
	}
	topics := map[string]bool{}
	s.mu.RLock()
	for _, eid := range d.Entities {
		if rt, ok := s.entities[eid]; ok {
			topics[rt.e.DiscoveryTopic] = true
		}
	}
	s.mu.RUnlock()
	for _, eid := range d.Entities {
		s.removeEntity(ctx, eid)
	}
	if err := s.store.DeleteDevice(ctx, id); err != nil && devices.ErrorCode(err) != devices.ENOTFOUND {
		return err
	}
	s.mu.Lock()
	delete(s.devs, id)
	s.mu.Unlock()
	for t := range topics {
		s.publish(t, nil, true)
	}
	return nil
}

// EncodeCommand maps a request to the messages to publish for entity id,
// in order, and to the state that will confirm it. ENOTFOUND, EINVALID,
// ECONFLICT.
func (s *Service) EncodeCommand(ctx context.Context, id string, req devices.CommandRequest) ([]devices.CommandMessage, string, map[string]any, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	rt, ok := s.entities[id]
	if !ok {
		return nil, "", nil, devices.Errorf(devices.ENOTFOUND, "entity %q not found", id)
	}
	if rt.e.Unsupported != "" {
		return nil, "", nil, devices.Errorf(devices.ECONFLICT, "entity %q cannot be commanded: %s", id, rt.e.Unsupported)
	}
	if d, ok := s.devs[rt.e.DeviceID]; rt.e.DeviceID != "" && (!ok || d.Status != devices.StatusPaired) {
		return nil, "", nil, devices.Errorf(devices.ECONFLICT, "device %q of entity %q is not paired", rt.e.DeviceID, id)
	}
	msgs, expect, attr, err := rt.codec.Commands(req, rt.st)
	if err != nil {
		return nil, "", nil, err
	}
	out := make([]devices.CommandMessage, len(msgs))
	for i, m := range msgs {
		out[i] = devices.CommandMessage{Topic: m.Topic, Payload: string(m.Payload)}
	}
	return out, expect, attr, nil
}

// Owner returns the MQTT client id of the device that entity id belongs
// to, or "" if unknown.
func (s *Service) Owner(id string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if rt, ok := s.entities[id]; ok {
		return s.devs[rt.e.DeviceID].ClientID
	}
	return ""
}

// CanPublish grants a paired device's client the topics its own
// discovery configuration declares for it to publish: its state,
// availability and attribute topics, and its own discovery topics.
func (s *Service) CanPublish(clientID, topic string) bool {
	if strings.HasPrefix(topic, "hubd/") {
		return false // the hub's own API is for admin and service users only
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, rt := range s.byCmd[topic] {
		if !s.ownedBy(rt, clientID) {
			return false // never another device's command topic
		}
	}
	for _, rt := range s.byState[topic] {
		if s.ownedBy(rt, clientID) {
			return true
		}
	}
	for _, rt := range s.byAvail[topic] {
		if s.ownedBy(rt, clientID) {
			return true
		}
	}
	for _, id := range s.byConfig[topic] {
		if rt, ok := s.entities[id]; ok && s.ownedBy(rt, clientID) {
			return true
		}
	}
	return false
}

// CanSubscribe grants a paired device's client its command topics and the
// discovery status topic.
func (s *Service) CanSubscribe(clientID, filter string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if filter == s.prefix+"/status" {
		for _, d := range s.devs {
			if d.ClientID == clientID && d.Status == devices.StatusPaired {
				return true
			}
		}
		return false
	}
	for _, rt := range s.byCmd[filter] {
		if s.ownedBy(rt, clientID) {
			return true
		}
	}
	return false
}

// ownedBy reports whether rt belongs to a paired device that speaks from
// clientID. The caller holds s.mu.
func (s *Service) ownedBy(rt *entityRT, clientID string) bool {
	d, ok := s.devs[rt.e.DeviceID]
	return ok && d.Status == devices.StatusPaired && d.ClientID == clientID && clientID != ""
}

// EntityJSON is the normalised state document of hubd/entity/<id>/state.
func EntityJSON(v devices.EntityView) []byte {
	b, err := json.Marshal(struct {
		ID          string         `json:"id"`
		UniqueID    string         `json:"unique_id,omitempty"`
		Component   string         `json:"component"`
		Name        string         `json:"name"`
		DeviceID    string         `json:"device_id,omitempty"`
		State       string         `json:"state"`
		Attributes  map[string]any `json:"attributes"`
		Available   bool           `json:"available"`
		LastChanged *time.Time     `json:"last_changed"`
	}{v.ID, v.UniqueID, v.Component, v.Name, v.DeviceID, v.State, v.Attributes, v.Available, v.LastChanged})
	if err != nil {
		return []byte(`{}`)
	}
	return b
}

var _ devices.DeviceService = (*Service)(nil)
var _ devices.EntityService = (*Service)(nil)
