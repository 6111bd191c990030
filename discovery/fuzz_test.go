package discovery

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"hubd/devices"
)

// FuzzParseAnnouncement feeds arbitrary payloads to ParseAnnouncement and
// the entities it accepts to NewCodec, Apply and Commands: nothing may
// panic, errors must be EINVALID, and what is accepted must be sane.
func FuzzParseAnnouncement(f *testing.F) {
	f.Add("light", []byte(`{"cmd_t":"c","stat_t":"s","schema":"json","brightness":true}`))
	f.Fuzz(func(t *testing.T, component string, payload []byte) {
		tp := Topic{Prefix: "homeassistant", Component: component, ObjectID: "obj"}
		a, err := ParseAnnouncement(tp, payload)
		if err != nil {
			if devices.ErrorCode(err) != devices.EINVALID {
				t.Fatalf("error is not EINVALID: %v", err)
			}
			return
		}
		if a.Migrate {
			return
		}
		if a.Device != nil && (a.Device.ID == "" || len(a.Device.ID) > 64 || deviceID(a.Device.ID) != a.Device.ID) {
			t.Fatalf("bad device id %q", a.Device.ID)
		}
		for _, e := range a.Entities {
			obj, ok := strings.CutPrefix(e.ID, e.Component+".")
			if !ok || obj == "" || slugify(obj) != obj {
				t.Fatalf("bad entity id %q", e.ID)
			}
			if _, err := json.Marshal(e); err != nil {
				t.Fatalf("entity does not marshal: %v", err)
			}
			c, err := NewCodec(e)
			if c == nil {
				t.Fatal("nil codec")
			}
			if err != nil && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("NewCodec error does not wrap ErrUnsupported: %v", err)
			}
			st := devices.State{}
			for _, topic := range c.StateTopics() {
				if _, err := c.Apply(&st, topic, payload); err != nil && devices.ErrorCode(err) != devices.EINVALID {
					t.Fatalf("Apply error is not EINVALID: %v", err)
				}
			}
			c.Availability()
			c.CommandTopics()
			b, p, on := 128, 50, "ON"
			v, tmp, opt := 21.5, 20.0, "x"
			for _, req := range []devices.CommandRequest{
				{State: &on}, {Brightness: &b}, {Position: &p}, {Percentage: &p}, {Value: &v}, {Temperature: &tmp}, {Option: &opt}, {Press: true},
			} {
				if _, _, _, err := c.Commands(req, st); err != nil && devices.ErrorCode(err) != devices.EINVALID {
					t.Fatalf("Commands error is not EINVALID: %v", err)
				}
			}
		}
	})
}

// FuzzCompileTemplate compiles arbitrary templates and renders those that
// compile: no panic, errors wrapping ErrUnsupportedTemplate, bounded output.
func FuzzCompileTemplate(f *testing.F) {
	f.Add("{{ value_json.x | float(0) * 10 }}", []byte(`{"x": 2}`))
	f.Fuzz(func(t *testing.T, src string, payload []byte) {
		tp, err := CompileTemplate(src)
		if err != nil {
			if !errors.Is(err, ErrUnsupportedTemplate) {
				t.Fatalf("error does not wrap ErrUnsupportedTemplate: %v", err)
			}
			if tp != nil {
				t.Fatal("template returned with an error")
			}
			return
		}
		out, err := tp.Render(payload, map[string]any{"position": 40, "entity_id": "cover.x"})
		if err == nil && len(out) > maxTplString {
			t.Fatalf("output of %d bytes", len(out))
		}
	})
}
