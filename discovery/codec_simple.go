package discovery

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"hubd/devices"
)

// This file holds the platforms with one state topic: switch,
// binary_sensor, sensor, lock, button, number and select.

func (c *Codec) setupSwitch() {
	payloadOn, payloadOff := c.str("payload_on", "ON"), c.str("payload_off", "OFF")
	stateOn, stateOff := c.str("state_on", payloadOn), c.str("state_off", payloadOff)
	vt := c.tpl("value_template", true)
	hasState := !c.failed("value_template", vt) && c.on("state_topic", func(st *devices.State, m *stateMsg) (bool, error) {
		v, err := c.render(vt, m, nil)
		if err != nil {
			return false, err
		}
		return applyOnOff(st, v, stateOn, stateOff, m)
	})
	ct := c.tpl("command_template", true)
	c.command = func(req devices.CommandRequest, cur devices.State) ([]Message, string, map[string]any, error) {
		if err := c.onlyFields(req, "state"); err != nil {
			return nil, "", nil, err
		}
		var payload string
		s := toggled(requestState(req), cur)
		switch s {
		case "ON":
			payload = payloadOn
		case "OFF":
			payload = payloadOff
		default:
			return nil, "", nil, c.invalid("state %q: a switch takes ON, OFF or TOGGLE", *req.State)
		}
		p, err := c.renderCommand("command_template", ct, payload, nil)
		if err != nil {
			return nil, "", nil, err
		}
		return []Message{c.msg("command_topic", p)}, expectIf(hasState, s), nil, nil
	}
}

// expectIf is s when the entity reports the state that would confirm it.
func expectIf(reported bool, s string) string {
	if reported {
		return s
	}
	return ""
}

func (c *Codec) setupBinarySensor() {
	on, off := c.str("payload_on", "ON"), c.str("payload_off", "OFF")
	vt := c.tpl("value_template", true)
	if c.failed("value_template", vt) {
		return
	}
	c.on("state_topic", func(st *devices.State, m *stateMsg) (bool, error) {
		v, err := c.render(vt, m, nil)
		if err != nil {
			return false, err
		}
		if strings.TrimSpace(v) == "" {
			return false, nil
		}
		return applyOnOff(st, v, on, off, m)
	})
}

// numericSensor reports whether Home Assistant expects the sensor's state
// to be a number: it has a state class, a unit, a display precision or a
// numeric device class.
func (c *Codec) numericSensor() bool {
	if c.str("state_class", "") != "" || c.str("unit_of_measurement", "") != "" {
		return true
	}
	if _, ok := c.cfg["suggested_display_precision"]; ok {
		return true
	}
	switch dc := c.str("device_class", ""); dc {
	case "", "date", "enum", "timestamp":
		return false
	}
	return true
}

func (c *Codec) setupSensor() {
	vt := c.tpl("value_template", true)
	if c.failed("value_template", vt) {
		return
	}
	numeric := c.numericSensor()
	c.on("state_topic", func(st *devices.State, m *stateMsg) (bool, error) {
		v, err := c.render(vt, m, nil)
		if err != nil {
			return false, err
		}
		switch {
		case v == payloadNone:
			return setState(st, ""), nil
		case numeric && strings.TrimSpace(v) == "":
			return false, nil
		case numeric:
			if _, _, ok := parseNumber(v); !ok {
				return false, fmt.Errorf("payload %q on %q is not a number, and the sensor is numeric", truncate(v, 60), m.topic)
			}
		}
		return setState(st, v), nil
	})
}

// lockStates maps a lock's state options to hubd's states.
var lockStates = []struct{ key, def, state string }{
	{"state_locked", "LOCKED", "LOCKED"},
	{"state_unlocked", "UNLOCKED", "UNLOCKED"},
	{"state_locking", "LOCKING", "LOCKING"},
	{"state_unlocking", "UNLOCKING", "UNLOCKING"},
	{"state_jammed", "MOTOR_JAMMED", "JAMMED"},
	{"state_open", "OPEN", "OPEN"},
	{"state_opening", "OPENING", "OPENING"},
}

func (c *Codec) setupLock() {
	vt := c.tpl("value_template", true)
	payloads := map[string]string{}
	for _, s := range lockStates {
		payloads[c.str(s.key, s.def)] = s.state
	}
	reset := c.str("payload_reset", payloadNone)
	hasState := !c.failed("value_template", vt) && c.on("state_topic", func(st *devices.State, m *stateMsg) (bool, error) {
		v, err := c.render(vt, m, nil)
		if err != nil {
			return false, err
		}
		if s, ok := payloads[v]; ok {
			return setState(st, s), nil
		}
		switch v {
		case reset:
			return setState(st, ""), nil
		case "":
			return false, nil
		}
		return false, fmt.Errorf("payload %q on %q is not a lock state", truncate(v, 60), m.topic)
	})
	ct := c.tpl("command_template", true)
	c.command = func(req devices.CommandRequest, cur devices.State) ([]Message, string, map[string]any, error) {
		if err := c.onlyFields(req, "state"); err != nil {
			return nil, "", nil, err
		}
		var payload, expect string
		switch s := requestState(req); s {
		case "LOCK":
			payload, expect = c.str("payload_lock", "LOCK"), "LOCKED"
		case "UNLOCK":
			payload, expect = c.str("payload_unlock", "UNLOCK"), "UNLOCKED"
		case "OPEN":
			p, ok := c.cfg["payload_open"]
			if !ok || p == nil {
				return nil, "", nil, c.invalid("this lock cannot open (it has no payload_open)")
			}
			payload, expect = scalarString(p), "OPEN"
		default:
			return nil, "", nil, c.invalid("state %q: a lock takes LOCK, UNLOCK or OPEN", *req.State)
		}
		p, err := c.renderCommand("command_template", ct, payload, nil)
		if err != nil {
			return nil, "", nil, err
		}
		return []Message{c.msg("command_topic", p)}, expectIf(hasState, expect), nil, nil
	}
}

func (c *Codec) setupButton() {
	ct := c.tpl("command_template", true)
	c.command = func(req devices.CommandRequest, cur devices.State) ([]Message, string, map[string]any, error) {
		if err := c.onlyFields(req, "press", "state"); err != nil {
			return nil, "", nil, err
		}
		if req.State != nil && requestState(req) != "PRESS" {
			return nil, "", nil, c.invalid("state %q: a button takes only PRESS", *req.State)
		}
		p, err := c.renderCommand("command_template", ct, c.str("payload_press", "PRESS"), nil)
		if err != nil {
			return nil, "", nil, err
		}
		return []Message{c.msg("command_topic", p)}, "", nil, nil
	}
}

// numberText formats a number entity's value as Home Assistant keeps it:
// an int when integral and written as one, a float otherwise.
func numberText(f float64, isInt bool) string {
	return formatNumber(f, isInt)
}

func (c *Codec) setupNumber() {
	lo, hi := c.float("min", 1), c.float("max", 100)
	reset := c.str("payload_reset", payloadNone)
	vt := c.tpl("value_template", true)
	hasState := !c.failed("value_template", vt) && c.on("state_topic", func(st *devices.State, m *stateMsg) (bool, error) {
		v, err := c.render(vt, m, nil)
		if err != nil {
			return false, err
		}
		if v == reset {
			return setState(st, ""), nil
		}
		f, isInt, ok := parseNumber(v)
		if !ok {
			return false, fmt.Errorf("payload %q on %q is not a number", truncate(v, 60), m.topic)
		}
		if f < lo || f > hi {
			return false, fmt.Errorf("value %s on %q is outside %s-%s", v, m.topic, formatNumber(lo, true), formatNumber(hi, true))
		}
		return setState(st, numberText(f, isInt)), nil
	})
	ct := c.tpl("command_template", true)
	c.command = func(req devices.CommandRequest, cur devices.State) ([]Message, string, map[string]any, error) {
		if err := c.onlyFields(req, "value"); err != nil {
			return nil, "", nil, err
		}
		v := *req.Value
		if math.IsNaN(v) || v < lo || v > hi {
			return nil, "", nil, c.invalid("value %s is out of %s-%s", strconv.FormatFloat(v, 'g', -1, 64), formatNumber(lo, true), formatNumber(hi, true))
		}
		var value any = v
		isInt := v == math.Trunc(v) && math.Abs(v) < 1e15
		if isInt {
			value = int64(v)
		}
		p, err := c.renderCommand("command_template", ct, value, nil)
		if err != nil {
			return nil, "", nil, err
		}
		return []Message{c.msg("command_topic", p)}, expectIf(hasState, numberText(v, isInt)), nil, nil
	}
}

func (c *Codec) setupSelect() {
	options := c.list("options", nil)
	valid := func(o string) bool {
		for _, x := range options {
			if x == o {
				return true
			}
		}
		return false
	}
	vt := c.tpl("value_template", true)
	hasState := !c.failed("value_template", vt) && c.on("state_topic", func(st *devices.State, m *stateMsg) (bool, error) {
		v, err := c.render(vt, m, nil)
		if err != nil {
			return false, err
		}
		if strings.ToLower(v) == "none" {
			return setState(st, ""), nil
		}
		if !valid(v) {
			return false, fmt.Errorf("payload %q on %q is not one of the options %q", truncate(v, 60), m.topic, options)
		}
		return setState(st, v), nil
	})
	ct := c.tpl("command_template", true)
	c.command = func(req devices.CommandRequest, cur devices.State) ([]Message, string, map[string]any, error) {
		if err := c.onlyFields(req, "option"); err != nil {
			return nil, "", nil, err
		}
		if !valid(*req.Option) {
			return nil, "", nil, c.invalid("option %q is not one of %q", *req.Option, options)
		}
		p, err := c.renderCommand("command_template", ct, *req.Option, nil)
		if err != nil {
			return nil, "", nil, err
		}
		return []Message{c.msg("command_topic", p)}, expectIf(hasState, *req.Option), nil, nil
	}
}
