package discovery

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"hubd/devices"
)

// MaxPayload is the largest discovery config payload ParseAnnouncement
// accepts, in bytes.
const MaxPayload = 256 << 10

// requiredOptions lists, for each platform Home Assistant's MQTT discovery
// supports, the options its schema requires. A platform missing here is
// unknown.
var requiredOptions = map[string][]string{
	"alarm_control_panel": {"state_topic", "command_topic"},
	"binary_sensor":       {"state_topic"},
	"button":              {"command_topic"},
	"camera":              {"topic"},
	"climate":             nil,
	"cover":               nil,
	"device_automation":   {"automation_type", "topic", "type", "subtype"},
	"device_tracker":      nil,
	"event":               {"state_topic", "event_types"},
	"fan":                 {"command_topic"},
	"humidifier":          {"command_topic", "target_humidity_command_topic"},
	"image":               nil,
	"lawn_mower":          nil,
	"light":               {"command_topic"},
	"lock":                {"command_topic"},
	"notify":              {"command_topic"},
	"number":              {"command_topic"},
	"scene":               {"command_topic"},
	"select":              {"command_topic", "options"},
	"sensor":              {"state_topic"},
	"siren":               {"command_topic"},
	"switch":              {"command_topic"},
	"tag":                 {"topic"},
	"text":                {"command_topic"},
	"update":              nil,
	"vacuum":              nil,
	"valve":               nil,
	"water_heater":        nil,
}

// sharedOptions are the options of a device-based payload's root that each
// component inherits unless it sets them itself (Home Assistant's shared
// options, plus the base topic "~").
var sharedOptions = []string{
	"availability", "availability_mode", "availability_template", "availability_topic",
	"command_topic", "encoding", "payload_available", "payload_not_available", "qos", "state_topic", "~",
}

// availabilityOptions are inherited together or not at all: a component
// with its own availability list or topic keeps only its own (Home
// Assistant would reject a component that ends up with both forms).
var availabilityOptions = map[string]bool{
	"availability": true, "availability_topic": true, "availability_template": true,
	"payload_available": true, "payload_not_available": true,
}

// Topic is a parsed discovery config topic.
type Topic struct {
	Prefix string
	// Component is the platform ("light", "sensor", …), or "device" for
	// device-based discovery.
	Component string
	NodeID    string
	ObjectID  string
}

// String returns the config topic t was parsed from.
func (t Topic) String() string {
	var b strings.Builder
	if t.Prefix != "" {
		b.WriteString(t.Prefix)
		b.WriteByte('/')
	}
	b.WriteString(t.Component)
	b.WriteByte('/')
	if t.NodeID != "" {
		b.WriteString(t.NodeID)
		b.WriteByte('/')
	}
	b.WriteString(t.ObjectID)
	b.WriteString("/config")
	return b.String()
}

// ParseTopic parses "<prefix>/<component>/[<node_id>/]<object_id>/config".
// ok is false for topics that are not config topics (state topics, the
// status topic, topics outside prefix). err, an EINVALID *devices.Error, is
// non-nil for a config topic with an unknown component, ids outside
// [a-zA-Z0-9_-] or too many levels; ok is then true.
func ParseTopic(prefix, topic string) (t Topic, ok bool, err error) {
	rest := topic
	if prefix != "" {
		if !strings.HasPrefix(topic, prefix+"/") {
			return Topic{}, false, nil
		}
		rest = topic[len(prefix)+1:]
	}
	levels := strings.Split(rest, "/")
	n := len(levels)
	if n < 3 || levels[n-1] != "config" {
		return Topic{}, false, nil
	}
	t = Topic{Prefix: prefix, Component: levels[0], ObjectID: levels[n-2]}
	if n == 4 {
		t.NodeID = levels[1]
	}
	fail := func(format string, args ...any) (Topic, bool, error) {
		return t, true, devices.Errorf(devices.EINVALID, "discovery topic %q: %s", topic, fmt.Sprintf(format, args...))
	}
	if n > 4 {
		return fail("%d levels after the prefix; want <component>/[<node_id>/]<object_id>/config", n)
	}
	if _, known := requiredOptions[t.Component]; !known && t.Component != "device" {
		return fail("unknown component %q", t.Component)
	}
	if n == 4 && !validID(t.NodeID) {
		return fail("node_id %q has characters outside [a-zA-Z0-9_-]", t.NodeID)
	}
	if !validID(t.ObjectID) {
		return fail("object_id %q has characters outside [a-zA-Z0-9_-]", t.ObjectID)
	}
	return t, true, nil
}

func validID(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Announcement is what one config payload says.
type Announcement struct {
	Topic Topic
	// Device comes from the "device" ("dev") block, nil if there is none.
	// Its ID derives from the first identifier (or connection, or the
	// topic's node_id or object_id); its Origin from "origin" ("o").
	Device *devices.Device
	// Entities: one for per-entity discovery; for device-based discovery
	// one per component of "components" ("cmps"), in key order, each with
	// the root's shared options merged in (the component's own win).
	Entities []devices.Entity
	// Removed lists, for device-based discovery, the component keys whose
	// configuration is only a platform ("p"): Home Assistant removes them.
	Removed []string
	// Migrate is set for a payload that is only {"migrate_discovery":
	// true}: the entities announced on this topic are being moved to
	// another discovery topic (per-entity to device-based or back). The
	// payload carries nothing else.
	Migrate bool
}

// ParseAnnouncement parses a non-empty config payload (an empty payload
// is a removal, which the caller handles). Errors are EINVALID
// *devices.Error whose message names the topic and the problem.
//
// Every abbreviation is expanded (in "device", "origin", availability
// items and components too) and "~" substituted, so each Entity.Config
// holds full option names and absolute topics.
func ParseAnnouncement(t Topic, payload []byte) (Announcement, error) {
	topic := t.String()
	fail := func(format string, args ...any) (Announcement, error) {
		return Announcement{Topic: t}, devices.Errorf(devices.EINVALID, "discovery payload on %q: %s", topic, fmt.Sprintf(format, args...))
	}
	if _, known := requiredOptions[t.Component]; !known && t.Component != "device" {
		return fail("unknown component %q", t.Component)
	}
	if len(payload) == 0 {
		return fail("empty payload: that is a removal, not an announcement")
	}
	if len(payload) > MaxPayload {
		return fail("payload is %d bytes, more than the %d allowed", len(payload), MaxPayload)
	}
	root, err := decodeObject(payload)
	if err != nil {
		return fail("%v", err)
	}
	if len(root) == 1 && (root["migrate_discovery"] == true || root["migr_discvry"] == true) {
		return Announcement{Topic: t, Migrate: true}, nil
	}
	p := &announcementParser{t: t, topic: topic}
	var a Announcement
	if t.Component == "device" {
		a, err = p.parseDevice(root)
	} else {
		a, err = p.parseSingle(root)
	}
	if err != nil {
		return fail("%v", err)
	}
	return a, nil
}

// decodeObject decodes a payload that must be one JSON object; numbers
// stay json.Number until the parts that need them are read.
func decodeObject(payload []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			return nil, fmt.Errorf("bad JSON at offset %d: %s", max(se.Offset-1, 0), se.Error())
		case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
			return nil, fmt.Errorf("bad JSON at offset %d: unexpected end of input", len(payload))
		}
		return nil, fmt.Errorf("bad JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("bad JSON at offset %d: data after the JSON value", dec.InputOffset())
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the payload is a JSON %s, not an object", jsonKind(v))
	}
	return m, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number, float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

type announcementParser struct {
	t     Topic
	topic string
}

func (p *announcementParser) parseSingle(root map[string]any) (Announcement, error) {
	a := Announcement{Topic: p.t}
	cfg := expandPayload(root, false)
	replaceTopicBase(cfg)
	dev, err := p.device(cfg, false)
	if err != nil {
		return a, err
	}
	if err := validateConfig(p.t.Component, cfg); err != nil {
		return a, err
	}
	e, err := p.entity(p.t.Component, p.t.ObjectID, cfg, dev, false)
	if err != nil {
		return a, err
	}
	if dev != nil {
		dev.Entities = []string{e.ID}
	}
	a.Device, a.Entities = dev, []devices.Entity{e}
	return a, nil
}

func (p *announcementParser) parseDevice(root map[string]any) (Announcement, error) {
	a := Announcement{Topic: p.t}
	cfg := expandPayload(root, false)
	if _, ok := cfg["device"]; !ok {
		return a, errors.New(`device-based discovery needs a "device" ("dev") object`)
	}
	if _, ok := cfg["origin"]; !ok {
		return a, errors.New(`device-based discovery needs an "origin" ("o") object`)
	}
	dev, err := p.device(cfg, true)
	if err != nil {
		return a, err
	}
	rawCmps, ok := cfg["components"]
	if !ok {
		return a, errors.New(`device-based discovery needs a "components" ("cmps") object`)
	}
	cmps, ok := rawCmps.(map[string]any)
	if !ok {
		return a, fmt.Errorf(`"components" is a JSON %s, not an object`, jsonKind(rawCmps))
	}
	keys := make([]string, 0, len(cmps))
	for k := range cmps {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	seen := map[string]bool{}
	for _, key := range keys {
		c, ok := cmps[key].(map[string]any)
		if !ok {
			return a, fmt.Errorf("component %q is a JSON %s, not an object", key, jsonKind(cmps[key]))
		}
		platform, ok := c["platform"].(string)
		if !ok {
			return a, fmt.Errorf(`component %q has no "platform" ("p")`, key)
		}
		if _, known := requiredOptions[platform]; !known {
			return a, fmt.Errorf("component %q: unknown platform %q", key, platform)
		}
		if len(c) == 1 {
			a.Removed = append(a.Removed, key)
			continue
		}
		cc := make(map[string]any, len(c)+len(sharedOptions)+2)
		for k, v := range c {
			if k != "platform" {
				cc[k] = v
			}
		}
		_, ownList := cc["availability"]
		_, ownTopic := cc["availability_topic"]
		for _, opt := range sharedOptions {
			if (ownList || ownTopic) && availabilityOptions[opt] {
				continue // a component's own availability replaces the shared one
			}
			if _, own := cc[opt]; !own {
				if v, ok := cfg[opt]; ok {
					cc[opt] = deepCopy(v)
				}
			}
		}
		cc["device"] = deepCopy(cfg["device"])
		cc["origin"] = deepCopy(cfg["origin"])
		replaceTopicBase(cc)
		if err := validateConfig(platform, cc); err != nil {
			return a, fmt.Errorf("component %q: %v", key, err)
		}
		if platform != "device_automation" && platform != "tag" {
			if _, ok := cc["unique_id"]; !ok {
				return a, fmt.Errorf(`component %q: "unique_id" is required in device-based discovery`, key)
			}
		}
		e, err := p.entity(platform, key, cc, dev, true)
		if err != nil {
			return a, fmt.Errorf("component %q: %v", key, err)
		}
		for n, base := 2, e.ID; seen[e.ID]; n++ {
			e.ID = fmt.Sprintf("%s_%d", base, n)
		}
		seen[e.ID] = true
		a.Entities = append(a.Entities, e)
		dev.Entities = append(dev.Entities, e.ID)
	}
	a.Device = dev
	return a, nil
}
