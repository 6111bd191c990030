package discovery

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"hubd/devices"
)

// Lights: the default ("basic") schema, one topic per feature, and the
// JSON schema, one JSON document each way.

var lightAttributes = []string{"brightness", "color_temp", "color_mode", "color", "rgb_color", "hs_color", "xy_color", "effect"}

// lightScale reads brightness_scale (255 by default).
func (c *Codec) lightScale() float64 {
	s := c.float("brightness_scale", 255)
	if s < 1 || math.IsNaN(s) || math.IsInf(s, 0) {
		return 255
	}
	return s
}

// brightnessFromDevice maps a device brightness on scale to 1-255 as Home
// Assistant does (round half to even, at most 255).
func brightnessFromDevice(v, scale float64) int {
	b := pyRound(v/scale*255, 0)
	return int(math.Min(math.Max(b, 1), 255))
}

// brightnessToDevice maps 1-255 to the device's scale, never 0.
func brightnessToDevice(b int, scale float64) int {
	v := pyRound(float64(b)/255*scale, 0)
	return int(math.Min(math.Max(v, 1), scale))
}

// miredBounds is the color temperature range a light accepts, in mireds.
func (c *Codec) miredBounds() (lo, hi int) {
	lo, hi = 153, 500
	if _, ok := c.cfg["min_kelvin"]; ok {
		hi = int(math.Ceil(1e6 / math.Max(c.float("min_kelvin", 2000), 1)))
	}
	if _, ok := c.cfg["max_kelvin"]; ok {
		lo = int(math.Floor(1e6 / math.Max(c.float("max_kelvin", 6535), 1)))
	}
	if _, ok := c.cfg["min_mireds"]; ok {
		lo = int(c.float("min_mireds", 153))
	}
	if _, ok := c.cfg["max_mireds"]; ok {
		hi = int(c.float("max_mireds", 500))
	}
	return lo, hi
}

func kelvinMired(v float64) int {
	if v <= 0 {
		return 0
	}
	return int(pyRound(1e6/v, 0))
}

// colorTempState reads a color temperature as the device reports it
// (mireds, or kelvin with color_temp_kelvin) into mireds.
func colorTempState(v float64, kelvin bool) int {
	if kelvin {
		return kelvinMired(v)
	}
	return int(pyRound(v, 0))
}

// colorTempCommand checks a requested color temperature (mireds) and
// returns what the device takes and what it will report back.
func (c *Codec) colorTempCommand(m int, kelvin bool) (device, readback int, err error) {
	lo, hi := c.miredBounds()
	if m < lo || m > hi {
		return 0, 0, c.invalid("color_temp %d is out of %d-%d mireds", m, lo, hi)
	}
	if kelvin {
		k := kelvinMired(float64(m))
		return k, kelvinMired(float64(k)), nil
	}
	return m, m, nil
}

// lightRequest checks a light request and resolves its state: "ON" or
// "OFF" (brightness 0 means off, TOGGLE follows cur).
func (c *Codec) lightRequest(req devices.CommandRequest, cur devices.State) (string, error) {
	if err := c.onlyFields(req, "state", "brightness", "color_temp"); err != nil {
		return "", err
	}
	s := toggled(requestState(req), cur)
	if s != "" && s != "ON" && s != "OFF" {
		return "", c.invalid("state %q: a light takes ON, OFF or TOGGLE", *req.State)
	}
	if req.Brightness != nil {
		b := *req.Brightness
		if b < 0 || b > 255 {
			return "", c.invalid("brightness %d is out of 0-255", b)
		}
		if b == 0 {
			if s == "ON" {
				return "", c.invalid("cannot turn on with brightness 0")
			}
			s = "OFF"
		}
	}
	if s == "OFF" && (req.ColorTemp != nil || req.Brightness != nil && *req.Brightness > 0) {
		return "", c.invalid("cannot turn off and set brightness or color_temp")
	}
	if s == "" {
		s = "ON"
	}
	return s, nil
}

func (c *Codec) setupBasicLight() {
	for _, a := range lightAttributes {
		c.managed[a] = true
	}
	on, off := c.str("payload_on", "ON"), c.str("payload_off", "OFF")
	scale := c.lightScale()
	kelvin := c.boolean("color_temp_kelvin", false)

	stateKey := "state_value_template"
	if _, ok := c.cfg[stateKey]; !ok {
		stateKey = "value_template"
	}
	stateTpl := c.tpl(stateKey, true)
	hasState := !c.failed(stateKey, stateTpl) && c.on("state_topic", func(st *devices.State, m *stateMsg) (bool, error) {
		v, err := c.render(stateTpl, m, nil)
		if err != nil {
			return false, err
		}
		return applyOnOff(st, v, on, off, m)
	})
	hasBri := c.numberRoute("brightness_state_topic", "brightness_value_template", true, func(st *devices.State, f float64, _ bool) bool {
		if f == 0 {
			return false // Home Assistant ignores a zero brightness
		}
		return setAttr(st, "brightness", int(math.Min(pyRound(f/scale*255, 0), 255)))
	})
	hasCT := c.numberRoute("color_temp_state_topic", "color_temp_value_template", true, func(st *devices.State, f float64, _ bool) bool {
		return setAttr(st, "color_temp", colorTempState(f, kelvin))
	})
	c.textRoute("color_mode_state_topic", "color_mode_value_template", "color_mode")
	c.textRoute("effect_state_topic", "effect_value_template", "effect")
	c.tupleRoute("rgb_state_topic", "rgb_value_template", "rgb_color", 3, true)
	c.tupleRoute("hs_state_topic", "hs_value_template", "hs_color", 2, false)
	c.tupleRoute("xy_state_topic", "xy_value_template", "xy_color", 2, false)

	briTpl := c.tpl("brightness_command_template", true)
	ctTpl := c.tpl("color_temp_command_template", true)
	onType := c.str("on_command_type", "last")
	c.command = func(req devices.CommandRequest, cur devices.State) ([]Message, string, map[string]any, error) {
		s, err := c.lightRequest(req, cur)
		if err != nil {
			return nil, "", nil, err
		}
		if s == "OFF" {
			return []Message{c.msg("command_topic", []byte(off))}, expectIf(hasState, "OFF"), nil, nil
		}
		attrs := map[string]any{}
		var params []Message
		bri := req.Brightness
		if bri == nil && onType == "brightness" && c.topic("brightness_command_topic") != "" && cur.State != "ON" {
			b := 255
			if f, ok := numberValue(cur.Attributes["brightness"]); ok && f >= 1 && f <= 255 {
				b = int(f)
			}
			bri = &b
		}
		if bri != nil {
			if c.topic("brightness_command_topic") == "" {
				return nil, "", nil, c.invalid("it has no brightness_command_topic")
			}
			dv := brightnessToDevice(*bri, scale)
			p, err := c.renderCommand("brightness_command_template", briTpl, dv, nil)
			if err != nil {
				return nil, "", nil, err
			}
			params = append(params, c.msg("brightness_command_topic", p))
			if hasBri {
				attrs["brightness"] = int(math.Min(pyRound(float64(dv)/scale*255, 0), 255))
			}
		}
		if req.ColorTemp != nil {
			if c.topic("color_temp_command_topic") == "" {
				return nil, "", nil, c.invalid("it has no color_temp_command_topic")
			}
			dv, back, err := c.colorTempCommand(*req.ColorTemp, kelvin)
			if err != nil {
				return nil, "", nil, err
			}
			p, err := c.renderCommand("color_temp_command_template", ctTpl, dv, nil)
			if err != nil {
				return nil, "", nil, err
			}
			params = append(params, c.msg("color_temp_command_topic", p))
			if hasCT {
				attrs["color_temp"] = back
			}
		}
		// The ON message is needed unless the light is already on and the
		// request sets something, or the brightness command turns it on.
		sendOn := len(params) == 0 || cur.State != "ON"
		if onType == "brightness" && bri != nil {
			sendOn = false
		}
		msgs := params
		if sendOn {
			onMsg := c.msg("command_topic", []byte(on))
			if onType == "first" {
				msgs = append([]Message{onMsg}, params...)
			} else {
				msgs = append(params, onMsg)
			}
		}
		if len(attrs) == 0 {
			attrs = nil
		}
		return msgs, expectIf(hasState, "ON"), attrs, nil
	}
}

// numberRoute registers a route reading a number from topic key through
// template tplKey; "None" removes nothing, an empty payload is ignored.
func (c *Codec) numberRoute(key, tplKey string, essential bool, set func(st *devices.State, f float64, isInt bool) bool) bool {
	t := c.tpl(tplKey, essential)
	if c.failed(tplKey, t) {
		return false
	}
	return c.on(key, func(st *devices.State, m *stateMsg) (bool, error) {
		v, err := c.render(t, m, nil)
		if err != nil {
			return false, err
		}
		v = strings.TrimSpace(v)
		if v == "" || v == payloadNone {
			return false, nil
		}
		f, isInt, ok := parseNumber(v)
		if !ok {
			return false, fmt.Errorf("payload %q on %q is not a number", truncate(v, 60), m.topic)
		}
		return set(st, f, isInt), nil
	})
}

// textRoute registers a route copying the rendered payload into attr.
func (c *Codec) textRoute(key, tplKey, attr string) bool {
	t := c.tpl(tplKey, false)
	if c.failed(tplKey, t) {
		return false
	}
	return c.on(key, func(st *devices.State, m *stateMsg) (bool, error) {
		v, err := c.render(t, m, nil)
		if err != nil {
			return false, err
		}
		switch v {
		case "":
			return false, nil
		case payloadNone:
			return delAttr(st, attr), nil
		}
		return setAttr(st, attr, v), nil
	})
}

// tupleRoute reads "a,b[,c]" numbers into attr.
func (c *Codec) tupleRoute(key, tplKey, attr string, n int, ints bool) bool {
	t := c.tpl(tplKey, false)
	if c.failed(tplKey, t) {
		return false
	}
	return c.on(key, func(st *devices.State, m *stateMsg) (bool, error) {
		v, err := c.render(t, m, nil)
		if err != nil {
			return false, err
		}
		if v == "" {
			return false, nil
		}
		parts := strings.Split(v, ",")
		if len(parts) != n {
			return false, fmt.Errorf("payload %q on %q is not %d comma-separated numbers", truncate(v, 60), m.topic, n)
		}
		out := make([]any, n)
		for i, p := range parts {
			f, isInt, ok := parseNumber(p)
			if !ok || ints && !isInt {
				return false, fmt.Errorf("payload %q on %q is not %d comma-separated numbers", truncate(v, 60), m.topic, n)
			}
			if ints {
				out[i] = int(f)
			} else {
				out[i] = f
			}
		}
		return setAttr(st, attr, out), nil
	})
}

// jsonBrightnessModes are the color modes that imply brightness.
var jsonBrightnessModes = map[string]bool{"brightness": true, "color_temp": true, "hs": true, "rgb": true, "rgbw": true, "rgbww": true, "white": true, "xy": true}

func (c *Codec) setupJSONLight() {
	for _, a := range lightAttributes {
		c.managed[a] = true
	}
	scale := c.lightScale()
	kelvin := c.boolean("color_temp_kelvin", false)
	modes := c.list("supported_color_modes", nil)
	briOK := c.boolean("brightness", false)
	ctOK := c.boolean("color_temp", false)
	for _, m := range modes {
		briOK = briOK || jsonBrightnessModes[m]
		ctOK = ctOK || m == "color_temp"
	}
	hasState := c.on("state_topic", func(st *devices.State, m *stateMsg) (bool, error) {
		var obj map[string]any
		if err := json.Unmarshal(m.payload, &obj); err != nil || obj == nil {
			return false, fmt.Errorf("payload %q on %q is not a JSON object", truncate(string(m.payload), 60), m.topic)
		}
		changed := false
		if s, ok := obj["state"]; ok {
			switch s {
			case "ON", "OFF":
				changed = setState(st, s.(string))
			case nil:
				changed = setState(st, "")
			default:
				return false, fmt.Errorf("state %v on %q is neither \"ON\" nor \"OFF\"", s, m.topic)
			}
		}
		if b, ok := obj["brightness"]; ok && briOK {
			switch f, isNum := b.(float64); {
			case b == nil:
				changed = delAttr(st, "brightness") || changed
			case !isNum:
				return changed, fmt.Errorf("brightness %v on %q is not a number", b, m.topic)
			case f > 0:
				changed = setAttr(st, "brightness", brightnessFromDevice(f, scale)) || changed
			}
		}
		if cm, ok := obj["color_mode"].(string); ok {
			changed = setAttr(st, "color_mode", cm) || changed
		}
		if ct, ok := obj["color_temp"]; ok {
			switch f, isNum := ct.(float64); {
			case ct == nil:
				changed = delAttr(st, "color_temp") || changed
			case isNum:
				changed = setAttr(st, "color_temp", colorTempState(f, kelvin)) || changed
			}
		}
		if col, ok := obj["color"].(map[string]any); ok {
			changed = setAttr(st, "color", col) || changed
		}
		if fx, ok := obj["effect"].(string); ok {
			changed = setAttr(st, "effect", fx) || changed
		}
		return changed, nil
	})
	c.command = func(req devices.CommandRequest, cur devices.State) ([]Message, string, map[string]any, error) {
		s, err := c.lightRequest(req, cur)
		if err != nil {
			return nil, "", nil, err
		}
		var b strings.Builder
		b.WriteString(`{"state":"` + s + `"`)
		attrs := map[string]any{}
		if s == "ON" && req.Brightness != nil {
			if !briOK {
				return nil, "", nil, c.invalid("it does not support brightness")
			}
			dv := brightnessToDevice(*req.Brightness, scale)
			b.WriteString(`,"brightness":` + strconv.Itoa(dv))
			attrs["brightness"] = brightnessFromDevice(float64(dv), scale)
		}
		if s == "ON" && req.ColorTemp != nil {
			if !ctOK {
				return nil, "", nil, c.invalid("it does not support color_temp")
			}
			dv, back, err := c.colorTempCommand(*req.ColorTemp, kelvin)
			if err != nil {
				return nil, "", nil, err
			}
			b.WriteString(`,"color_temp":` + strconv.Itoa(dv))
			attrs["color_temp"] = back
		}
		b.WriteByte('}')
		if len(attrs) == 0 || !hasState {
			attrs = nil
		}
		return []Message{c.msg("command_topic", []byte(b.String()))}, expectIf(hasState, s), attrs, nil
	}
}
