package devices

import (
	"sync"
	"time"
)

// Event types on the hub's one stream of state changes.
const (
	EventDeviceDiscovered    = "device_discovered"
	EventDeviceUpdated       = "device_updated"
	EventDevicePaired        = "device_paired"
	EventDeviceUnpaired      = "device_unpaired"
	EventDeviceRemoved       = "device_removed"
	EventEntityRemoved       = "entity_removed"
	EventAvailabilityChanged = "availability_changed"
	EventStateChanged        = "state_changed"
	EventCommandUpdated      = "command_updated"
)

// Event is one change. Payload is a Device, an EntityView, a State or a
// Command, by type.
type Event struct {
	Type     string    `json:"type"`
	DeviceID string    `json:"device_id,omitempty"`
	EntityID string    `json:"entity_id,omitempty"`
	Time     time.Time `json:"time"`
	Payload  any       `json:"payload,omitempty"`
}

// EventService publishes events and lets others follow them.
type EventService interface {
	PublishEvent(e Event)
	Subscribe() Subscription
}

// Subscription receives events until Close.
type Subscription interface {
	C() <-chan Event
	Close()
}

// Broadcaster is the in-process EventService: it fans events out over
// buffered channels and never blocks the publisher. A subscriber whose
// buffer is full misses the event (counted in Dropped) but stays
// subscribed: the hub's own consumers (command confirmation, the MQTT
// mirror) must not go deaf after one burst.
type Broadcaster struct {
	mu      sync.Mutex
	subs    map[*subscription]struct{}
	dropped int64
	// Buffer is each subscriber's channel capacity; 0 means 256.
	Buffer int
}

// NewBroadcaster returns an empty Broadcaster.
func NewBroadcaster() *Broadcaster {
	return &Broadcaster{subs: map[*subscription]struct{}{}}
}

// PublishEvent sends e to every subscriber without blocking.
func (b *Broadcaster) PublishEvent(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		select {
		case s.c <- e:
		default: // too slow: it misses this one
			s.dropped++
			b.dropped++
		}
	}
}

// Dropped counts the events some subscriber missed because its buffer was
// full.
func (b *Broadcaster) Dropped() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dropped
}

// Subscribe starts a subscription.
func (b *Broadcaster) Subscribe() Subscription {
	n := b.Buffer
	if n <= 0 {
		n = 256
	}
	s := &subscription{b: b, c: make(chan Event, n)}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

type subscription struct {
	b       *Broadcaster
	c       chan Event
	dropped int64
}

func (s *subscription) C() <-chan Event { return s.c }

func (s *subscription) Close() {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if _, ok := s.b.subs[s]; ok {
		delete(s.b.subs, s)
		close(s.c)
	}
}

// NopEventService discards events; a dependency is never nil.
type NopEventService struct{}

// PublishEvent does nothing.
func (NopEventService) PublishEvent(Event) {}

// Subscribe returns a subscription that never receives.
func (NopEventService) Subscribe() Subscription { return nopSub{c: make(chan Event)} }

type nopSub struct{ c chan Event }

func (n nopSub) C() <-chan Event { return n.c }
func (n nopSub) Close()          {}
