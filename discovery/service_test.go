package discovery

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"hubd/devices/store"
	"hubd/hub/sqlite"
)

// lockedBuffer collects log output from the registry's goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newTestService(tb testing.TB, logs *lockedBuffer) *Service {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "hubd.db"), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := store.Migrate(ctx, db); err != nil {
		tb.Fatal(err)
	}
	st, err := store.New(db)
	if err != nil {
		tb.Fatal(err)
	}
	var log *slog.Logger
	if logs != nil {
		log = slog.New(slog.NewTextHandler(logs, nil))
	}
	s := NewService(Options{Store: st, Logger: log})
	if err := s.Load(ctx); err != nil {
		tb.Fatal(err)
	}
	return s
}

const goodSwitch = `{"name":"Relay","unique_id":"r1","command_topic":"r1/set","state_topic":"r1/state","device":{"ids":["r1"],"name":"R1"}}`

// TestRejectsBadPayloads: malformed discovery payloads are refused with a
// log line naming the topic and the reason, counted, and leave what is
// registered untouched.
func TestRejectsBadPayloads(t *testing.T) {
	ctx := context.Background()
	logs := &lockedBuffer{}
	s := newTestService(t, logs)
	s.handle(ctx, message{topic: "homeassistant/switch/r1/config", payload: []byte(goodSwitch), clientID: "r1"})
	before, err := s.FindEntities(ctx)
	if err != nil || len(before) != 1 {
		t.Fatalf("setup: %v %v", before, err)
	}

	for _, tc := range []struct {
		name, topic string
		payload     []byte
	}{
		{"BadJSON", "homeassistant/switch/r1/config", []byte(`{"name": "Relay",`)},
		{"NotAnObject", "homeassistant/switch/r1/config", []byte(`["a"]`)},
		{"UnknownComponent", "homeassistant/teleporter/r1/config", []byte(goodSwitch)},
		{"BadTopicCharset", "homeassistant/switch/r1 x/config", []byte(goodSwitch)},
		{"Garbage1MB", "homeassistant/switch/r2/config", bytes.Repeat([]byte{0xff, '{', 0x00}, 350_000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := s.Rejected()
			s.handle(ctx, message{topic: tc.topic, payload: tc.payload, clientID: "r1"})
			if s.Rejected() != n+1 {
				t.Errorf("rejected count %d, want %d", s.Rejected(), n+1)
			}
			if !strings.Contains(logs.String(), fmt.Sprintf("topic=%q", tc.topic)) && !strings.Contains(logs.String(), "topic="+tc.topic) {
				t.Errorf("no log line naming %s:\n%s", tc.topic, logs.String())
			}
		})
	}
	after, err := s.FindEntities(ctx)
	if err != nil || len(after) != 1 || after[0].ID != before[0].ID || after[0].Name != "Relay" {
		t.Fatalf("registry changed by bad payloads: %+v %v", after, err)
	}
}

// BenchmarkRegistryIngest measures discovery configs ingested per second
// through the registry, SQLite writes included.
func BenchmarkRegistryIngest(b *testing.B) {
	ctx := context.Background()
	s := newTestService(b, nil)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		payload := fmt.Sprintf(`{"name":"Temp %d","unique_id":"t%d","state_topic":"n%d/temp","unit_of_measurement":"°C","device_class":"temperature","value_template":"{{ value_json.temperature }}","device":{"ids":["n%d"],"name":"Node %d"}}`, i, i, i, i, i)
		s.handle(ctx, message{topic: fmt.Sprintf("homeassistant/sensor/n%d/temp/config", i), payload: []byte(payload), clientID: "bench"})
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "configs/s")
}

// BenchmarkRegistryState measures state updates per second through the
// registry: codec, state, events (the store write is batched per second
// and happens once at the end here).
func BenchmarkRegistryState(b *testing.B) {
	ctx := context.Background()
	s := newTestService(b, nil)
	for i := 0; i < 10; i++ {
		payload := fmt.Sprintf(`{"name":"Temp %d","unique_id":"t%d","state_topic":"n%d/temp","value_template":"{{ value_json.temperature | float | round(1) }}","device":{"ids":["n%d"],"name":"Node %d"}}`, i, i, i, i, i)
		s.handle(ctx, message{topic: fmt.Sprintf("homeassistant/sensor/n%d/temp/config", i), payload: []byte(payload)})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.handle(ctx, message{topic: fmt.Sprintf("n%d/temp", i%10), payload: []byte(fmt.Sprintf(`{"temperature": %d.25}`, i%40))})
	}
	s.flushStates(ctx)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
	st, _ := s.FindEntity(ctx, "sensor.n0_temp")
	if st.State == "" {
		b.Fatalf("no state recorded: %+v", st)
	}
}

// TestGrantsCannotBeWidened: pairing grants a device's client the topics
// its config declared; another client announcing the same device, or the
// device announcing other topics, does not carry those grants over, and
// no device is ever granted another device's command topic or hubd/.
func TestGrantsCannotBeWidened(t *testing.T) {
	ctx := context.Background()
	s := newTestService(t, nil)
	cfg := func(id, state string) []byte {
		return []byte(fmt.Sprintf(`{"name":"Relay","unique_id":"%[1]s","command_topic":"%[1]s/set","state_topic":"%[2]s","device":{"ids":["%[1]s"],"name":"%[1]s"}}`, id, state))
	}
	s.handle(ctx, message{topic: "homeassistant/switch/a/config", payload: cfg("a", "a/state"), clientID: "client-a"})
	s.handle(ctx, message{topic: "homeassistant/switch/b/config", payload: cfg("b", "b/state"), clientID: "client-b"})
	for _, id := range []string{"a", "b"} {
		if _, err := s.Pair(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if !s.CanPublish("client-a", "a/state") || !s.CanSubscribe("client-a", "a/set") {
		t.Fatal("paired device lacks its own grants")
	}

	t.Run("ErrOtherCommandTopic", func(t *testing.T) {
		// A claims B's command topic as its state topic.
		s.handle(ctx, message{topic: "homeassistant/switch/a/config", payload: cfg("a", "b/set"), clientID: "client-a"})
		if s.CanPublish("client-a", "b/set") {
			t.Fatal("device a may publish to b's command topic")
		}
		d, _ := s.FindDevice(ctx, "a")
		if d.Status != "pending" {
			t.Fatalf("device a announced new topics and stays %s, want pending", d.Status)
		}
	})
	t.Run("ErrHubdTopics", func(t *testing.T) {
		s.handle(ctx, message{topic: "homeassistant/switch/a/config", payload: cfg("a", "hubd/entity/switch.b/set"), clientID: "client-a"})
		if _, err := s.Pair(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if s.CanPublish("client-a", "hubd/entity/switch.b/set") {
			t.Fatal("a device was granted a hubd/ topic")
		}
	})
	t.Run("ErrOtherClient", func(t *testing.T) {
		// Another client announces device b.
		s.handle(ctx, message{topic: "homeassistant/switch/b/config", payload: cfg("b", "b/state"), clientID: "intruder"})
		if s.CanSubscribe("intruder", "b/set") || s.CanSubscribe("client-b", "b/set") {
			t.Fatal("grants moved with the announcing client")
		}
		d, _ := s.FindDevice(ctx, "b")
		if d.Status != "pending" {
			t.Fatalf("device b announced by another client is %s, want pending", d.Status)
		}
	})
}
