package hub

import (
	"context"
	"fmt"
	"net"
	"net/http"

	mqtt "github.com/mochi-mqtt/server/v2"

	"hubd/devices"
	"hubd/devices/commands"
	"hubd/devices/store"
	"hubd/discovery"
	"hubd/discovery/mdns"
	"hubd/hub/auth"
	"hubd/ui"
)

// devicesPart is the hub's device side: registry, commands, APIs.
type devicesPart struct {
	// Events is the hub's one stream of state changes.
	Events *devices.Broadcaster
	// Devices is the device registry fed by discovery.
	Devices *discovery.Service
	// Commands is the one command path.
	Commands *commands.Service

	network devices.NetworkService
	mdns    *mdns.Service
	api     *mqttAPI
	stop    context.CancelFunc
}

func (h *Hub) grants() auth.Grants { return deviceGrants{h.Devices} }

func (h *Hub) deviceHooks() []mqtt.Hook {
	return []mqtt.Hook{discovery.NewHook(h.Devices), commands.NewTracker(h.Commands), h.api}
}

func (h *Hub) apiHandler() http.Handler {
	network := h.network
	if network == nil {
		network = noNetwork{}
	}
	api := &ui.Server{
		Devices:  h.Devices,
		Entities: h.Devices,
		Commands: h.Commands,
		Network:  network,
		Pairing:  h.Users,
		Auth:     apiAuth{h.Users},
		Logger:   h.log.With("component", "http"),
	}
	return api.Handler()
}

func (h *Hub) closeDevices() {
	if h.mdns != nil {
		h.mdns.Close() // the goodbye goes out while the hub still answers
	}
	if h.stop != nil {
		h.stop()
	}
	if h.api != nil {
		h.api.close()
	}
	if h.Commands != nil {
		h.Commands.Close()
	}
	if h.Devices != nil && h.Broker != nil {
		h.Devices.Close()
	}
}

// openDevices opens the device registry and the command path on the
// database; they start working in startDevices, once the broker runs.
func (h *Hub) openDevices(ctx context.Context) error {
	if err := store.Migrate(ctx, h.DB); err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	st, err := store.New(h.DB)
	if err != nil {
		return err
	}
	h.Events = devices.NewBroadcaster()
	h.Events.Buffer = 4096
	h.Devices = discovery.NewService(discovery.Options{
		Prefix:   h.opts.Discovery.Prefix,
		AutoPair: h.opts.Discovery.AutoPair,
		Store:    st,
		Events:   h.Events,
		Logger:   h.log.With("component", "discovery"),
	})
	if err := h.Devices.Load(ctx); err != nil {
		return err
	}
	h.Commands = commands.New(commands.Options{
		Store:   st,
		Encoder: h.Devices,
		Events:  h.Events,
		Logger:  h.log.With("component", "commands"),
		Timeout: h.opts.Discovery.CommandTimeout,
	})
	h.api = &mqttAPI{events: h.Events, entities: h.Devices, commands: h.Commands, log: h.log.With("component", "mqtt-api")}
	return nil
}

// startDevices starts discovery (birth message), the command path (which
// settles commands left open by the last run) and the MQTT entity API.
func (h *Hub) startDevices() error {
	ctx, cancel := context.WithCancel(context.Background())
	h.stop = cancel
	h.Devices.Start(ctx, h.Broker)
	for _, pk := range h.Broker.Topics.Messages(h.Devices.Prefix() + "/#") {
		h.Devices.Observe(pk.TopicName, pk.Payload, "", "")
	}
	pub := &commandPublisher{
		srv:   h.Broker,
		cl:    h.Broker.NewClient(nil, "local", "hubd-commands", true),
		flush: h.persist.Flush,
	}
	if err := h.Commands.Start(ctx, pub); err != nil {
		return fmt.Errorf("start commands: %w", err)
	}
	if h.opts.Discovery.MDNS {
		h.mdns = mdns.New(mdns.Options{
			MQTTPort: h.port("mqtt"),
			TLSPort:  h.port("tls"),
			HTTPPort: h.port("http"),
			Version:  h.opts.Version,
			Logger:   h.log.With("component", "mdns"),
		})
		if err := h.mdns.Start(ctx); err != nil {
			return fmt.Errorf("mdns: %w", err)
		}
		h.network = h.mdns
	}
	h.api.srv = h.Broker
	if err := h.api.start(ctx); err != nil {
		return fmt.Errorf("start MQTT entity API: %w", err)
	}
	return nil
}

// port returns the port a listener is bound to, or 0 if it is off.
func (h *Hub) port(name string) int {
	if a, ok := h.Addr(name).(*net.TCPAddr); ok {
		return a.Port
	}
	return 0
}

// deviceGrants lets paired devices use the topics their own discovery
// configuration declares.
type deviceGrants struct{ s *discovery.Service }

func (g deviceGrants) CanPublish(s auth.Subject, topic string) bool {
	return g.s.CanPublish(s.ClientID, topic)
}

func (g deviceGrants) CanSubscribe(s auth.Subject, filter string) bool {
	return g.s.CanSubscribe(s.ClientID, filter)
}
