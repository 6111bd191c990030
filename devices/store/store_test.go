package store_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"hubd/devices"
	"hubd/devices/store"
	"hubd/hub/sqlite"
)

func mustOpen(t *testing.T) (*store.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hubd.db")
	db, err := sqlite.Open(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := store.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	s, err := store.New(db)
	if err != nil {
		t.Fatal(err)
	}
	return s, path
}

func TestDeviceLifecycle(t *testing.T) {
	ctx := context.Background()
	s, _ := mustOpen(t)

	d, created, err := s.UpsertDevice(ctx, devices.Device{ID: "plug1", Name: "Plug", Identifiers: []string{"0x1"}})
	if err != nil || !created || d.Status != devices.StatusPending {
		t.Fatalf("first upsert: %+v created=%v err=%v", d, created, err)
	}
	if _, err := s.SetDeviceStatus(ctx, "plug1", devices.StatusPaired); err != nil {
		t.Fatal(err)
	}
	// A re-announcement updates the data but keeps the user's decision.
	d, created, err = s.UpsertDevice(ctx, devices.Device{ID: "plug1", Name: "Plug v2", Status: devices.StatusPending})
	if err != nil || created || d.Status != devices.StatusPaired || d.Name != "Plug v2" {
		t.Fatalf("second upsert: %+v created=%v err=%v", d, created, err)
	}
	for _, id := range []string{"switch.plug1", "sensor.plug1_power"} {
		if _, err := s.UpsertEntity(ctx, devices.Entity{ID: id, DeviceID: "plug1", DiscoveryTopic: "homeassistant/x/" + id + "/config"}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.FindDevice(ctx, "plug1")
	if err != nil || len(got.Entities) != 2 {
		t.Fatalf("find: %+v %v", got, err)
	}
	if _, gone, err := s.DeleteEntity(ctx, "switch.plug1"); err != nil || gone {
		t.Fatalf("delete first entity: gone=%v err=%v", gone, err)
	}
	if dev, gone, err := s.DeleteEntity(ctx, "sensor.plug1_power"); err != nil || !gone || dev != "plug1" {
		t.Fatalf("delete last entity: dev=%q gone=%v err=%v", dev, gone, err)
	}
	if _, err := s.FindDevice(ctx, "plug1"); devices.ErrorCode(err) != devices.ENOTFOUND {
		t.Fatalf("device after its last entity went: err=%v, want ENOTFOUND", err)
	}
	if _, err := s.SetDeviceStatus(ctx, "nope", devices.StatusPaired); devices.ErrorCode(err) != devices.ENOTFOUND {
		t.Fatalf("unknown device: %v", err)
	}
}

func TestCommandStatusNeverGoesBack(t *testing.T) {
	ctx := context.Background()
	s, _ := mustOpen(t)
	now := time.Now().UTC()
	if err := s.CreateCommand(ctx, devices.Command{ID: "c1", EntityID: "switch.a", Status: devices.CommandPending, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		to      devices.CommandStatus
		changed bool
		want    devices.CommandStatus
	}{
		{devices.CommandSent, true, devices.CommandSent},
		{devices.CommandDelivered, true, devices.CommandDelivered},
		{devices.CommandSent, false, devices.CommandDelivered}, // a late report
		{devices.CommandConfirmed, true, devices.CommandConfirmed},
		{devices.CommandUnconfirmed, false, devices.CommandConfirmed}, // final stays
	}
	for _, st := range steps {
		c, changed, err := s.UpdateCommand(ctx, "c1", st.to, "")
		if err != nil || changed != st.changed || c.Status != st.want {
			t.Fatalf("to %s: got %s changed=%v err=%v, want %s changed=%v", st.to, c.Status, changed, err, st.want, st.changed)
		}
	}
	open, err := s.FindOpenCommands(ctx)
	if err != nil || len(open) != 0 {
		t.Fatalf("open commands: %v %v", open, err)
	}
}

func TestStatesRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, _ := mustOpen(t)
	want := devices.State{EntityID: "sensor.t", State: "21.5", Attributes: map[string]any{"unit": "°C"}, Available: true,
		LastChanged: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if err := s.SaveStates(ctx, []devices.State{want}); err != nil {
		t.Fatal(err)
	}
	got, err := s.FindStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if g := got["sensor.t"]; g.State != want.State || g.Attributes["unit"] != "°C" || !g.LastChanged.Equal(want.LastChanged) || !g.Available {
		t.Fatalf("got %+v, want %+v", g, want)
	}
}
