package discovery

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"hubd/devices"
)

// payloadNone is the payload Home Assistant reads as "state unknown".
const payloadNone = "None"

// Codec reads an entity's state and builds its commands, with Home
// Assistant's semantics and defaults for each platform. Compile it once
// per entity with NewCodec; it is read-only afterwards and safe for
// concurrent use.
//
// State attributes it maintains: light: brightness (0-255), color_temp
// (mireds), color_mode, color (JSON schema), rgb_color, hs_color,
// xy_color, effect; cover and valve: position (0-100), tilt_position;
// climate: current_temperature, temperature, target_temp_low,
// target_temp_high, hvac_action, fan_mode, preset_mode, swing_mode,
// current_humidity, humidity; fan: percentage, preset_mode, oscillating,
// direction. json_attributes_topic merges its JSON object's keys into
// Attributes, except those and Home Assistant's blocked ones (keys a later
// message omits stay).
//
// Not modelled: expire_after, off_delay, optimistic mode, light effects,
// colors and white commands, cover tilt commands, climate fan/swing/preset
// and humidity commands, fan preset/oscillation/direction commands.
type Codec struct {
	id, component string
	cfg           map[string]any
	routes        map[string][]route
	stateTopics   []string
	cmdTopics     []string
	avail         []Availability
	availMode     string
	managed       map[string]bool // attributes the platform owns
	vars          map[string]any  // template variables: entity_id, name
	retain        bool
	command       commander
	problems      []error  // why the entity cannot be read or commanded
	warnings      []string // optional parts that were left out
}

// route handles a message on one state topic.
type route func(st *devices.State, m *stateMsg) (changed bool, err error)

// commander builds a command's messages.
type commander func(req devices.CommandRequest, cur devices.State) ([]Message, string, map[string]any, error)

// stateMsg is a message being applied; value_json is parsed at most once.
type stateMsg struct {
	topic    string
	payload  []byte
	json     any
	jsonDone bool
}

func (m *stateMsg) valueJSON() any {
	if !m.jsonDone {
		m.jsonDone = true
		if v, ok := parseJSONValue(m.payload); ok {
			m.json = v
		} else {
			m.json = undefinedValueJSON
		}
	}
	return m.json
}

// Message is one MQTT message a command publishes.
type Message struct {
	Topic   string
	Payload []byte
	// Retain is the entity's "retain" option.
	Retain bool
}

// Availability is one availability topic of an entity.
type Availability struct {
	Topic               string
	PayloadAvailable    string
	PayloadNotAvailable string
	// Template, when set, maps the payload before comparing it.
	Template *Template
}

// NewCodec compiles e's templates and prepares its topics. It always
// returns a usable Codec. A non-nil error wraps ErrUnsupported (and
// ErrUnsupportedTemplate when a template is the reason): hubd cannot read
// or command the entity faithfully, and the error says why.
func NewCodec(e devices.Entity) (*Codec, error) {
	c := &Codec{
		id:        e.ID,
		component: e.Component,
		cfg:       e.Config,
		routes:    map[string][]route{},
		managed:   map[string]bool{},
		availMode: "latest",
	}
	if c.cfg == nil {
		c.cfg = map[string]any{}
	}
	c.vars = map[string]any{"entity_id": e.ID, "name": e.Name}
	c.retain = c.boolean("retain", false)
	c.setupAvailability()
	switch e.Component {
	case "switch":
		c.setupSwitch()
	case "binary_sensor":
		c.setupBinarySensor()
	case "sensor":
		c.setupSensor()
	case "light":
		switch c.str("schema", "basic") {
		case "json":
			c.setupJSONLight()
		case "template":
			c.problems = append(c.problems, fmt.Errorf("%w: lights with the template schema are not supported", ErrUnsupported))
		default:
			c.setupBasicLight()
		}
	case "cover":
		c.setupCover()
	case "valve":
		c.setupValve()
	case "climate":
		c.setupClimate()
	case "lock":
		c.setupLock()
	case "button":
		c.setupButton()
	case "number":
		c.setupNumber()
	case "select":
		c.setupSelect()
	case "fan":
		c.setupFan()
	default:
		c.problems = append(c.problems, fmt.Errorf("%w: hubd does not read or command %s entities yet", ErrUnsupported, e.Component))
	}
	c.setupJSONAttributes()
	c.setupOtherTopics()
	if len(c.problems) == 0 {
		return c, nil
	}
	return c, &codecError{id: c.id, errs: c.problems}
}

// codecError lists why an entity is unsupported.
type codecError struct {
	id   string
	errs []error
}

func (e *codecError) Error() string {
	msgs := make([]string, len(e.errs))
	for i, err := range e.errs {
		msgs[i] = err.Error()
	}
	return e.id + ": " + strings.Join(msgs, "; ")
}

func (e *codecError) Unwrap() []error { return e.errs }

// StateTopics returns every topic whose messages change the entity's
// state or attributes, plus the other non-command topics of its
// configuration (effect_state_topic, action_topic, …) whose messages
// Apply accepts and ignores. Availability topics are not included.
func (c *Codec) StateTopics() []string { return append([]string(nil), c.stateTopics...) }

// CommandTopics returns the topics the entity's commands go to: every
// *command_topic and set_position_topic of its configuration.
func (c *Codec) CommandTopics() []string { return append([]string(nil), c.cmdTopics...) }

// Availability returns the entity's availability topics, from
// availability_topic or the availability list, with Home Assistant's
// defaults ("online", "offline"), and the mode: "latest" (the default),
// "all" or "any".
func (c *Codec) Availability() (items []Availability, mode string) {
	return append([]Availability(nil), c.avail...), c.availMode
}

// Warnings lists optional parts of the configuration the codec leaves
// out (an availability or attribute template it cannot translate, say).
func (c *Codec) Warnings() []string { return append([]string(nil), c.warnings...) }

// Apply updates st, the entity's current state, with a message on one of
// StateTopics. changed reports whether State or Attributes changed. A
// payload that does not match what the entity expects leaves st entirely
// unchanged and returns an EINVALID *devices.Error naming the entity, the
// topic and the value. Messages on topics hubd does not interpret
// (effect_state_topic, say) change nothing and are no error. Apply does
// not touch Available, LastChanged or LastUpdated.
func (c *Codec) Apply(st *devices.State, topic string, payload []byte) (changed bool, err error) {
	rs, ok := c.routes[topic]
	if !ok {
		return false, devices.Errorf(devices.EINVALID, "%s: %q is not one of its state topics", c.id, topic)
	}
	m := &stateMsg{topic: topic, payload: payload}
	// Work on a copy so that a message with an error changes nothing.
	work := *st
	if st.Attributes != nil {
		work.Attributes = make(map[string]any, len(st.Attributes))
		for k, v := range st.Attributes {
			work.Attributes[k] = v
		}
	}
	var msgs []string
	for _, r := range rs {
		ch, err := r(&work, m)
		changed = changed || ch
		if err != nil {
			msgs = append(msgs, err.Error())
		}
	}
	if len(msgs) > 0 {
		return false, devices.Errorf(devices.EINVALID, "%s: %s", c.id, strings.Join(msgs, "; "))
	}
	if changed {
		*st = work
	}
	return changed, nil
}

// Commands maps a request to the messages to publish, in order, and to
// what confirms it: expect is the State the entity should reach (empty:
// nothing to confirm, e.g. a button press) and expectAttr attributes it
// should report. Errors are EINVALID *devices.Error naming the entity.
func (c *Codec) Commands(req devices.CommandRequest, cur devices.State) (msgs []Message, expect string, expectAttr map[string]any, err error) {
	if c.command == nil {
		return nil, "", nil, devices.Errorf(devices.EINVALID, "%s: %s entities take no commands in hubd", c.id, c.component)
	}
	if len(requestFields(req)) == 0 {
		return nil, "", nil, devices.Errorf(devices.EINVALID, "%s: empty command", c.id)
	}
	return c.command(req, cur)
}

// Command is Commands for requests that need exactly one message, which
// is all but a few: turning a light on with a brightness (or a fan with a
// percentage, a thermostat's mode with a temperature) through separate
// command topics needs two, and Command refuses those with EINVALID
// naming both topics; send the parts as separate requests.
func (c *Codec) Command(req devices.CommandRequest, cur devices.State) (topic string, payload []byte, expect string, expectAttr map[string]any, err error) {
	msgs, expect, expectAttr, err := c.Commands(req, cur)
	if err != nil {
		return "", nil, "", nil, err
	}
	if len(msgs) != 1 {
		topics := make([]string, len(msgs))
		for i, m := range msgs {
			topics[i] = strconv.Quote(m.Topic)
		}
		return "", nil, "", nil, devices.Errorf(devices.EINVALID,
			"%s: this request needs %d messages (to %s); send its parts as separate requests", c.id, len(msgs), strings.Join(topics, " then "))
	}
	return msgs[0].Topic, msgs[0].Payload, expect, expectAttr, nil
}

// on registers r for the topic in option key, if the entity has one.
func (c *Codec) on(key string, r route) bool {
	t := c.topic(key)
	if t == "" {
		return false
	}
	if _, ok := c.routes[t]; !ok {
		c.stateTopics = append(c.stateTopics, t)
	}
	c.routes[t] = append(c.routes[t], r)
	return true
}

func isCommandTopicKey(k string) bool {
	return k == "command_topic" || strings.HasSuffix(k, "_command_topic") ||
		k == "set_position_topic" || k == "set_fan_speed_topic" || k == "send_command_topic"
}

// setupOtherTopics collects command topics and gives every other topic
// option a route that ignores its messages, so StateTopics lists all the
// topics the device publishes.
func (c *Codec) setupOtherTopics() {
	keys := make([]string, 0, len(c.cfg))
	for k := range c.cfg {
		if strings.HasSuffix(k, "topic") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	cmd := map[string]bool{}
	for _, k := range keys {
		t := c.topic(k)
		switch {
		case t == "" || k == "availability_topic":
		case isCommandTopicKey(k):
			if !cmd[t] {
				cmd[t] = true
				c.cmdTopics = append(c.cmdTopics, t)
			}
		default:
			c.on(k, func(*devices.State, *stateMsg) (bool, error) { return false, nil })
		}
	}
}

func (c *Codec) setupAvailability() {
	if m := c.str("availability_mode", "latest"); m == "all" || m == "any" {
		c.availMode = m
	}
	on, off := c.str("payload_available", "online"), c.str("payload_not_available", "offline")
	if t := c.topic("availability_topic"); t != "" {
		c.avail = append(c.avail, Availability{Topic: t, PayloadAvailable: on, PayloadNotAvailable: off, Template: c.tpl("availability_template", false)})
	}
	raw := c.cfg["availability"]
	items, ok := raw.([]any)
	if !ok && raw != nil {
		items = []any{raw}
	}
	for _, item := range items {
		im, ok := item.(map[string]any)
		if !ok {
			continue
		}
		t, _ := im["topic"].(string)
		if t == "" {
			continue
		}
		sub := &Codec{id: c.id, cfg: im}
		a := Availability{
			Topic:               t,
			PayloadAvailable:    sub.str("payload_available", "online"),
			PayloadNotAvailable: sub.str("payload_not_available", "offline"),
			Template:            sub.tpl("value_template", false),
		}
		c.warnings = append(c.warnings, sub.warnings...)
		c.avail = append(c.avail, a)
	}
}

// attributesBlocked are keys json_attributes_topic may not set, as in
// Home Assistant, plus "state".
var attributesBlocked = map[string]bool{
	"assumed_state": true, "available": true, "device_class": true, "entity_picture": true,
	"friendly_name": true, "icon": true, "supported_features": true, "unit_of_measurement": true,
	"state": true, "entity_id": true, "last_changed": true, "last_updated": true,
}

func (c *Codec) setupJSONAttributes() {
	tpl := c.tpl("json_attributes_template", false)
	if c.cfg["json_attributes_template"] != nil && tpl == nil {
		return
	}
	c.on("json_attributes_topic", func(st *devices.State, m *stateMsg) (bool, error) {
		out, err := c.render(tpl, m, nil)
		if err != nil {
			return false, err
		}
		var attrs map[string]any
		if err := json.Unmarshal([]byte(out), &attrs); err != nil || attrs == nil {
			return false, fmt.Errorf("json_attributes: payload %q on %q is not a JSON object", truncate(out, 60), m.topic)
		}
		changed := false
		for k, v := range attrs {
			if attributesBlocked[k] || c.managed[k] {
				continue
			}
			changed = setAttr(st, k, v) || changed
		}
		return changed, nil
	})
}

// tpl compiles the template in option key, nil if there is none or it
// cannot be translated. An essential template's failure makes the entity
// unsupported; another's is a warning.
func (c *Codec) tpl(key string, essential bool) *Template {
	src, ok := c.cfg[key].(string)
	if !ok || src == "" {
		return nil
	}
	t, err := CompileTemplate(src)
	if err != nil {
		if essential {
			c.problems = append(c.problems, fmt.Errorf("%s: %w", key, err))
		} else {
			c.warnings = append(c.warnings, key+": "+err.Error())
		}
		return nil
	}
	return t
}

// failed reports whether option key holds a template that did not compile.
func (c *Codec) failed(key string, t *Template) bool {
	s, ok := c.cfg[key].(string)
	return ok && s != "" && t == nil
}

// render maps a state message through t (the payload itself without one).
func (c *Codec) render(t *Template, m *stateMsg, extra map[string]any) (string, error) {
	if t == nil {
		return string(m.payload), nil
	}
	vars := c.vars
	if len(extra) > 0 {
		vars = make(map[string]any, len(c.vars)+len(extra))
		for k, v := range c.vars {
			vars[k] = v
		}
		for k, v := range extra {
			vars[k] = tplNormalize(v)
		}
	}
	var vj any = undefinedValueJSON
	if t.usesJSON {
		vj = m.valueJSON()
	}
	out, err := t.render(string(m.payload), vj, vars)
	if err != nil {
		return "", fmt.Errorf("payload %q on %q: %v", truncate(string(m.payload), 60), m.topic, err)
	}
	return out, nil
}

// renderCommand renders a command template with value; without one the
// payload is str(value), as Home Assistant publishes it.
func (c *Codec) renderCommand(key string, t *Template, value any, extra map[string]any) ([]byte, error) {
	if c.failed(key, t) {
		return nil, devices.Errorf(devices.EINVALID, "%s: its %s cannot be translated", c.id, key)
	}
	if t == nil {
		return []byte(pyStr(tplNormalize(value))), nil
	}
	vars := make(map[string]any, len(c.vars)+len(extra)+1)
	for k, v := range c.vars {
		vars[k] = v
	}
	for k, v := range extra {
		vars[k] = tplNormalize(v)
	}
	vars["value"] = tplNormalize(value)
	out, err := t.render(vars["value"], undefinedValueJSON, vars)
	if err != nil {
		return nil, devices.Errorf(devices.EINVALID, "%s: %s: %v", c.id, key, err)
	}
	return []byte(out), nil
}

func (c *Codec) msg(topicKey string, payload []byte) Message {
	return Message{Topic: c.topic(topicKey), Payload: payload, Retain: c.retain}
}

func (c *Codec) invalid(format string, args ...any) error {
	return devices.Errorf(devices.EINVALID, "%s: %s", c.id, fmt.Sprintf(format, args...))
}
