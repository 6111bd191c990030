package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	_ "github.com/mattn/go-sqlite3"
)

// apiCall calls hubd's HTTP API as user and decodes the JSON answer.
func apiCall(t testing.TB, addr, user, pass, method, path, body string, want int, out any) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %s %s, want %d", method, path, resp.Status, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

type apiCommand struct {
	ID, Status, Reason, Payload string
}

// TestCommandsSurviveKill9: commands sent to an offline device are in the
// broker's store when hubd is killed with SIGKILL; after the restart and
// the device's reconnect each is delivered exactly once and its status
// moves on. A command that was recorded but never published (the crash
// struck in between) is marked aborted, with the reason.
func TestCommandsSurviveKill9(t *testing.T) {
	dataDir := t.TempDir()
	addUser(t, dataDir, "admin", "admin", "admin-pass-1")
	addUser(t, dataDir, "plug", "device", "plug-pass-1")
	cfg := filepath.Join(t.TempDir(), "hubd.yaml")
	if err := os.WriteFile(cfg, []byte("acl:\n  - role: device\n    topic: \"homeassistant/#\"\n    access: write\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--data-dir", dataDir, "--config", cfg}
	p := startHubd(t, nil, args...)

	got := make(chan paho.Message, 100)
	onMsg := func(_ paho.Client, m paho.Message) { got <- m }
	plug := connectV3(t, p.Addr["mqtt"], "plug1-client", "plug", "plug-pass-1", false, onMsg)
	waitToken(t, "announce", plug.Publish("homeassistant/switch/plug1/relay/config", 1, true,
		`{"name":"Relay","object_id":"plug1_relay","command_topic":"plug1/relay/set","state_topic":"plug1/relay/state",`+
			`"device":{"identifiers":["plug1"],"name":"Plug 1"}}`))
	// The registry takes the announcement asynchronously: wait for it.
	if _, err := p.log.waitFor("device discovered", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	apiCall(t, p.Addr["http"], "admin", "admin-pass-1", "POST", "/api/devices/plug1/pair", "", http.StatusOK, nil)
	waitToken(t, "subscribe", plug.Subscribe("plug1/relay/set", 2, nil))
	plug.Disconnect(250) // offline from here on: commands queue

	// Sixteen alternating commands: enough that an unstable sort of the
	// session's queue (mochi sorts it by the second each was queued) would
	// show as a wrong order.
	var sent []apiCommand
	var want []string
	for i := 0; i < 16; i++ {
		state := []string{"ON", "OFF"}[i%2]
		want = append(want, state)
		var c apiCommand
		apiCall(t, p.Addr["http"], "admin", "admin-pass-1", "POST", "/api/entities/switch.plug1_relay/command",
			fmt.Sprintf(`{"state":%q}`, state), http.StatusAccepted, &c)
		if c.Status != "sent" {
			t.Fatalf("command to an offline device: %+v, want sent", c)
		}
		sent = append(sent, c)
	}
	p.kill()

	// The crash struck between recording a command and publishing it.
	db, err := sql.Open("sqlite3", filepath.Join(dataDir, "hubd.db"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	if _, err := db.Exec(`INSERT INTO commands (id, entity_id, status, data, created_at, updated_at) VALUES ('never-published', 'switch.plug1_relay', 'pending', ?, ?, ?)`,
		`{"id":"never-published","entity_id":"switch.plug1_relay","request":{"state":"OFF"},"topic":"plug1/relay/set","payload":"OFF","status":"pending"}`, now, now); err != nil {
		t.Fatal(err)
	}
	db.Close()

	p = startHubd(t, nil, args...)
	var aborted apiCommand
	apiCall(t, p.Addr["http"], "admin", "admin-pass-1", "GET", "/api/commands/never-published", "", http.StatusOK, &aborted)
	if aborted.Status != "aborted" || aborted.Reason == "" {
		t.Fatalf("never-published command after restart: %+v, want aborted with a reason", aborted)
	}

	// Command status changes, as hubd announces them on hubd/command/<id>.
	statuses := make(chan apiCommand, 256)
	watcher := connectV3(t, p.Addr["mqtt"], "status-watcher", "admin", "admin-pass-1", true, nil)
	defer watcher.Disconnect(250)
	waitToken(t, "watch commands", watcher.Subscribe("hubd/command/#", 1, func(_ paho.Client, m paho.Message) {
		var c apiCommand
		if json.Unmarshal(m.Payload(), &c) == nil {
			statuses <- c
		}
	}))

	plug = connectV3(t, p.Addr["mqtt"], "plug1-client", "plug", "plug-pass-1", false, onMsg)
	defer plug.Disconnect(250)
	var payloads []string
	for range sent {
		select {
		case m := <-got:
			if m.Topic() != "plug1/relay/set" || m.Qos() != 2 {
				t.Fatalf("device got %s at QoS %d", m.Topic(), m.Qos())
			}
			payloads = append(payloads, string(m.Payload()))
		case <-time.After(30 * time.Second):
			t.Fatalf("device got %v, want %d commands", payloads, len(sent))
		}
	}
	// Nothing more before a marker sent after them on the same topic.
	admin := connectV3(t, p.Addr["mqtt"], "admin-marker", "admin", "admin-pass-1", true, nil)
	waitToken(t, "marker", admin.Publish("plug1/relay/set", 2, false, "MARKER"))
	admin.Disconnect(250)
	select {
	case m := <-got:
		if string(m.Payload()) != "MARKER" {
			t.Fatalf("device got %q again before the marker (after %v)", m.Payload(), payloads)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no marker")
	}
	if strings.Join(payloads, ",") != strings.Join(want, ",") {
		t.Fatalf("device got %v, want %v once each, in order", payloads, want)
	}

	// Each moves on from sent: delivered, and the last one confirmed by
	// the device's state.
	waitToken(t, "state", plug.Publish("plug1/relay/state", 1, true, want[len(want)-1]))
	pending := map[string]map[string]bool{}
	for i, c := range sent {
		ok := map[string]bool{"delivered": true, "confirmed": true, "unconfirmed": true}
		if i == len(sent)-1 {
			ok = map[string]bool{"confirmed": true}
		}
		pending[c.ID] = ok
	}
	for len(pending) > 0 {
		select {
		case c := <-statuses:
			if ok, waiting := pending[c.ID]; waiting && ok[c.Status] {
				delete(pending, c.ID)
			}
		case <-time.After(15 * time.Second):
			for id, ok := range pending {
				var now apiCommand
				apiCall(t, p.Addr["http"], "admin", "admin-pass-1", "GET", "/api/commands/"+id, "", http.StatusOK, &now)
				t.Errorf("command %s is %s (%s), want one of %v", id, now.Status, now.Reason, ok)
			}
			t.FailNow()
		}
	}
}
