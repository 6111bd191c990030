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

// A subscriber that does not keep up is dropped (its channel closed)
// rather than blocking the publisher.
func TestBroadcasterDropsSlowSubscriber(t *testing.T) {
	b := devices.NewBroadcaster()
	b.Buffer = 2
	slow := b.Subscribe()
	for i := 0; i < 3; i++ {
		b.PublishEvent(devices.Event{Type: devices.EventStateChanged})
	}
	n := 0
	for range slow.C() {
		n++
	}
	if n != 2 {
		t.Fatalf("slow subscriber got %d events before being dropped, want 2", n)
	}
	slow.Close() // closing again is harmless
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
