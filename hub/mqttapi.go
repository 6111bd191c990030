package hub

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"hubd/devices"
	"hubd/devices/commands"
	"hubd/discovery"
)

// MQTT entity API topics: the control surface Node-RED and scripts use.
// Only admin and service roles may use them (ACL: clients may not
// publish hubd/# otherwise).
const (
	// entityTopicPrefix starts hubd/entity/<id>/state (an entity's
	// normalised state, retained) and hubd/entity/<id>/set.
	entityTopicPrefix = "hubd/entity/"
	// commandTopicPrefix carries command status updates.
	commandTopicPrefix = "hubd/command/"
	// eventTopicPrefix carries device events.
	eventTopicPrefix = "hubd/events/"
)

// mqttAPI mirrors the event stream onto hubd/… topics and turns
// hubd/entity/<id>/set messages into commands. It is a broker hook so that
// a command is recorded before its publisher gets PUBACK/PUBREC: an
// acknowledged command is never lost, and a publish replayed after a
// crash (which comes from an inline client) is not run twice.
type mqttAPI struct {
	mqtt.HookBase
	srv      *mqtt.Server
	events   devices.EventService
	entities devices.EntityService
	commands devices.CommandService
	log      *slog.Logger
	sub      devices.Subscription
	done     chan struct{}
}

func (a *mqttAPI) start(ctx context.Context) error {
	// Every entity's current state, retained, so a new subscriber sees it.
	views, err := a.entities.FindEntities(ctx)
	if err != nil {
		return err
	}
	for _, v := range views {
		a.publish(entityTopicPrefix+v.ID+"/state", discovery.EntityJSON(v), true)
	}
	a.sub = a.events.Subscribe()
	a.done = make(chan struct{})
	go a.mirror()
	return nil
}

// ID returns the hook's id.
func (a *mqttAPI) ID() string { return "hubd-mqtt-api" }

// Provides reports the events the hook handles.
func (a *mqttAPI) Provides(b byte) bool { return b == mqtt.OnPublish }

// OnPublish runs a command published to hubd/entity/<id>/set (the ACL
// already allowed the publisher) before the broker acknowledges it.
func (a *mqttAPI) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline || !strings.HasPrefix(pk.TopicName, entityTopicPrefix) || !strings.HasSuffix(pk.TopicName, "/set") {
		return pk, nil
	}
	a.onSet(cl.ID, pk)
	return pk, nil
}

func (a *mqttAPI) close() {
	if a.sub != nil {
		a.sub.Close()
		<-a.done
	}
}

func (a *mqttAPI) publish(topic string, payload []byte, retain bool) {
	if err := a.srv.Publish(topic, payload, retain, 1); err != nil {
		a.log.Warn("publish failed", "topic", topic, "error", err)
	}
}

func (a *mqttAPI) mirror() {
	defer close(a.done)
	for ev := range a.sub.C() {
		switch p := ev.Payload.(type) {
		case devices.EntityView:
			a.publish(entityTopicPrefix+p.ID+"/state", discovery.EntityJSON(p), true)
		case devices.Command:
			if b, err := json.Marshal(p); err == nil {
				a.publish(commandTopicPrefix+p.ID, b, false)
			}
		}
		if ev.Type == devices.EventEntityRemoved {
			a.publish(entityTopicPrefix+ev.EntityID+"/state", nil, true) // clear the retained state
		}
		switch ev.Type {
		case devices.EventDeviceDiscovered, devices.EventDevicePaired, devices.EventDeviceUnpaired,
			devices.EventDeviceRemoved, devices.EventAvailabilityChanged:
			if b, err := json.Marshal(ev); err == nil {
				a.publish(eventTopicPrefix+ev.Type, b, false)
			}
		}
	}
}

// onSet runs a command published to hubd/entity/<id>/set: a JSON
// CommandRequest, or plain ON / OFF / TOGGLE. Send records the command
// and queues it durably before it returns; the publisher waits that long.
func (a *mqttAPI) onSet(client string, pk packets.Packet) {
	id := strings.TrimSuffix(strings.TrimPrefix(pk.TopicName, entityTopicPrefix), "/set")
	req, err := parseSetPayload(pk.Payload)
	if err != nil {
		a.log.Warn("command refused", "topic", pk.TopicName, "client", client, "error", err)
		return
	}
	c, err := a.commands.Send(context.Background(), id, req)
	if err != nil {
		a.log.Warn("command refused", "topic", pk.TopicName, "client", client, "reason", devices.ErrorMessage(err))
		return
	}
	if b, err := json.Marshal(c); err == nil {
		a.publish(commandTopicPrefix+c.ID, b, false)
	}
}

// parseSetPayload reads a command body: JSON, or a bare state word.
func parseSetPayload(b []byte) (devices.CommandRequest, error) {
	var req devices.CommandRequest
	s := strings.TrimSpace(string(b))
	switch strings.ToUpper(s) {
	case "ON", "OFF", "TOGGLE", "OPEN", "CLOSE", "STOP", "LOCK", "UNLOCK", "PRESS":
		u := strings.ToUpper(s)
		if u == "PRESS" {
			req.Press = true
		} else {
			req.State = &u
		}
		return req, nil
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, devices.Errorf(devices.EINVALID, "command body is neither ON/OFF/TOGGLE nor a JSON command: %v", err)
	}
	return req, nil
}

// commandPublisher publishes commands at QoS 2 from the hub's own client,
// tagged with their id.
type commandPublisher struct {
	srv   *mqtt.Server
	cl    *mqtt.Client
	flush func(context.Context) error
}

func (p *commandPublisher) PublishCommand(ctx context.Context, topic string, payload []byte, id, owner string) (bool, error) {
	subs := p.srv.Topics.Subscribers(topic)
	received := len(subs.Subscriptions)+len(subs.Shared) > 0
	if owner != "" {
		_, received = subs.Subscriptions[owner]
	}
	pk := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 2},
		PacketID:    1, // the inline client has no packet ids of its own; required by validation
		TopicName:   topic,
		Payload:     payload,
		Properties:  packets.Properties{User: []packets.UserProperty{{Key: commands.Property, Val: id}}},
	}
	if err := p.srv.InjectPacket(p.cl, pk); err != nil {
		return received, err
	}
	return received, p.flush(ctx)
}

func (p *commandPublisher) Pending(id string) bool {
	for _, cl := range p.srv.Clients.GetAll() {
		for _, pk := range cl.State.Inflight.GetAll(false) {
			if commands.CommandID(pk) == id {
				return true
			}
		}
	}
	return false
}
