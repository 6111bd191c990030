package hub_test

// End-to-end test of devices: a simulated device (a real MQTT 5 client)
// announces itself with Home Assistant discovery, is paired over the HTTP
// API, takes commands from the API and from hubd/entity/<id>/set at QoS 2,
// confirms them with its state, goes unavailable on its Will, survives a
// restart of the hub, and is removed by an empty config payload.

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt "github.com/mochi-mqtt/server/v2"

	"hubd/devices"
	"hubd/hub"
	"hubd/hub/auth"
)

const (
	plugConfigTopic = "homeassistant/switch/plug1/relay/config"
	plugConfig      = `{"name":"Relay","object_id":"plug1_relay","unique_id":"plug1_relay",
		"command_topic":"plug1/relay/set","state_topic":"plug1/relay/state",
		"availability_topic":"plug1/availability",
		"device":{"identifiers":["plug1"],"name":"Plug <b>1</b>","manufacturer":"Acme","model":"P1"}}`
	plugEntity = "switch.plug1_relay"
)

// announceRules let device users announce themselves; everything else a
// device may do comes from pairing.
func announceRules(o *hub.Options) {
	o.ACL = []auth.Rule{
		{Role: auth.RoleDevice, Topic: "homeassistant/+/+/+/config", Access: auth.AccessWrite, Source: "test"},
		{Role: auth.RoleDevice, Topic: "homeassistant/+/+/config", Access: auth.AccessWrite, Source: "test"},
	}
}

// api calls the HTTP API as admin and decodes a JSON answer into out.
func api(t testing.TB, th *testHub, method, path, body string, wantStatus int, out any) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+th.Addr("http").String()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(adminUser, adminPass)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		t.Fatalf("%s %s: %s %s, want %d", method, path, resp.Status, b, wantStatus)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

// syncDevices waits until the registry has processed every message the
// broker saw so far.
func syncDevices(t testing.TB, th *testHub) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := th.Devices.Sync(ctx); err != nil {
		t.Fatal(err)
	}
}

// waitCommand waits for a command to reach status.
func waitCommand(t testing.TB, sub devices.Subscription, id string, status devices.CommandStatus) {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		select {
		case ev := <-sub.C():
			if c, ok := ev.Payload.(devices.Command); ok && c.ID == id && c.Status == status {
				return
			}
		case <-deadline:
			t.Fatalf("command %s never became %s", id, status)
		}
	}
}

// plugConnect is the device's CONNECT; withWill adds its Will on its
// availability topic, which the broker accepts only once the device is
// paired (a Will is checked against what the client may publish).
func plugConnect(withWill bool) *paho.Connect {
	cp := persistent(connect5("plug1-client", dev1User, dev1Pass), 3600)
	if withWill {
		cp.WillMessage = &paho.WillMessage{Topic: "plug1/availability", Payload: []byte("offline"), Retain: true, QoS: 1}
	}
	return cp
}

func TestDeviceEndToEnd(t *testing.T) {
	th := startHub(t, announceRules)
	events := th.Events.Subscribe()
	defer events.Close()

	// The device announces itself; it shows up pending, and it cannot use
	// its topics yet.
	if rc := connack5(t, tcpDial(th.mqttAddr()), plugConnect(true)); rc != 0x87 {
		t.Fatalf("an unpaired device's Will on its availability topic: CONNACK %#x, want 0x87", rc)
	}
	plug := mustConnect5(t, th.mqttAddr(), plugConnect(false))
	plug.mustPublish(t, plugConfigTopic, plugConfig, 1, true)
	syncDevices(t, th)
	var pending []devices.Device
	api(t, th, "GET", "/api/devices?status=pending", "", http.StatusOK, &pending)
	if len(pending) != 1 || pending[0].ID != "plug1" || pending[0].Name != "Plug <b>1</b>" || pending[0].Manufacturer != "Acme" {
		t.Fatalf("pending devices = %+v", pending)
	}
	if rc := plug.publish(t, &paho.Publish{Topic: "plug1/relay/state", Payload: []byte("OFF"), QoS: 1}); rc != 0x87 {
		t.Fatalf("a pending device published its state: reason %#x, want 0x87", rc)
	}

	// Pairing derives its access from its own config.
	var paired devices.Device
	api(t, th, "POST", "/api/devices/plug1/pair", "", http.StatusOK, &paired)
	if paired.Status != devices.StatusPaired {
		t.Fatalf("after pair: %+v", paired)
	}
	plug.close()
	plug = mustConnect5(t, th.mqttAddr(), plugConnect(true)) // now its Will is allowed
	plug.mustSubscribe(t, "plug1/relay/set", 2)
	plug.mustPublish(t, "plug1/availability", "online", 1, true)
	plug.mustPublish(t, "plug1/relay/state", "OFF", 1, true)
	if got := plug.subscribe(t, paho.SubscribeOptions{Topic: "plug2/relay/set", QoS: 2}); got[0] < 0x80 {
		t.Fatalf("device subscribed to another device's command topic: %#x", got)
	}
	other := mustConnect5(t, th.mqttAddr(), connect5("plug2-client", dev2User, dev2Pass))
	if rc := other.publish(t, &paho.Publish{Topic: "plug1/relay/set", Payload: []byte("ON"), QoS: 1}); rc != 0x87 {
		t.Fatalf("another device published to plug1's command topic: reason %#x, want 0x87", rc)
	}
	syncDevices(t, th)
	var ent devices.EntityView
	api(t, th, "GET", "/api/entities/"+plugEntity, "", http.StatusOK, &ent)
	if ent.State != "OFF" || !ent.Available || ent.DeviceID != "plug1" {
		t.Fatalf("entity after its first state: %+v", ent)
	}

	// A command over the API reaches the device once, at QoS 2, and its
	// state reply confirms it.
	var cmd devices.Command
	api(t, th, "POST", "/api/entities/"+plugEntity+"/command", `{"state":"ON"}`, http.StatusAccepted, &cmd)
	if cmd.ID == "" || cmd.Topic != "plug1/relay/set" || cmd.Payload != "ON" {
		t.Fatalf("command = %+v", cmd)
	}
	m := plug.expect(t, "plug1/relay/set")
	if string(m.Payload) != "ON" || m.QoS != 2 {
		t.Fatalf("device got %q at QoS %d, want \"ON\" at QoS 2", m.Payload, m.QoS)
	}
	waitCommand(t, events, cmd.ID, devices.CommandDelivered)
	plug.mustPublish(t, "plug1/relay/state", "ON", 1, true)
	waitCommand(t, events, cmd.ID, devices.CommandConfirmed)
	api(t, th, "GET", "/api/commands/"+cmd.ID, "", http.StatusOK, &cmd)
	if cmd.Status != devices.CommandConfirmed {
		t.Fatalf("GET command: %+v", cmd)
	}

	// The same through the MQTT entity API, from a service client.
	nodered := mustConnect5(t, th.mqttAddr(), connect5("nodered", serviceUser, servicePass))
	nodered.mustSubscribe(t, "hubd/command/#", 1)
	nodered.mustPublish(t, "hubd/entity/"+plugEntity+"/set", "OFF", 1, false)
	m = plug.expect(t, "plug1/relay/set")
	if string(m.Payload) != "OFF" || m.QoS != 2 {
		t.Fatalf("device got %q at QoS %d, want \"OFF\" at QoS 2", m.Payload, m.QoS)
	}
	plug.mustPublish(t, "plug1/relay/state", "OFF", 1, true)
	for {
		var c devices.Command
		if err := json.Unmarshal(nodered.expectPrefix(t, "hubd/command/").Payload, &c); err != nil {
			t.Fatal(err)
		}
		if c.Status == devices.CommandConfirmed && c.Payload == "OFF" {
			break
		}
	}
	// Each command reached the device exactly once: nothing else comes
	// before a marker sent after them on the same topic.
	nodered.mustPublish(t, "plug1/relay/set", "MARKER", 2, false) // the service role may publish anywhere
	if m := plug.expect(t, "plug1/relay/set"); string(m.Payload) != "MARKER" {
		t.Fatalf("device got %q again before the marker", m.Payload)
	}

	// Its Will makes the entity unavailable. The broker sends the Will
	// before it reports the connection gone.
	gone := th.ev.next(mqtt.OnDisconnect, "plug1-client")
	plug.kill(t)
	waitFor(t, gone, "the broker to notice the device's connection ended")
	syncDevices(t, th)
	api(t, th, "GET", "/api/entities/"+plugEntity, "", http.StatusOK, &ent)
	if ent.Available {
		t.Fatalf("entity still available after the device's Will: %+v", ent)
	}

	// A restart keeps all of it.
	events.Close()
	nodered.close()
	other.close()
	th = th.restart(t)
	var dev devices.Device
	api(t, th, "GET", "/api/devices/plug1", "", http.StatusOK, &dev)
	if dev.Status != devices.StatusPaired || len(dev.Entities) != 1 || dev.Entities[0] != plugEntity {
		t.Fatalf("device after restart: %+v", dev)
	}
	api(t, th, "GET", "/api/entities/"+plugEntity, "", http.StatusOK, &ent)
	if ent.State != "OFF" || ent.Available {
		t.Fatalf("entity after restart: %+v", ent)
	}

	// An empty config payload removes it.
	plug = mustConnect5(t, th.mqttAddr(), plugConnect(true))
	plug.mustPublish(t, plugConfigTopic, "", 1, true)
	syncDevices(t, th)
	api(t, th, "GET", "/api/entities/"+plugEntity, "", http.StatusNotFound, nil)
	api(t, th, "GET", "/api/devices/plug1", "", http.StatusNotFound, nil)
}

// expectPrefix returns the next message and fails unless its topic starts
// with prefix.
func (c *client5) expectPrefix(t testing.TB, prefix string) *paho.Publish {
	t.Helper()
	m := c.next(t)
	if !strings.HasPrefix(m.Topic, prefix) {
		t.Fatalf("%s: got a message on %q, want one under %q", c.id, m.Topic, prefix)
	}
	return m
}
