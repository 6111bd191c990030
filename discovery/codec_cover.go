package discovery

import (
	"fmt"
	"math"

	"hubd/devices"
)

// Covers and valves. Their State is "open", "closed", "opening" or
// "closing"; the position attribute is 0 (closed) to 100 (open).

// coverPercent maps a device position in [closed, open] to 0-100.
func coverPercent(v, open, closed float64) int {
	r := open - closed
	if r == 0 {
		return 0
	}
	p := pyRound((v-closed)/r*100, 0)
	return int(math.Min(math.Max(p, 0), 100))
}

// numVar passes an option's number to a template as Home Assistant
// would: an int when it is integral.
func numVar(f float64) any {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return int64(f)
	}
	return f
}

// positionState is the state a position implies.
func positionState(pct int) string {
	if pct == 0 {
		return "closed"
	}
	return "open"
}

// attrPercent reads a 0-100 attribute.
func attrPercent(st *devices.State, key string) (int, bool) {
	f, ok := numberValue(st.Attributes[key])
	return int(f), ok
}

func (c *Codec) setupCover() {
	c.managed["position"], c.managed["tilt_position"] = true, true
	open, closed := c.float("position_open", 100), c.float("position_closed", 0)
	sOpen, sOpening := c.str("state_open", "open"), c.str("state_opening", "opening")
	sClosed, sClosing := c.str("state_closed", "closed"), c.str("state_closing", "closing")
	sStopped := c.str("state_stopped", "stopped")
	hasPosTopic := c.topic("position_topic") != ""
	vt := c.tpl("value_template", true)
	hasState := !c.failed("value_template", vt) && c.on("state_topic", func(st *devices.State, m *stateMsg) (bool, error) {
		v, err := c.render(vt, m, nil)
		if err != nil {
			return false, err
		}
		switch v {
		case "":
			return false, nil
		case sStopped:
			if pos, ok := attrPercent(st, "position"); ok && hasPosTopic {
				return setState(st, positionState(pos)), nil
			}
			if st.State == "closed" || st.State == "closing" {
				return setState(st, "closed"), nil
			}
			return setState(st, "open"), nil
		case sOpening:
			return setState(st, "opening"), nil
		case sClosing:
			return setState(st, "closing"), nil
		case sOpen:
			return setState(st, "open"), nil
		case sClosed:
			return setState(st, "closed"), nil
		case payloadNone:
			return setState(st, ""), nil
		}
		return false, fmt.Errorf("payload %q on %q is not one of %q, %q, %q, %q, %q", truncate(v, 60), m.topic, sOpen, sOpening, sClosed, sClosing, sStopped)
	})
	vars := map[string]any{"position_open": numVar(open), "position_closed": numVar(closed)}
	pt := c.tpl("position_template", true)
	hasPos := !c.failed("position_template", pt) && c.on("position_topic", func(st *devices.State, m *stateMsg) (bool, error) {
		v, err := c.render(pt, m, vars)
		if err != nil {
			return false, err
		}
		if v == "" {
			return false, nil
		}
		changed := false
		if obj, ok := parseJSONValue([]byte(v)); ok {
			if d, isMap := obj.(map[string]any); isMap {
				p, ok := d["position"]
				if !ok {
					return false, fmt.Errorf("payload %q on %q has no \"position\"", truncate(v, 60), m.topic)
				}
				if tp, ok := d["tilt_position"]; ok {
					if f, ok := toFloat(tp); ok {
						changed = setAttr(st, "tilt_position", c.tiltPercent(f)) || changed
					}
				}
				v = pyStr(p)
			}
		}
		f, _, ok := parseNumber(v)
		if !ok {
			return changed, fmt.Errorf("position %q on %q is not a number", truncate(v, 60), m.topic)
		}
		pct := coverPercent(f, open, closed)
		changed = setAttr(st, "position", pct) || changed
		if !hasState {
			changed = setState(st, positionState(pct)) || changed
		}
		return changed, nil
	})
	c.numberRoute("tilt_status_topic", "tilt_status_template", false, func(st *devices.State, f float64, _ bool) bool {
		return setAttr(st, "tilt_position", c.tiltPercent(f))
	})

	spt := c.tpl("set_position_template", true)
	c.command = func(req devices.CommandRequest, cur devices.State) ([]Message, string, map[string]any, error) {
		if err := c.onlyFields(req, "state", "position"); err != nil {
			return nil, "", nil, err
		}
		confirms := hasState || hasPos
		if req.State != nil && req.Position != nil {
			return nil, "", nil, c.invalid("give either a state or a position, not both")
		}
		if req.Position != nil {
			pct := *req.Position
			if pct < 0 || pct > 100 {
				return nil, "", nil, c.invalid("position %d is out of 0-100", pct)
			}
			if c.topic("set_position_topic") == "" {
				return nil, "", nil, c.invalid("it has no set_position_topic")
			}
			dv := int64(pyRound((open-closed)*float64(pct)/100, 0) + closed)
			p, err := c.renderCommand("set_position_template", spt, dv, map[string]any{"position": pct, "position_open": numVar(open), "position_closed": numVar(closed)})
			if err != nil {
				return nil, "", nil, err
			}
			var attrs map[string]any
			if hasPos {
				attrs = map[string]any{"position": pct}
			}
			return []Message{c.msg("set_position_topic", p)}, expectIf(confirms, positionState(pct)), attrs, nil
		}
		s := requestState(req)
		if s == "TOGGLE" {
			s = "CLOSE"
			if cur.State == "closed" || cur.State == "closing" {
				s = "OPEN"
			}
		}
		var key, def, expect string
		switch s {
		case "OPEN":
			key, def, expect = "payload_open", "OPEN", "open"
		case "CLOSE":
			key, def, expect = "payload_close", "CLOSE", "closed"
		case "STOP":
			key, def = "payload_stop", "STOP"
		default:
			return nil, "", nil, c.invalid("state %q: a cover takes OPEN, CLOSE, STOP or TOGGLE", *req.State)
		}
		payload, ok := c.optStr(key, def)
		if !ok || c.topic("command_topic") == "" {
			return nil, "", nil, c.invalid("it cannot %s (no command_topic or %s)", s, key)
		}
		return []Message{c.msg("command_topic", []byte(payload))}, expectIf(confirms, expect), nil, nil
	}
}

func (c *Codec) tiltPercent(v float64) int {
	pct := coverPercent(v, c.float("tilt_max", 100), c.float("tilt_min", 0))
	if c.boolean("tilt_invert_state", false) {
		return 100 - pct
	}
	return pct
}

// valvePercent is Home Assistant's ranged_value_to_percentage over
// (position_closed+1, position_open).
func valvePercent(v, open, closed float64) int {
	states := open - closed
	if states == 0 {
		return 0
	}
	p := math.Floor((v - closed) * 100 / states)
	return int(math.Min(math.Max(p, 0), 100))
}

func (c *Codec) setupValve() {
	c.managed["position"] = true
	reports := c.boolean("reports_position", false)
	open, closed := c.float("position_open", 100), c.float("position_closed", 0)
	sOpen, sClosed := c.str("state_open", "open"), c.str("state_closed", "closed")
	sOpening, sClosing := c.str("state_opening", "opening"), c.str("state_closing", "closing")
	vt := c.tpl("value_template", true)
	hasState := !c.failed("value_template", vt) && c.on("state_topic", func(st *devices.State, m *stateMsg) (bool, error) {
		v, err := c.render(vt, m, nil)
		if err != nil {
			return false, err
		}
		if v == "" {
			return false, nil
		}
		posP, stateP := v, v
		if obj, ok := parseJSONValue([]byte(v)); ok {
			if d, isMap := obj.(map[string]any); isMap {
				if _, ok := d["position"]; reports && !ok {
					return false, fmt.Errorf("payload %q on %q has no \"position\"", truncate(v, 60), m.topic)
				}
				if _, ok := d["state"]; !reports && !ok {
					return false, fmt.Errorf("payload %q on %q has no \"state\"", truncate(v, 60), m.topic)
				}
				posP, stateP = "", ""
				if p, ok := d["position"]; ok {
					posP = pyStr(p)
				}
				if s, ok := d["state"]; ok {
					stateP = pyStr(s)
				}
			}
		}
		if !reports {
			switch stateP {
			case sOpening:
				return setState(st, "opening"), nil
			case sClosing:
				return setState(st, "closing"), nil
			case sOpen:
				return setState(st, "open"), nil
			case sClosed:
				return setState(st, "closed"), nil
			case payloadNone:
				return setState(st, ""), nil
			}
			return false, fmt.Errorf("payload %q on %q is not one of %q, %q, %q, %q", truncate(stateP, 60), m.topic, sOpen, sClosed, sOpening, sClosing)
		}
		moving := ""
		switch stateP {
		case sOpening:
			moving = "opening"
		case sClosing:
			moving = "closing"
		case payloadNone:
			return delAttr(st, "position"), nil
		}
		changed, reset, set := false, false, false
		if moving == "" || posP != stateP {
			if f, _, ok := parseNumber(posP); ok {
				pct := valvePercent(f, open, closed)
				changed = setAttr(st, "position", pct)
				reset = moving == "" && (pct == 0 || pct == 100)
				set = true
			}
		}
		if stateP != "" && moving == "" && !set {
			return false, fmt.Errorf("payload %q on %q is neither a position nor %q or %q", truncate(stateP, 60), m.topic, sOpening, sClosing)
		}
		next := st.State
		switch {
		case moving != "":
			next = moving
		case reset || st.State != "opening" && st.State != "closing":
			if pct, ok := attrPercent(st, "position"); ok {
				next = positionState(pct)
			}
		}
		return setState(st, next) || changed, nil
	})
	ct := c.tpl("command_template", true)
	c.command = func(req devices.CommandRequest, cur devices.State) ([]Message, string, map[string]any, error) {
		if err := c.onlyFields(req, "state", "position"); err != nil {
			return nil, "", nil, err
		}
		if req.State != nil && req.Position != nil {
			return nil, "", nil, c.invalid("give either a state or a position, not both")
		}
		if c.topic("command_topic") == "" {
			return nil, "", nil, c.invalid("it has no command_topic")
		}
		if req.Position != nil {
			pct := *req.Position
			if !reports {
				return nil, "", nil, c.invalid("it does not report a position, so it takes no position")
			}
			if pct < 0 || pct > 100 {
				return nil, "", nil, c.invalid("position %d is out of 0-100", pct)
			}
			dv := int64(pyRound((open-closed)*float64(pct)/100+closed, 0))
			p, err := c.renderCommand("command_template", ct, dv, map[string]any{"position": pct, "position_open": numVar(open), "position_closed": numVar(closed)})
			if err != nil {
				return nil, "", nil, err
			}
			var attrs map[string]any
			if hasState {
				attrs = map[string]any{"position": pct}
			}
			return []Message{c.msg("command_topic", p)}, expectIf(hasState, positionState(pct)), attrs, nil
		}
		s := requestState(req)
		if s == "TOGGLE" {
			s = "CLOSE"
			if cur.State == "closed" || cur.State == "closing" {
				s = "OPEN"
			}
		}
		var payload, expect string
		ok := true
		switch s {
		case "OPEN":
			payload, ok = c.optStr("payload_open", "OPEN")
			expect = "open"
		case "CLOSE":
			payload, ok = c.optStr("payload_close", "CLOSE")
			expect = "closed"
		case "STOP":
			payload, ok = c.optStr("payload_stop", "")
			ok = ok && c.cfg["payload_stop"] != nil
		default:
			return nil, "", nil, c.invalid("state %q: a valve takes OPEN, CLOSE, STOP or TOGGLE", *req.State)
		}
		if !ok {
			return nil, "", nil, c.invalid("it cannot %s (its payload is not set)", s)
		}
		p, err := c.renderCommand("command_template", ct, payload, nil)
		if err != nil {
			return nil, "", nil, err
		}
		return []Message{c.msg("command_topic", p)}, expectIf(hasState, expect), nil, nil
	}
}
