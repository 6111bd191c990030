// Package devices is hubd's shared vocabulary for the things in a home:
// devices, the entities they expose, their state, and the commands sent to
// them, with the service interfaces the rest of hubd calls. It imports no
// other hubd package; implementations live in sub-packages and in
// discovery.
package devices

import (
	"context"
	"encoding/json"
	"time"
)

// Status is where a device stands with the user.
type Status string

// Device statuses.
const (
	// StatusPending: discovered, not yet accepted by the user.
	StatusPending Status = "pending"
	// StatusPaired: accepted; its access rules are derived from its
	// discovery configuration.
	StatusPaired Status = "paired"
	// StatusIgnored: the user declined it; its announcements are kept but
	// it gets no access.
	StatusIgnored Status = "ignored"
)

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	return s == StatusPending || s == StatusPaired || s == StatusIgnored
}

// Device is a physical or logical device, as announced in discovery.
type Device struct {
	// ID is hubd's stable id for the device, derived from its first
	// identifier (or its discovery node/object id) and safe in a URL, a
	// topic level and SQL.
	ID string `json:"id"`
	// Identifiers are the device's own identifiers (serial numbers,
	// IEEE addresses) from its discovery "device" block.
	Identifiers []string `json:"identifiers"`
	// Connections are (type, value) pairs such as ("mac", "…").
	Connections  [][2]string `json:"connections,omitempty"`
	Name         string      `json:"name"`
	Manufacturer string      `json:"manufacturer,omitempty"`
	Model        string      `json:"model,omitempty"`
	ModelID      string      `json:"model_id,omitempty"`
	SWVersion    string      `json:"sw_version,omitempty"`
	HWVersion    string      `json:"hw_version,omitempty"`
	SerialNumber string      `json:"serial_number,omitempty"`
	// ViaDevice is the identifier of the gateway the device talks
	// through (a zigbee2mqtt bridge, say).
	ViaDevice        string `json:"via_device,omitempty"`
	SuggestedArea    string `json:"suggested_area,omitempty"`
	ConfigurationURL string `json:"configuration_url,omitempty"`
	// Origin names the software that announced the device.
	Origin Origin `json:"origin,omitempty"`
	// ClientID is the MQTT client id that published the discovery
	// configuration.
	ClientID string `json:"client_id,omitempty"`
	// Username is the MQTT user that published it.
	Username string `json:"username,omitempty"`
	Status   Status `json:"status"`
	// Entities lists the ids of the device's entities.
	Entities  []string  `json:"entities"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Origin is the "origin" ("o") block of a discovery payload.
type Origin struct {
	Name       string `json:"name,omitempty"`
	SWVersion  string `json:"sw_version,omitempty"`
	SupportURL string `json:"support_url,omitempty"`
}

// Entity is one thing a device exposes: a switch, a sensor, a light.
type Entity struct {
	// ID is "<component>.<object_id>", e.g. "light.kitchen_ceiling";
	// lowercase letters, digits and underscores after the dot.
	ID string `json:"id"`
	// UniqueID is the discovery payload's unique_id, if any.
	UniqueID string `json:"unique_id,omitempty"`
	// Component is the Home Assistant platform: switch, light, sensor, …
	Component   string `json:"component"`
	Name        string `json:"name"`
	DeviceID    string `json:"device_id,omitempty"`
	DeviceClass string `json:"device_class,omitempty"`
	Unit        string `json:"unit_of_measurement,omitempty"`
	StateClass  string `json:"state_class,omitempty"`
	Icon        string `json:"icon,omitempty"`
	// DiscoveryTopic is the config topic the entity was announced on.
	DiscoveryTopic string `json:"discovery_topic"`
	// Config is the entity's discovery configuration with abbreviations
	// expanded and "~" substituted: the source of its topics, payload
	// mappings and templates.
	Config map[string]any `json:"config"`
	// Unsupported, when set, says why hubd cannot read or command the
	// entity (an untranslatable template, say); its state is then left
	// unknown rather than wrong.
	Unsupported string `json:"unsupported,omitempty"`
}

// State is an entity's current state.
type State struct {
	EntityID string `json:"entity_id"`
	// State is the normalised value: "ON"/"OFF" for switches, lights and
	// binary sensors, a number as text for sensors, the option for a
	// select, "open"/"closed"/… for covers; "" when unknown.
	State      string         `json:"state"`
	Attributes map[string]any `json:"attributes"`
	// Available is false once the entity's availability topic(s) say so
	// or its device's connection dropped with a Will.
	Available   bool      `json:"available"`
	LastChanged time.Time `json:"last_changed"`
	LastUpdated time.Time `json:"last_updated"`
}

// EntityView is an entity with its state, as the API and the MQTT entity
// topics show it.
type EntityView struct {
	Entity
	State       string         `json:"state"`
	Attributes  map[string]any `json:"attributes"`
	Available   bool           `json:"available"`
	LastChanged *time.Time     `json:"last_changed"`
}

// CommandStatus is where a command is on its way to the device.
type CommandStatus string

// Command statuses, in order.
const (
	// CommandPending: recorded, not yet published.
	CommandPending CommandStatus = "pending"
	// CommandSent: published at QoS 2 towards the device.
	CommandSent CommandStatus = "sent"
	// CommandDelivered: the device's session completed the QoS 2
	// exchange (PUBREC/PUBCOMP).
	CommandDelivered CommandStatus = "delivered"
	// CommandConfirmed: the device reported the requested state.
	CommandConfirmed CommandStatus = "confirmed"
	// CommandUnconfirmed: delivered, but the device did not report the
	// requested state within the timeout.
	CommandUnconfirmed CommandStatus = "unconfirmed"
	// CommandFailed: the broker could not deliver it (no subscriber, a
	// QoS error), or the device rejected it.
	CommandFailed CommandStatus = "failed"
	// CommandAborted: hubd stopped before publishing it; never sent.
	CommandAborted CommandStatus = "aborted"
)

// Final reports whether no further change of status can happen.
func (s CommandStatus) Final() bool {
	switch s {
	case CommandConfirmed, CommandUnconfirmed, CommandFailed, CommandAborted:
		return true
	}
	return false
}

// CommandRequest is what a caller asks of an entity. It is the body of
// POST /api/entities/{id}/command and of hubd/entity/<id>/set. Pointer
// fields are "not set" when nil.
type CommandRequest struct {
	// State is "ON", "OFF" or "TOGGLE" (switch, light, fan, …), "OPEN",
	// "CLOSE", "STOP" (cover, valve), "LOCK"/"UNLOCK"/"OPEN" (lock), or a
	// climate mode.
	State       *string  `json:"state,omitempty"`
	Brightness  *int     `json:"brightness,omitempty"`
	ColorTemp   *int     `json:"color_temp,omitempty"`
	Position    *int     `json:"position,omitempty"`
	Temperature *float64 `json:"temperature,omitempty"`
	// Value is the number for a number entity.
	Value *float64 `json:"value,omitempty"`
	// Option is the option for a select entity.
	Option *string `json:"option,omitempty"`
	// Percentage is a fan's speed, 0-100.
	Percentage *int `json:"percentage,omitempty"`
	// Press presses a button.
	Press bool `json:"press,omitempty"`
}

// CommandMessage is one MQTT message a command publishes.
type CommandMessage struct {
	Topic   string `json:"topic"`
	Payload string `json:"payload"`
}

// Command is a request on its way to a device.
type Command struct {
	ID       string         `json:"id"`
	EntityID string         `json:"entity_id"`
	Request  CommandRequest `json:"request"`
	// Topic and Payload are what was (or will be) published first.
	Topic   string `json:"topic"`
	Payload string `json:"payload"`
	// Messages lists every message, in order, when the request needs more
	// than one (a light turned on with a brightness through separate
	// topics, say).
	Messages []CommandMessage `json:"messages,omitempty"`
	Status   CommandStatus    `json:"status"`
	// Reason explains a failed, unconfirmed or aborted command.
	Reason    string    `json:"reason,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Candidate is a device seen on the network (mDNS) but not necessarily
// over MQTT.
type Candidate struct {
	// Instance is the mDNS service instance name.
	Instance string `json:"instance"`
	// Service is the service type, e.g. "_shelly._tcp".
	Service   string            `json:"service"`
	Host      string            `json:"host"`
	Addresses []string          `json:"addresses"`
	Port      int               `json:"port"`
	Model     string            `json:"model,omitempty"`
	TXT       map[string]string `json:"txt,omitempty"`
	LastSeen  time.Time         `json:"last_seen"`
}

// DeviceFilter selects devices. Nil fields match everything.
type DeviceFilter struct {
	Status *Status
}

// DeviceService reads and manages devices. Errors carry codes: ENOTFOUND
// for an unknown id, EINVALID for a bad argument.
type DeviceService interface {
	FindDevices(ctx context.Context, filter DeviceFilter) ([]Device, error)
	FindDevice(ctx context.Context, id string) (Device, error)
	// Pair accepts a device: it may then publish its state topics and
	// receive its commands. ENOTFOUND.
	Pair(ctx context.Context, id string) (Device, error)
	// Unpair returns a device to pending and withdraws its access.
	Unpair(ctx context.Context, id string) (Device, error)
	// Ignore declines a device.
	Ignore(ctx context.Context, id string) (Device, error)
	// DeleteDevice forgets a device and its entities, and clears its
	// retained discovery configurations. ENOTFOUND.
	DeleteDevice(ctx context.Context, id string) error
}

// EntityService reads entities with their state. ENOTFOUND.
type EntityService interface {
	FindEntities(ctx context.Context) ([]EntityView, error)
	FindEntity(ctx context.Context, id string) (EntityView, error)
}

// CommandService is the one path for every command, whoever asks.
// Send records the command before publishing it and returns at once with
// the command's id; its status then moves on its own. ENOTFOUND for an
// unknown entity, EINVALID for a request the entity cannot take,
// ECONFLICT for an entity that is not paired or is unsupported.
type CommandService interface {
	Send(ctx context.Context, entityID string, req CommandRequest) (Command, error)
	FindCommand(ctx context.Context, id string) (Command, error)
}

// NetworkService lists what mDNS found on the LAN.
type NetworkService interface {
	Candidates(ctx context.Context) ([]Candidate, error)
}

// String returns the request as JSON, for logs and messages.
func (r CommandRequest) String() string {
	b, _ := json.Marshal(r)
	return string(b)
}
