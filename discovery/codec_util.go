package discovery

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"

	"hubd/devices"
)

// Helpers shared by the platform codecs.

// Config accessors, tolerant of the types a configuration has before and
// after a JSON round trip.

func (c *Codec) topic(key string) string {
	s, _ := c.cfg[key].(string)
	return s
}

// str returns option key as Home Assistant's cv.string reads it, def when
// it is missing. A null yields "".
func (c *Codec) str(key, def string) string {
	v, ok := c.cfg[key]
	if !ok {
		return def
	}
	return scalarString(v)
}

// optStr is str that also reports a null or missing option (Home
// Assistant disables a feature whose payload is null).
func (c *Codec) optStr(key, def string) (string, bool) {
	v, ok := c.cfg[key]
	if !ok {
		return def, true
	}
	if v == nil {
		return "", false
	}
	return scalarString(v), true
}

func (c *Codec) float(key string, def float64) float64 {
	switch v := c.cfg[key].(type) {
	case float64:
		return v
	case json.Number:
		if f, err := v.Float64(); err == nil {
			return f
		}
	case string:
		if f, ok := pyParseFloat(v); ok {
			return f
		}
	}
	return def
}

func (c *Codec) boolean(key string, def bool) bool {
	switch v := c.cfg[key].(type) {
	case bool:
		return v
	case float64:
		return v != 0
	case string:
		switch strings.ToLower(v) {
		case "1", "true", "yes", "on", "enable":
			return true
		case "0", "false", "no", "off", "disable":
			return false
		}
	}
	return def
}

func (c *Codec) list(key string, def []string) []string {
	raw, ok := c.cfg[key].([]any)
	if !ok {
		return def
	}
	out := make([]string, 0, len(raw))
	for _, v := range raw {
		out = append(out, scalarString(v))
	}
	return out
}

// State helpers.

func setState(st *devices.State, s string) bool {
	if st.State == s {
		return false
	}
	st.State = s
	return true
}

func setAttr(st *devices.State, k string, v any) bool {
	if old, ok := st.Attributes[k]; ok && attrEqual(old, v) {
		return false
	}
	if st.Attributes == nil {
		st.Attributes = map[string]any{}
	}
	st.Attributes[k] = v
	return true
}

func delAttr(st *devices.State, k string) bool {
	if _, ok := st.Attributes[k]; !ok {
		return false
	}
	delete(st.Attributes, k)
	return true
}

// attrEqual compares attribute values, numbers by value whatever their Go
// type (a state read back from storage has float64 where Apply wrote int).
func attrEqual(a, b any) bool {
	if fa, ok := numberValue(a); ok {
		fb, ok := numberValue(b)
		return ok && fa == fb
	}
	switch x := a.(type) {
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !attrEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || !attrEqual(v, w) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

func numberValue(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

// parseNumber reads a state payload as a number: an int when it is
// written as one, a float otherwise (Python's int() then float()).
func parseNumber(s string) (f float64, isInt bool, ok bool) {
	if i, ok := pyParseInt(s, 10); ok {
		return float64(i), true, true
	}
	f, ok = pyParseFloat(s)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false, false
	}
	return f, false, true
}

// requestFields names the fields a request sets.
func requestFields(r devices.CommandRequest) []string {
	var f []string
	if r.State != nil {
		f = append(f, "state")
	}
	if r.Brightness != nil {
		f = append(f, "brightness")
	}
	if r.ColorTemp != nil {
		f = append(f, "color_temp")
	}
	if r.Position != nil {
		f = append(f, "position")
	}
	if r.Temperature != nil {
		f = append(f, "temperature")
	}
	if r.Value != nil {
		f = append(f, "value")
	}
	if r.Option != nil {
		f = append(f, "option")
	}
	if r.Percentage != nil {
		f = append(f, "percentage")
	}
	if r.Press {
		f = append(f, "press")
	}
	return f
}

// onlyFields refuses a request that sets fields the platform does not take.
func (c *Codec) onlyFields(req devices.CommandRequest, allowed ...string) error {
	for _, f := range requestFields(req) {
		ok := false
		for _, a := range allowed {
			ok = ok || a == f
		}
		if !ok {
			return c.invalid("a %s does not take %q (it takes %s)", c.component, f, strings.Join(allowed, ", "))
		}
	}
	return nil
}

// requestState upper-cases the requested state, "" when none.
func requestState(req devices.CommandRequest) string {
	if req.State == nil {
		return ""
	}
	return strings.ToUpper(strings.TrimSpace(*req.State))
}

// toggled resolves TOGGLE against the current state.
func toggled(s string, cur devices.State) string {
	if s != "TOGGLE" {
		return s
	}
	if cur.State == "ON" {
		return "OFF"
	}
	return "ON"
}

var errEmptyPayload = errors.New("empty payload")

// onOffState maps a rendered payload to "ON"/"OFF", "" for "None".
// An empty payload is ignored (errEmptyPayload); anything else is an error.
func onOffState(v, on, off string, m *stateMsg) (string, error) {
	switch v {
	case on:
		return "ON", nil
	case off:
		return "OFF", nil
	case payloadNone:
		return "", nil
	case "":
		return "", errEmptyPayload
	}
	return "", fmt.Errorf("payload %q on %q matches neither %q (on) nor %q (off)", truncate(v, 60), m.topic, on, off)
}

// applyOnOff sets State from an on/off payload, ignoring empty payloads.
func applyOnOff(st *devices.State, v, on, off string, m *stateMsg) (bool, error) {
	s, err := onOffState(v, on, off, m)
	if errors.Is(err, errEmptyPayload) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return setState(st, s), nil
}
