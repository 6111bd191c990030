package discovery

import (
	"fmt"
	"math"
	"strings"

	"hubd/devices"
)

// Climate (State is the HVAC mode) and fans (State is ON/OFF).

var hvacActions = []string{"off", "heating", "cooling", "drying", "idle", "fan", "preheating", "defrosting"}

// choiceRoute reads a value that must be one of choices (or "None",
// which removes the attribute) into attr.
func (c *Codec) choiceRoute(key, tplKey, attr string, choices []string, essential bool) bool {
	t := c.tpl(tplKey, essential)
	if c.failed(tplKey, t) {
		return false
	}
	return c.on(key, func(st *devices.State, m *stateMsg) (bool, error) {
		v, err := c.render(t, m, nil)
		if err != nil {
			return false, err
		}
		switch {
		case v == "":
			return false, nil
		case strings.EqualFold(v, payloadNone):
			return delAttr(st, attr), nil
		case !contains(choices, v):
			return false, fmt.Errorf("%s %q on %q is not one of %q", attr, truncate(v, 60), m.topic, choices)
		}
		return setAttr(st, attr, v), nil
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// floatAttrRoute reads a number into attr; "None" removes it.
func (c *Codec) floatAttrRoute(key, tplKey, attr string) bool {
	t := c.tpl(tplKey, true)
	if c.failed(tplKey, t) {
		return false
	}
	return c.on(key, func(st *devices.State, m *stateMsg) (bool, error) {
		v, err := c.render(t, m, nil)
		if err != nil {
			return false, err
		}
		v = strings.TrimSpace(v)
		switch v {
		case "":
			return false, nil
		case payloadNone:
			return delAttr(st, attr), nil
		}
		f, _, ok := parseNumber(v)
		if !ok {
			return false, fmt.Errorf("%s %q on %q is not a number", attr, truncate(v, 60), m.topic)
		}
		return setAttr(st, attr, f), nil
	})
}

func (c *Codec) setupClimate() {
	for _, a := range []string{"current_temperature", "temperature", "target_temp_low", "target_temp_high", "hvac_action",
		"fan_mode", "preset_mode", "swing_mode", "current_humidity", "humidity"} {
		c.managed[a] = true
	}
	modes := c.list("modes", []string{"auto", "off", "cool", "heat", "dry", "fan_only"})
	mt := c.tpl("mode_state_template", true)
	hasMode := !c.failed("mode_state_template", mt) && c.on("mode_state_topic", func(st *devices.State, m *stateMsg) (bool, error) {
		v, err := c.render(mt, m, nil)
		if err != nil {
			return false, err
		}
		switch {
		case v == "":
			return false, nil
		case strings.EqualFold(v, payloadNone):
			return setState(st, ""), nil
		case !contains(modes, v):
			return false, fmt.Errorf("mode %q on %q is not one of %q", truncate(v, 60), m.topic, modes)
		}
		return setState(st, v), nil
	})
	c.floatAttrRoute("current_temperature_topic", "current_temperature_template", "current_temperature")
	hasTemp := c.floatAttrRoute("temperature_state_topic", "temperature_state_template", "temperature")
	c.floatAttrRoute("temperature_low_state_topic", "temperature_low_state_template", "target_temp_low")
	c.floatAttrRoute("temperature_high_state_topic", "temperature_high_state_template", "target_temp_high")
	c.floatAttrRoute("current_humidity_topic", "current_humidity_template", "current_humidity")
	c.floatAttrRoute("target_humidity_state_topic", "target_humidity_state_template", "humidity")
	c.choiceRoute("action_topic", "action_template", "hvac_action", hvacActions, false)
	c.choiceRoute("fan_mode_state_topic", "fan_mode_state_template", "fan_mode", c.list("fan_modes", []string{"auto", "low", "medium", "high"}), false)
	c.choiceRoute("swing_mode_state_topic", "swing_mode_state_template", "swing_mode", c.list("swing_modes", []string{"on", "off"}), false)
	c.choiceRoute("preset_mode_state_topic", "preset_mode_value_template", "preset_mode", append(c.list("preset_modes", nil), "none"), false)

	lo, hi := 7.0, 35.0
	if strings.EqualFold(c.str("temperature_unit", ""), "F") {
		lo, hi = 45, 95
	}
	lo, hi = c.float("min_temp", lo), c.float("max_temp", hi)
	modeTpl := c.tpl("mode_command_template", true)
	tempTpl := c.tpl("temperature_command_template", true)
	c.command = func(req devices.CommandRequest, cur devices.State) ([]Message, string, map[string]any, error) {
		if err := c.onlyFields(req, "state", "temperature"); err != nil {
			return nil, "", nil, err
		}
		var (
			msgs   []Message
			expect string
			attrs  map[string]any
		)
		if req.State != nil {
			mode := ""
			for _, m := range modes {
				if strings.EqualFold(m, strings.TrimSpace(*req.State)) {
					mode = m
				}
			}
			if mode == "" {
				return nil, "", nil, c.invalid("mode %q is not one of %q", *req.State, modes)
			}
			if c.topic("mode_command_topic") == "" {
				return nil, "", nil, c.invalid("it has no mode_command_topic")
			}
			p, err := c.renderCommand("mode_command_template", modeTpl, mode, nil)
			if err != nil {
				return nil, "", nil, err
			}
			msgs = append(msgs, c.msg("mode_command_topic", p))
			expect = expectIf(hasMode, mode)
		}
		if req.Temperature != nil {
			t := *req.Temperature
			if math.IsNaN(t) || t < lo || t > hi {
				return nil, "", nil, c.invalid("temperature %s is out of %s-%s", pyFloat(t), pyFloat(lo), pyFloat(hi))
			}
			if c.topic("temperature_command_topic") == "" {
				return nil, "", nil, c.invalid("it has no temperature_command_topic")
			}
			p, err := c.renderCommand("temperature_command_template", tempTpl, t, nil)
			if err != nil {
				return nil, "", nil, err
			}
			msgs = append(msgs, c.msg("temperature_command_topic", p))
			if hasTemp {
				attrs = map[string]any{"temperature": t}
			}
		}
		return msgs, expect, attrs, nil
	}
}

func (c *Codec) setupFan() {
	for _, a := range []string{"percentage", "preset_mode", "oscillating", "direction"} {
		c.managed[a] = true
	}
	on, off := c.str("payload_on", "ON"), c.str("payload_off", "OFF")
	st := c.tpl("state_value_template", true)
	hasState := !c.failed("state_value_template", st) && c.on("state_topic", func(s *devices.State, m *stateMsg) (bool, error) {
		v, err := c.render(st, m, nil)
		if err != nil {
			return false, err
		}
		return applyOnOff(s, v, on, off, m)
	})
	lo, hi := c.float("speed_range_min", 1), c.float("speed_range_max", 100)
	if hi < lo {
		lo, hi = 1, 100
	}
	offset, states := lo-1, hi-lo+1
	reset := c.str("payload_reset_percentage", payloadNone)
	pt := c.tpl("percentage_value_template", true)
	hasPct := !c.failed("percentage_value_template", pt) && c.on("percentage_state_topic", func(s *devices.State, m *stateMsg) (bool, error) {
		v, err := c.render(pt, m, nil)
		if err != nil {
			return false, err
		}
		switch v {
		case "":
			return false, nil
		case reset:
			return delAttr(s, "percentage"), nil
		}
		f, _, ok := parseNumber(v)
		if !ok {
			return false, fmt.Errorf("percentage %q on %q is not a number", truncate(v, 60), m.topic)
		}
		pct := math.Floor((math.Trunc(f) - offset) * 100 / states)
		if pct < 0 || pct > 100 {
			return false, fmt.Errorf("speed %q on %q is out of %s-%s", v, m.topic, pyStr(int64(lo)), pyStr(int64(hi)))
		}
		return setAttr(s, "percentage", int(pct)), nil
	})
	c.choiceRoute("preset_mode_state_topic", "preset_mode_value_template", "preset_mode", c.list("preset_modes", nil), false)
	c.choiceRoute("direction_state_topic", "direction_value_template", "direction", []string{"forward", "reverse"}, false)
	oscOn, oscOff := c.str("payload_oscillation_on", "oscillate_on"), c.str("payload_oscillation_off", "oscillate_off")
	ot := c.tpl("oscillation_value_template", false)
	if !c.failed("oscillation_value_template", ot) {
		c.on("oscillation_state_topic", func(s *devices.State, m *stateMsg) (bool, error) {
			v, err := c.render(ot, m, nil)
			if err != nil {
				return false, err
			}
			switch v {
			case oscOn:
				return setAttr(s, "oscillating", true), nil
			case oscOff:
				return setAttr(s, "oscillating", false), nil
			case "":
				return false, nil
			}
			return false, fmt.Errorf("oscillation %q on %q matches neither %q nor %q", truncate(v, 60), m.topic, oscOn, oscOff)
		})
	}

	ct := c.tpl("command_template", true)
	pct := c.tpl("percentage_command_template", true)
	c.command = func(req devices.CommandRequest, cur devices.State) ([]Message, string, map[string]any, error) {
		if err := c.onlyFields(req, "state", "percentage"); err != nil {
			return nil, "", nil, err
		}
		s := toggled(requestState(req), cur)
		if s != "" && s != "ON" && s != "OFF" {
			return nil, "", nil, c.invalid("state %q: a fan takes ON, OFF or TOGGLE", *req.State)
		}
		var (
			msgs  []Message
			attrs map[string]any
		)
		if req.Percentage != nil {
			if s == "OFF" {
				return nil, "", nil, c.invalid("cannot turn off and set a percentage")
			}
			p := *req.Percentage
			if p < 0 || p > 100 {
				return nil, "", nil, c.invalid("percentage %d is out of 0-100", p)
			}
			if c.topic("percentage_command_topic") == "" {
				return nil, "", nil, c.invalid("it has no percentage_command_topic")
			}
			speed := int64(math.Ceil(states*float64(p)/100 + offset))
			payload, err := c.renderCommand("percentage_command_template", pct, speed, nil)
			if err != nil {
				return nil, "", nil, err
			}
			msgs = append(msgs, c.msg("percentage_command_topic", payload))
			if hasPct {
				attrs = map[string]any{"percentage": int(math.Floor((float64(speed) - offset) * 100 / states))}
			}
		}
		if s == "OFF" || s == "ON" && (req.Percentage == nil || cur.State != "ON") {
			payload := on
			if s == "OFF" {
				payload = off
			}
			p, err := c.renderCommand("command_template", ct, payload, nil)
			if err != nil {
				return nil, "", nil, err
			}
			msgs = append([]Message{c.msg("command_topic", p)}, msgs...)
		}
		return msgs, expectIf(hasState && s != "", s), attrs, nil
	}
}
