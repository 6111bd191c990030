package commands_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"hubd/devices"
	"hubd/devices/commands"
	"hubd/devices/store"
	"hubd/hub/sqlite"
)

// encoder maps every request on switch.a to "ON" on a/set, expecting ON.
type encoder struct{}

func (encoder) EncodeCommand(_ context.Context, id string, req devices.CommandRequest) ([]devices.CommandMessage, string, map[string]any, error) {
	if id != "switch.a" {
		return nil, "", nil, devices.Errorf(devices.ENOTFOUND, "entity %q not found", id)
	}
	return []devices.CommandMessage{{Topic: "a/set", Payload: "ON"}}, "ON", nil, nil
}

func (encoder) Owner(string) string { return "device-a" }

// publisher records what is published and reports receivers.
type publisher struct {
	receivers int
	pending   map[string]bool
	published []string
}

func (p *publisher) PublishCommand(_ context.Context, topic string, payload []byte, id, owner string) (bool, error) {
	p.published = append(p.published, id)
	return p.receivers > 0, nil
}

func (p *publisher) Pending(id string) bool { return p.pending[id] }

func open(t *testing.T) (*store.Store, *devices.Broadcaster) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hubd.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := store.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	st, err := store.New(db)
	if err != nil {
		t.Fatal(err)
	}
	return st, devices.NewBroadcaster()
}

func waitStatus(t *testing.T, sub devices.Subscription, id string, want devices.CommandStatus) devices.Command {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-sub.C():
			if c, ok := ev.Payload.(devices.Command); ok && c.ID == id && c.Status == want {
				return c
			}
		case <-timeout:
			t.Fatalf("command %s never became %s", id, want)
		}
	}
}

func TestCommandLifecycle(t *testing.T) {
	ctx := context.Background()
	on := "ON"

	t.Run("Confirmed", func(t *testing.T) {
		st, ev := open(t)
		svc := commands.New(commands.Options{Store: st, Encoder: encoder{}, Events: ev, Timeout: time.Minute})
		if err := svc.Start(ctx, &publisher{receivers: 1}); err != nil {
			t.Fatal(err)
		}
		defer svc.Close()
		sub := ev.Subscribe()
		defer sub.Close()
		c, err := svc.Send(ctx, "switch.a", devices.CommandRequest{State: &on})
		if err != nil || c.Status != devices.CommandSent {
			t.Fatalf("send: %+v %v", c, err)
		}
		svc.Delivered(c.ID)
		waitStatus(t, sub, c.ID, devices.CommandDelivered)
		ev.PublishEvent(devices.Event{Type: devices.EventStateChanged, EntityID: "switch.a",
			Payload: devices.EntityView{Entity: devices.Entity{ID: "switch.a"}, State: "ON"}})
		waitStatus(t, sub, c.ID, devices.CommandConfirmed)
	})

	t.Run("Unconfirmed", func(t *testing.T) {
		st, ev := open(t)
		svc := commands.New(commands.Options{Store: st, Encoder: encoder{}, Events: ev, Timeout: 50 * time.Millisecond})
		if err := svc.Start(ctx, &publisher{receivers: 1}); err != nil {
			t.Fatal(err)
		}
		defer svc.Close()
		sub := ev.Subscribe()
		defer sub.Close()
		c, _ := svc.Send(ctx, "switch.a", devices.CommandRequest{State: &on})
		svc.Delivered(c.ID)
		got := waitStatus(t, sub, c.ID, devices.CommandUnconfirmed)
		if got.Reason == "" {
			t.Errorf("unconfirmed without a reason: %+v", got)
		}
	})

	t.Run("FailedNoSubscriber", func(t *testing.T) {
		st, ev := open(t)
		svc := commands.New(commands.Options{Store: st, Encoder: encoder{}, Events: ev})
		if err := svc.Start(ctx, &publisher{receivers: 0}); err != nil {
			t.Fatal(err)
		}
		defer svc.Close()
		c, err := svc.Send(ctx, "switch.a", devices.CommandRequest{State: &on})
		if err != nil || c.Status != devices.CommandFailed || c.Reason == "" {
			t.Fatalf("send with nobody subscribed: %+v %v", c, err)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		st, ev := open(t)
		pub := &publisher{receivers: 1}
		svc := commands.New(commands.Options{Store: st, Encoder: encoder{}, Events: ev})
		if err := svc.Start(ctx, pub); err != nil {
			t.Fatal(err)
		}
		defer svc.Close()
		if _, err := svc.Send(ctx, "switch.nope", devices.CommandRequest{State: &on}); devices.ErrorCode(err) != devices.ENOTFOUND {
			t.Fatalf("err = %v, want ENOTFOUND", err)
		}
		if len(pub.published) != 0 {
			t.Fatal("a refused command was published")
		}
	})

	// After a restart: a command recorded but never published is aborted;
	// a sent one the broker no longer holds is aborted; a sent one the
	// broker holds stays open and completes.
	t.Run("Restart", func(t *testing.T) {
		st, ev := open(t)
		now := time.Now().UTC()
		for id, status := range map[string]devices.CommandStatus{"p": devices.CommandPending, "lost": devices.CommandSent, "held": devices.CommandSent} {
			if err := st.CreateCommand(ctx, devices.Command{ID: id, EntityID: "switch.a", Status: status, CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
		}
		svc := commands.New(commands.Options{Store: st, Encoder: encoder{}, Events: ev, Timeout: time.Minute})
		if err := svc.Start(ctx, &publisher{pending: map[string]bool{"held": true}}); err != nil {
			t.Fatal(err)
		}
		defer svc.Close()
		for id, want := range map[string]devices.CommandStatus{"p": devices.CommandAborted, "lost": devices.CommandAborted, "held": devices.CommandSent} {
			c, err := svc.FindCommand(ctx, id)
			if err != nil || c.Status != want {
				t.Errorf("%s: %+v %v, want %s", id, c, err, want)
			}
		}
		sub := ev.Subscribe()
		defer sub.Close()
		svc.Delivered("held")
		waitStatus(t, sub, "held", devices.CommandDelivered)
	})
}
