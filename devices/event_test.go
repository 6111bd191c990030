package devices_test

import (
	"testing"

	"hubd/devices"
)

func TestBroadcasterFansOut(t *testing.T) {
	b := devices.NewBroadcaster()
	s1, s2 := b.Subscribe(), b.Subscribe()
	defer s1.Close()
	defer s2.Close()
	b.PublishEvent(devices.Event{Type: devices.EventStateChanged, EntityID: "switch.a"})
	for _, s := range []devices.Subscription{s1, s2} {
		if ev := <-s.C(); ev.EntityID != "switch.a" || ev.Time.IsZero() {
			t.Fatalf("got %+v", ev)
		}
	}
}

// A subscriber that does not keep up misses events rather than blocking
// the publisher, and stays subscribed.
func TestBroadcasterSlowSubscriberMissesEvents(t *testing.T) {
	b := devices.NewBroadcaster()
	b.Buffer = 2
	slow := b.Subscribe()
	defer slow.Close()
	for i := 0; i < 3; i++ {
		b.PublishEvent(devices.Event{Type: devices.EventStateChanged, EntityID: "first"})
	}
	if got := b.Dropped(); got != 1 {
		t.Fatalf("dropped %d events, want 1", got)
	}
	<-slow.C()
	<-slow.C()
	b.PublishEvent(devices.Event{Type: devices.EventStateChanged, EntityID: "later"})
	if ev := <-slow.C(); ev.EntityID != "later" {
		t.Fatalf("after catching up got %+v, want the later event", ev)
	}
}

func TestErrorCodes(t *testing.T) {
	err := devices.Errorf(devices.ENOTFOUND, "device %q not found", "x")
	if devices.ErrorCode(err) != devices.ENOTFOUND || devices.ErrorMessage(err) != `device "x" not found` {
		t.Fatalf("code %q message %q", devices.ErrorCode(err), devices.ErrorMessage(err))
	}
	if devices.ErrorCode(errPlain{}) != devices.EINTERNAL || devices.ErrorMessage(errPlain{}) != "Internal error." {
		t.Fatal("a plain error must be internal")
	}
	if devices.ErrorCode(nil) != "" {
		t.Fatal("nil has no code")
	}
}

type errPlain struct{}

func (errPlain) Error() string { return "boom" }
