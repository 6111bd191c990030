package auth

import (
	"context"
	"testing"
	"time"
)

// TestPairingWindow: an onboarding credential may announce devices (and
// only that) while the window is open, and nothing once it closed.
func TestPairingWindow(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	s := NewStore(db)
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	h := NewHook(HookOptions{Users: s})
	sub := Subject{Username: "setup", Role: RoleOnboarding, ClientID: "new-plug"}

	if until, err := s.PairingWindow(ctx); err != nil || !until.IsZero() {
		t.Fatalf("never opened: %v %v", until, err)
	}
	if h.canPublish(ctx, sub, "homeassistant/switch/plug/config") {
		t.Fatal("announcing allowed before the window opened")
	}

	until, err := s.OpenPairingWindow(ctx, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(until); d < 4*time.Minute || d > 5*time.Minute {
		t.Fatalf("window closes in %v, want about 5m", d)
	}
	for topic, want := range map[string]bool{
		"homeassistant/switch/plug/config":        true,
		"homeassistant/light/node/ceiling/config": true,
		"homeassistant/switch/plug/state":         false, // not a config topic
		"plug/relay/set":                          false,
		"hubd/entity/x/config/config":             false,
		"$SYS/a/b/config":                         false,
	} {
		if got := h.canPublish(ctx, sub, topic); got != want {
			t.Errorf("publish %s during the window: %v, want %v", topic, got, want)
		}
	}

	if _, err := s.OpenPairingWindow(ctx, 0); err != nil { // close it
		t.Fatal(err)
	}
	if h.canPublish(ctx, sub, "homeassistant/switch/plug/config") {
		t.Fatal("announcing allowed after the window closed")
	}
	if _, err := s.OpenPairingWindow(ctx, 2*time.Hour); err == nil {
		t.Fatal("a two-hour window was accepted")
	}
}
