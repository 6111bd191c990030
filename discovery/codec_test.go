package discovery

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"hubd/devices"
)

// codecFor announces payload on topic and compiles its first entity.
func codecFor(t testing.TB, topic, payload string) *Codec {
	t.Helper()
	a := announce(t, topic, payload)
	c, err := NewCodec(a.Entities[0])
	if err != nil {
		t.Fatalf("NewCodec: %v", err)
	}
	return c
}

type applyStep struct {
	topic, payload string
	state          string
	attrs          map[string]any // subset
	err            string
}

func runApply(t *testing.T, c *Codec, steps []applyStep) {
	t.Helper()
	var st devices.State
	for i, s := range steps {
		_, err := c.Apply(&st, s.topic, []byte(s.payload))
		switch {
		case s.err == "" && err != nil:
			t.Errorf("step %d (%q): %v", i, s.payload, err)
		case s.err != "" && (err == nil || !strings.Contains(err.Error(), s.err)):
			t.Errorf("step %d (%q): err = %v, want %q", i, s.payload, err, s.err)
		}
		if st.State != s.state {
			t.Errorf("step %d (%q): State = %q, want %q", i, s.payload, st.State, s.state)
		}
		if s.attrs != nil {
			got := toJSONValue(t, st.Attributes).(map[string]any)
			for k, v := range toJSONValue(t, s.attrs).(map[string]any) {
				if v == nil {
					if _, ok := got[k]; ok {
						t.Errorf("step %d (%q): attribute %s = %v, want none", i, s.payload, k, got[k])
					}
					continue
				}
				if !reflect.DeepEqual(got[k], v) {
					t.Errorf("step %d (%q): attribute %s = %v, want %v", i, s.payload, k, got[k], v)
				}
			}
		}
	}
}

type cmdCase struct {
	name   string
	req    string // JSON CommandRequest
	cur    devices.State
	msgs   []string // "topic payload"
	expect string
	attrs  map[string]any
	err    string
}

func runCommands(t *testing.T, c *Codec, cases []cmdCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			var req devices.CommandRequest
			if err := json.Unmarshal([]byte(tt.req), &req); err != nil {
				t.Fatal(err)
			}
			msgs, expect, attrs, err := c.Commands(req, tt.cur)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || devices.ErrorCode(err) != devices.EINVALID || !strings.Contains(err.Error(), c.id) {
					t.Fatalf("err = %v, want EINVALID naming %s and containing %q", err, c.id, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range msgs {
				got = append(got, m.Topic+" "+string(m.Payload))
			}
			if !reflect.DeepEqual(got, tt.msgs) {
				t.Errorf("messages = %q, want %q", got, tt.msgs)
			}
			if expect != tt.expect {
				t.Errorf("expect = %q, want %q", expect, tt.expect)
			}
			if !reflect.DeepEqual(toJSONValue(t, attrs), toJSONValue(t, tt.attrs)) {
				t.Errorf("expectAttr = %v, want %v", attrs, tt.attrs)
			}
			// Command agrees with Commands when one message suffices.
			topic, payload, expect2, _, err := c.Command(req, tt.cur)
			if len(msgs) == 1 && (err != nil || topic != msgs[0].Topic || string(payload) != string(msgs[0].Payload) || expect2 != expect) {
				t.Errorf("Command = %q %q %q %v", topic, payload, expect2, err)
			}
			if len(msgs) > 1 && (err == nil || devices.ErrorCode(err) != devices.EINVALID || !strings.Contains(err.Error(), "separate requests")) {
				t.Errorf("Command on a %d-message request: err = %v", len(msgs), err)
			}
		})
	}
}

func TestCodec_Switch(t *testing.T) {
	c := codecFor(t, "homeassistant/switch/x/config", `{"cmd_t":"s/set","stat_t":"s/state","pl_on":"1","pl_off":"0","stat_on":"on","stat_off":"off","ret":true,
		"cmd_tpl":"{\"relay\": {{ value }}}"}`)
	runApply(t, c, []applyStep{
		{topic: "s/state", payload: "on", state: "ON"},
		{topic: "s/state", payload: "1", state: "ON", err: `payload "1" on "s/state" matches neither "on" (on) nor "off" (off)`},
		{topic: "s/state", payload: "off", state: "OFF"},
		{topic: "s/state", payload: "", state: "OFF"},
		{topic: "s/state", payload: "None", state: ""},
		{topic: "other", payload: "on", state: "", err: `"other" is not one of its state topics`},
	})
	runCommands(t, c, []cmdCase{
		{name: "OKOn", req: `{"state":"ON"}`, msgs: []string{`s/set {"relay": 1}`}, expect: "ON"},
		{name: "OKToggleOff", req: `{"state":"TOGGLE"}`, cur: devices.State{State: "ON"}, msgs: []string{`s/set {"relay": 0}`}, expect: "OFF"},
		{name: "OKToggleUnknown", req: `{"state":"TOGGLE"}`, msgs: []string{`s/set {"relay": 1}`}, expect: "ON"},
		{name: "ErrBrightness", req: `{"brightness":3}`, err: `a switch does not take "brightness"`},
		{name: "ErrEmpty", req: `{}`, err: "empty command"},
	})
	msgs, _, _, _ := c.Commands(devices.CommandRequest{State: ptr("ON")}, devices.State{})
	if !msgs[0].Retain {
		t.Error("retain not carried")
	}
	// Without a state topic there is nothing to confirm.
	c2 := codecFor(t, "homeassistant/switch/y/config", `{"cmd_t":"s/set"}`)
	runCommands(t, c2, []cmdCase{{name: "OKOptimistic", req: `{"state":"OFF"}`, msgs: []string{"s/set OFF"}, expect: ""}})
}

func TestCodec_BinarySensorAndSensor(t *testing.T) {
	b := codecFor(t, "homeassistant/binary_sensor/x/config", `{"stat_t":"door","pl_on":"open","pl_off":"closed","val_tpl":"{{ value | lower }}"}`)
	runApply(t, b, []applyStep{
		{topic: "door", payload: "OPEN", state: "ON"},
		{topic: "door", payload: "Closed", state: "OFF"},
		{topic: "door", payload: "  ", state: "OFF"},
		{topic: "door", payload: "ajar", state: "OFF", err: `"ajar"`},
	})
	runCommands(t, b, []cmdCase{{name: "ErrNoCommands", req: `{"state":"ON"}`, err: "binary_sensor entities take no commands"}})

	num := codecFor(t, "homeassistant/sensor/x/config", `{"stat_t":"t","unit_of_meas":"°C","val_tpl":"{{ value_json.t }}"}`)
	runApply(t, num, []applyStep{
		{topic: "t", payload: `{"t": 21.5}`, state: "21.5"},
		{topic: "t", payload: `{"t": "warm"}`, state: "21.5", err: "not a number"},
		{topic: "t", payload: `{"t": ""}`, state: "21.5"},
		{topic: "t", payload: `{"t": null}`, state: ""},
		{topic: "t", payload: `{"u": 1}`, state: ""}, // Undefined renders "", which a numeric sensor ignores
		{topic: "t", payload: `oops`, state: "", err: "'value_json' is undefined"},
	})
	text := codecFor(t, "homeassistant/sensor/y/config", `{"stat_t":"w"}`)
	runApply(t, text, []applyStep{
		{topic: "w", payload: "sunny", state: "sunny"},
		{topic: "w", payload: "", state: ""},
	})
	ts := codecFor(t, "homeassistant/sensor/z/config", `{"stat_t":"ts","dev_cla":"timestamp"}`)
	runApply(t, ts, []applyStep{{topic: "ts", payload: "2025-01-12T10:15:00+00:00", state: "2025-01-12T10:15:00+00:00"}})
}

func TestCodec_Lock(t *testing.T) {
	c := codecFor(t, "homeassistant/lock/x/config", `{"cmd_t":"l/set","stat_t":"l/state","pl_open":"UNLATCH","stat_locking":"busy","cmd_tpl":"{\"action\":\"{{ value | lower }}\"}"}`)
	runApply(t, c, []applyStep{
		{topic: "l/state", payload: "LOCKED", state: "LOCKED"},
		{topic: "l/state", payload: "busy", state: "LOCKING"},
		{topic: "l/state", payload: "UNLOCKED", state: "UNLOCKED"},
		{topic: "l/state", payload: "MOTOR_JAMMED", state: "JAMMED"},
		{topic: "l/state", payload: "OPEN", state: "OPEN"},
		{topic: "l/state", payload: "None", state: ""},
		{topic: "l/state", payload: "LOCKING", state: "", err: "not a lock state"},
	})
	runCommands(t, c, []cmdCase{
		{name: "OKLock", req: `{"state":"lock"}`, msgs: []string{`l/set {"action":"lock"}`}, expect: "LOCKED"},
		{name: "OKOpen", req: `{"state":"OPEN"}`, msgs: []string{`l/set {"action":"unlatch"}`}, expect: "OPEN"},
		{name: "ErrToggle", req: `{"state":"TOGGLE"}`, err: "a lock takes LOCK, UNLOCK or OPEN"},
	})
}

func TestCodec_ButtonNumberSelect(t *testing.T) {
	btn := codecFor(t, "homeassistant/button/x/config", `{"cmd_t":"b"}`)
	runCommands(t, btn, []cmdCase{
		{name: "OKPress", req: `{"press":true}`, msgs: []string{"b PRESS"}},
		{name: "OKStatePress", req: `{"state":"PRESS"}`, msgs: []string{"b PRESS"}},
		{name: "ErrState", req: `{"state":"ON"}`, err: "a button takes only PRESS"},
	})
	if got := btn.StateTopics(); len(got) != 0 {
		t.Errorf("button StateTopics = %q", got)
	}

	n := codecFor(t, "homeassistant/number/x/config", `{"cmd_t":"n/set","stat_t":"n","min":-10,"max":10.5,"cmd_tpl":"{\"v\": {{ value }}}"}`)
	runApply(t, n, []applyStep{
		{topic: "n", payload: "5", state: "5"},
		{topic: "n", payload: "5.50", state: "5.5"},
		{topic: "n", payload: "-10", state: "-10"},
		{topic: "n", payload: "11", state: "-10", err: "outside -10-10.5"},
		{topic: "n", payload: "abc", state: "-10", err: "not a number"},
		{topic: "n", payload: "None", state: ""},
	})
	runCommands(t, n, []cmdCase{
		{name: "OKInt", req: `{"value":3}`, msgs: []string{`n/set {"v": 3}`}, expect: "3"},
		{name: "OKFloat", req: `{"value":2.25}`, msgs: []string{`n/set {"v": 2.25}`}, expect: "2.25"},
		{name: "ErrRange", req: `{"value":11}`, err: "value 11 is out of -10-10.5"},
		{name: "ErrMissing", req: `{"state":"ON"}`, err: `a number does not take "state"`},
	})

	s := codecFor(t, "homeassistant/select/x/config", `{"cmd_t":"s/set","stat_t":"s","ops":["Low","High"],"val_tpl":"{{ value_json.mode }}"}`)
	runApply(t, s, []applyStep{
		{topic: "s", payload: `{"mode":"High"}`, state: "High"},
		{topic: "s", payload: `{"mode":"high"}`, state: "High", err: "not one of the options"},
		{topic: "s", payload: `{"mode":"none"}`, state: ""},
	})
	runCommands(t, s, []cmdCase{
		{name: "OK", req: `{"option":"Low"}`, msgs: []string{"s/set Low"}, expect: "Low"},
		{name: "ErrOption", req: `{"option":"Mid"}`, err: `option "Mid" is not one of ["Low" "High"]`},
	})
}

func TestCodec_BasicLight(t *testing.T) {
	cfg := `{"cmd_t":"l/set","stat_t":"l/state","bri_cmd_t":"l/bri/set","bri_stat_t":"l/bri","bri_scl":100,
		"clr_temp_cmd_t":"l/ct/set","clr_temp_stat_t":"l/ct","rgb_stat_t":"l/rgb","clrm_stat_t":"l/mode","fx_stat_t":"l/fx",
		"json_attr_t":"l/attrs","bri_cmd_tpl":"{{ value }}%"}`
	c := codecFor(t, "homeassistant/light/x/config", cfg)
	runApply(t, c, []applyStep{
		{topic: "l/state", payload: "ON", state: "ON"},
		{topic: "l/bri", payload: "50", state: "ON", attrs: map[string]any{"brightness": 128}},
		{topic: "l/bri", payload: "0", state: "ON", attrs: map[string]any{"brightness": 128}},
		{topic: "l/bri", payload: "x", state: "ON", err: "not a number"},
		{topic: "l/ct", payload: "370", state: "ON", attrs: map[string]any{"color_temp": 370}},
		{topic: "l/rgb", payload: "255,128,0", state: "ON", attrs: map[string]any{"rgb_color": []any{255, 128, 0}}},
		{topic: "l/rgb", payload: "255,128", state: "ON", err: "not 3 comma-separated numbers"},
		{topic: "l/mode", payload: "rgb", state: "ON", attrs: map[string]any{"color_mode": "rgb"}},
		{topic: "l/fx", payload: "rainbow", state: "ON", attrs: map[string]any{"effect": "rainbow"}},
		{topic: "l/attrs", payload: `{"brightness": 3, "power": 7.5, "state": "x"}`, state: "ON", attrs: map[string]any{"brightness": 128, "power": 7.5, "state": nil}},
		{topic: "l/attrs", payload: `[1]`, state: "ON", err: "not a JSON object"},
		{topic: "l/state", payload: "OFF", state: "OFF"},
	})
	off := devices.State{State: "OFF"}
	on := devices.State{State: "ON"}
	runCommands(t, c, []cmdCase{
		{name: "OKOn", req: `{"state":"ON"}`, msgs: []string{"l/set ON"}, expect: "ON"},
		{name: "OKBrightnessWhenOn", req: `{"brightness":128}`, cur: on, msgs: []string{"l/bri/set 50%"}, expect: "ON", attrs: map[string]any{"brightness": 128}},
		{name: "OKBrightnessWhenOffLast", req: `{"brightness":255}`, cur: off, msgs: []string{"l/bri/set 100%", "l/set ON"}, expect: "ON", attrs: map[string]any{"brightness": 255}},
		{name: "OKBrightnessLow", req: `{"brightness":1}`, cur: on, msgs: []string{"l/bri/set 1%"}, expect: "ON", attrs: map[string]any{"brightness": 3}},
		{name: "OKColorTemp", req: `{"color_temp":250}`, cur: on, msgs: []string{"l/ct/set 250"}, expect: "ON", attrs: map[string]any{"color_temp": 250}},
		{name: "OKBoth", req: `{"brightness":128,"color_temp":250}`, cur: on, msgs: []string{"l/bri/set 50%", "l/ct/set 250"}, expect: "ON", attrs: map[string]any{"brightness": 128, "color_temp": 250}},
		{name: "OKOffByBrightness0", req: `{"brightness":0}`, msgs: []string{"l/set OFF"}, expect: "OFF"},
		{name: "OKToggle", req: `{"state":"TOGGLE"}`, cur: on, msgs: []string{"l/set OFF"}, expect: "OFF"},
		{name: "ErrBrightnessRange", req: `{"brightness":300}`, err: "brightness 300 is out of 0-255"},
		{name: "ErrColorTempRange", req: `{"color_temp":100}`, err: "color_temp 100 is out of 153-500 mireds"},
		{name: "ErrOffWithBrightness", req: `{"state":"OFF","brightness":5}`, err: "cannot turn off"},
		{name: "ErrOnWithZero", req: `{"state":"ON","brightness":0}`, err: "cannot turn on with brightness 0"},
		{name: "ErrState", req: `{"state":"BLINK"}`, err: "a light takes ON, OFF or TOGGLE"},
	})
	first := codecFor(t, "homeassistant/light/y/config", `{"cmd_t":"l/set","bri_cmd_t":"l/bri/set","on_cmd_type":"first","clr_temp_k":true,"clr_temp_cmd_t":"l/ct/set","min_k":2700,"max_k":6500}`)
	runCommands(t, first, []cmdCase{
		{name: "OKFirst", req: `{"brightness":128}`, cur: off, msgs: []string{"l/set ON", "l/bri/set 128"}, expect: ""},
		{name: "OKKelvin", req: `{"color_temp":250}`, cur: on, msgs: []string{"l/ct/set 4000"}},
		{name: "ErrKelvinRange", req: `{"color_temp":400}`, err: "out of 153-371 mireds"},
	})
	plain := codecFor(t, "homeassistant/light/z/config", `{"cmd_t":"l/set"}`)
	runCommands(t, plain, []cmdCase{{name: "ErrNoBrightness", req: `{"brightness":10}`, err: "no brightness_command_topic"}})
}

func TestCodec_JSONLight(t *testing.T) {
	c := codecFor(t, "homeassistant/light/x/config", `{"schema":"json","cmd_t":"l/set","stat_t":"l","brightness":true,"bri_scl":100,"color_temp_kelvin":true,"sup_clrm":["color_temp"]}`)
	runApply(t, c, []applyStep{
		{topic: "l", payload: `{"state":"ON","brightness":100,"color_temp":2700,"color_mode":"color_temp"}`, state: "ON", attrs: map[string]any{"brightness": 255, "color_temp": 370, "color_mode": "color_temp"}},
		{topic: "l", payload: `{"brightness":null}`, state: "ON", attrs: map[string]any{"brightness": nil}},
		{topic: "l", payload: `{"state":"BLINK"}`, state: "ON", err: `state BLINK on "l" is neither "ON" nor "OFF"`},
		{topic: "l", payload: `{"state":"OFF","brightness":"lots"}`, state: "ON", attrs: map[string]any{"color_temp": 370}, err: "is not a number"},
		{topic: "l", payload: `{"state":null}`, state: ""},
		{topic: "l", payload: `{"brightness":"lots"}`, state: "", err: "is not a number"},
	})
	runCommands(t, c, []cmdCase{
		{name: "OK", req: `{"brightness":128,"color_temp":370}`, msgs: []string{`l/set {"state":"ON","brightness":50,"color_temp":2703}`}, expect: "ON", attrs: map[string]any{"brightness": 128, "color_temp": 370}},
		{name: "OKOff", req: `{"state":"off"}`, msgs: []string{`l/set {"state":"OFF"}`}, expect: "OFF"},
	})
	onoff := codecFor(t, "homeassistant/light/y/config", `{"schema":"json","cmd_t":"l/set","sup_clrm":["onoff"]}`)
	runCommands(t, onoff, []cmdCase{
		{name: "ErrBrightness", req: `{"brightness":128}`, err: "does not support brightness"},
		{name: "ErrColorTemp", req: `{"color_temp":300}`, err: "does not support color_temp"},
	})
}

func TestCodec_Cover(t *testing.T) {
	// Position only, inverted range (0 open, 255 closed), no state topic.
	c := codecFor(t, "homeassistant/cover/x/config", `{"cmd_t":"c/set","pos_t":"c/pos","set_pos_t":"c/pos/set","pos_open":0,"pos_clsd":255,"pl_stop":null}`)
	runApply(t, c, []applyStep{
		{topic: "c/pos", payload: "255", state: "closed", attrs: map[string]any{"position": 0}},
		{topic: "c/pos", payload: "0", state: "open", attrs: map[string]any{"position": 100}},
		{topic: "c/pos", payload: `{"position": 51}`, state: "open", attrs: map[string]any{"position": 80}},
		{topic: "c/pos", payload: `{"tilt": 3}`, state: "open", err: `has no "position"`},
		{topic: "c/pos", payload: "half", state: "open", err: "not a number"},
	})
	runCommands(t, c, []cmdCase{
		{name: "OKPosition", req: `{"position":80}`, msgs: []string{"c/pos/set 51"}, expect: "open", attrs: map[string]any{"position": 80}},
		{name: "OKClosed", req: `{"position":0}`, msgs: []string{"c/pos/set 255"}, expect: "closed", attrs: map[string]any{"position": 0}},
		{name: "OKToggle", req: `{"state":"TOGGLE"}`, cur: devices.State{State: "open"}, msgs: []string{"c/set CLOSE"}, expect: "closed"},
		{name: "ErrStopNull", req: `{"state":"STOP"}`, err: "cannot STOP"},
		{name: "ErrBoth", req: `{"state":"OPEN","position":3}`, err: "either a state or a position"},
	})
	s := codecFor(t, "homeassistant/cover/y/config", `{"stat_t":"g"}`)
	runApply(t, s, []applyStep{
		{topic: "g", payload: "closing", state: "closing"},
		{topic: "g", payload: "stopped", state: "closed"},
		{topic: "g", payload: "opening", state: "opening"},
		{topic: "g", payload: "stopped", state: "open"},
		{topic: "g", payload: "jammed", state: "open", err: "not one of"},
	})
	runCommands(t, s, []cmdCase{
		{name: "ErrNoCommandTopic", req: `{"state":"OPEN"}`, err: "no command_topic"},
		{name: "ErrNoSetPosition", req: `{"position":3}`, err: "no set_position_topic"},
	})
}

func TestCodec_ClimateAndFan(t *testing.T) {
	c := codecFor(t, "homeassistant/climate/x/config", `{"mode_cmd_t":"c/mode/set","mode_stat_t":"c/mode","temp_cmd_t":"c/temp/set","temp_stat_t":"c/temp",
		"curr_temp_t":"c/cur","act_t":"c/act","fan_mode_stat_t":"c/fan","temp_unit":"F","temp_cmd_tpl":"{{ value | round(1) }}"}`)
	runApply(t, c, []applyStep{
		{topic: "c/mode", payload: "cool", state: "cool"},
		{topic: "c/mode", payload: "turbo", state: "cool", err: `mode "turbo"`},
		{topic: "c/temp", payload: "71.5", state: "cool", attrs: map[string]any{"temperature": 71.5}},
		{topic: "c/cur", payload: "69", state: "cool", attrs: map[string]any{"current_temperature": 69}},
		{topic: "c/cur", payload: "None", state: "cool", attrs: map[string]any{"current_temperature": nil}},
		{topic: "c/act", payload: "cooling", state: "cool", attrs: map[string]any{"hvac_action": "cooling"}},
		{topic: "c/act", payload: "resting", state: "cool", err: "hvac_action"},
		{topic: "c/fan", payload: "high", state: "cool", attrs: map[string]any{"fan_mode": "high"}},
		{topic: "c/mode", payload: "None", state: ""},
	})
	runCommands(t, c, []cmdCase{
		{name: "OKMode", req: `{"state":"HEAT"}`, msgs: []string{"c/mode/set heat"}, expect: "heat"},
		{name: "OKTemp", req: `{"temperature":72.26}`, msgs: []string{"c/temp/set 72.3"}, attrs: map[string]any{"temperature": 72.26}},
		{name: "OKBoth", req: `{"state":"off","temperature":70}`, msgs: []string{"c/mode/set off", "c/temp/set 70.0"}, expect: "off", attrs: map[string]any{"temperature": 70}},
		{name: "ErrTempRange", req: `{"temperature":20}`, err: "temperature 20.0 is out of 45.0-95.0"},
	})

	f := codecFor(t, "homeassistant/fan/x/config", `{"cmd_t":"f/set","stat_t":"f","pct_cmd_t":"f/pct/set","pct_stat_t":"f/pct","spd_rng_min":1,"spd_rng_max":4,
		"pr_mode_stat_t":"f/preset","pr_modes":["eco","boost"],"cmd_tpl":"{{ value | lower }}"}`)
	runApply(t, f, []applyStep{
		{topic: "f", payload: "ON", state: "ON"},
		{topic: "f/pct", payload: "2", state: "ON", attrs: map[string]any{"percentage": 50}},
		{topic: "f/pct", payload: "None", state: "ON", attrs: map[string]any{"percentage": nil}},
		{topic: "f/pct", payload: "9", state: "ON", err: "out of 1-4"},
		{topic: "f/preset", payload: "eco", state: "ON", attrs: map[string]any{"preset_mode": "eco"}},
		{topic: "f/preset", payload: "turbo", state: "ON", err: "preset_mode"},
	})
	runCommands(t, f, []cmdCase{
		{name: "OKPercentage", req: `{"percentage":60}`, cur: devices.State{State: "ON"}, msgs: []string{"f/pct/set 3"}, attrs: map[string]any{"percentage": 75}},
		{name: "OKOnAndPercentage", req: `{"state":"ON","percentage":100}`, cur: devices.State{State: "OFF"}, msgs: []string{"f/set on", "f/pct/set 4"}, expect: "ON", attrs: map[string]any{"percentage": 100}},
		{name: "OKToggle", req: `{"state":"TOGGLE"}`, cur: devices.State{State: "ON"}, msgs: []string{"f/set off"}, expect: "OFF"},
		{name: "ErrOffWithPercentage", req: `{"state":"OFF","percentage":10}`, err: "cannot turn off and set a percentage"},
		{name: "ErrRange", req: `{"percentage":101}`, err: "percentage 101 is out of 0-100"},
	})
}

func TestCodec_Availability(t *testing.T) {
	for _, tt := range []struct {
		name, cfg, mode string
		want            []Availability
	}{
		{"OKNone", `{"stat_t":"s"}`, "latest", nil},
		{"OKSingle", `{"stat_t":"s","avty_t":"dev/lwt","pl_avail":"Online","pl_not_avail":"Offline"}`, "latest",
			[]Availability{{Topic: "dev/lwt", PayloadAvailable: "Online", PayloadNotAvailable: "Offline"}}},
		{"OKDefaults", `{"stat_t":"s","avty_t":"dev/status"}`, "latest", []Availability{{Topic: "dev/status", PayloadAvailable: "online", PayloadNotAvailable: "offline"}}},
		{"OKList", `{"stat_t":"s","avty_mode":"any","avty":[{"t":"a"},{"t":"b","pl_avail":"1","pl_not_avail":"0"}],"pl_avail":"ignored"}`, "any",
			[]Availability{{Topic: "a", PayloadAvailable: "online", PayloadNotAvailable: "offline"}, {Topic: "b", PayloadAvailable: "1", PayloadNotAvailable: "0"}}},
		{"OKTilde", `{"~":"dev","stat_t":"~/s","avty":[{"t":"~/alive"}],"avty_mode":"all"}`, "all", []Availability{{Topic: "dev/alive", PayloadAvailable: "online", PayloadNotAvailable: "offline"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := codecFor(t, "homeassistant/sensor/x/config", tt.cfg)
			items, mode := c.Availability()
			if mode != tt.mode {
				t.Errorf("mode = %q, want %q", mode, tt.mode)
			}
			if !reflect.DeepEqual(items, tt.want) {
				t.Errorf("items = %+v, want %+v", items, tt.want)
			}
		})
	}
	c := codecFor(t, "homeassistant/sensor/y/config", `{"stat_t":"s","avty_t":"lwt","avty_tpl":"{{ value_json.state }}"}`)
	items, _ := c.Availability()
	if got, err := items[0].Template.Render([]byte(`{"state":"offline"}`), nil); err != nil || got != "offline" {
		t.Errorf("availability template: %q, %v", got, err)
	}
	for _, topic := range c.StateTopics() {
		if topic == "lwt" {
			t.Error("availability topic listed among state topics")
		}
	}
}

func TestCodec_Unsupported(t *testing.T) {
	a := announce(t, "homeassistant/light/x/config", `{"cmd_t":"l/set","stat_t":"l","stat_val_tpl":"{% for x in y %}{% endfor %}","bri_stat_t":"l/b","fx_stat_t":"l/fx","fx_val_tpl":"{{ now() }}"}`)
	c, err := NewCodec(a.Entities[0])
	if c == nil || err == nil {
		t.Fatalf("NewCodec = %v, %v", c, err)
	}
	if !errors.Is(err, ErrUnsupportedTemplate) || !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "state_value_template") || !strings.Contains(err.Error(), "light.x") {
		t.Errorf("err = %v", err)
	}
	if strings.Contains(err.Error(), "effect_value_template") {
		t.Errorf("an optional template made the entity unsupported: %v", err)
	}
	if w := c.Warnings(); len(w) != 1 || !strings.Contains(w[0], "effect_value_template") {
		t.Errorf("Warnings = %q", w)
	}
	// The codec stays usable: other topics still apply.
	var st devices.State
	if _, err := c.Apply(&st, "l/b", []byte("255")); err != nil || st.Attributes["brightness"] != 255 {
		t.Errorf("brightness: %v %v", err, st.Attributes)
	}
	if ch, err := c.Apply(&st, "l", []byte("ON")); ch || err != nil || st.State != "" {
		t.Errorf("state topic of an untranslatable template changed state: %v %v %q", ch, err, st.State)
	}
	if !sameSet(c.StateTopics(), []string{"l", "l/b", "l/fx"}) {
		t.Errorf("StateTopics = %q", c.StateTopics())
	}

	tpl := announce(t, "homeassistant/light/y/config", `{"schema":"template","cmd_t":"l/set","command_on_template":"on","command_off_template":"off","stat_t":"l/s"}`)
	c2, err := NewCodec(tpl.Entities[0])
	if !errors.Is(err, ErrUnsupported) || errors.Is(err, ErrUnsupportedTemplate) || c2 == nil {
		t.Errorf("template schema: %v", err)
	}
	if !sameSet(c2.StateTopics(), []string{"l/s"}) || !sameSet(c2.CommandTopics(), []string{"l/set"}) {
		t.Errorf("template schema topics: %q %q", c2.StateTopics(), c2.CommandTopics())
	}

	bad := announce(t, "homeassistant/switch/z/config", `{"cmd_t":"s","cmd_tpl":"{{ states('x') }}"}`)
	c3, err := NewCodec(bad.Entities[0])
	if !errors.Is(err, ErrUnsupportedTemplate) {
		t.Fatalf("err = %v", err)
	}
	if _, _, _, _, err := c3.Command(devices.CommandRequest{State: ptr("ON")}, devices.State{}); devices.ErrorCode(err) != devices.EINVALID || !strings.Contains(err.Error(), "command_template cannot be translated") {
		t.Errorf("command with an untranslatable command_template: %v", err)
	}

	// A Codec from an empty entity works and refuses everything.
	empty, err := NewCodec(devices.Entity{})
	if empty == nil || !errors.Is(err, ErrUnsupported) {
		t.Fatalf("empty entity: %v %v", empty, err)
	}
	if _, err := empty.Apply(&devices.State{}, "x", nil); devices.ErrorCode(err) != devices.EINVALID {
		t.Errorf("Apply: %v", err)
	}
}

func TestCodec_StoredStateDoesNotChange(t *testing.T) {
	c := codecFor(t, "homeassistant/light/x/config", `{"schema":"json","cmd_t":"l/set","stat_t":"l","brightness":true}`)
	var st devices.State
	payload := []byte(`{"state":"ON","brightness":128,"color":{"x":0.3,"y":0.4}}`)
	if ch, err := c.Apply(&st, "l", payload); !ch || err != nil {
		t.Fatalf("first apply: %v %v", ch, err)
	}
	// A state read back from storage has float64 numbers.
	var stored devices.State
	b, _ := json.Marshal(st)
	if err := json.Unmarshal(b, &stored); err != nil {
		t.Fatal(err)
	}
	if ch, err := c.Apply(&stored, "l", payload); ch || err != nil {
		t.Errorf("re-applying the same payload to a stored state: changed=%v err=%v", ch, err)
	}
}

func TestCodec_FromStoredEntity(t *testing.T) {
	// An entity read back from storage (Config through JSON) compiles the same.
	a := announce(t, "homeassistant/valve/x/config", `{"cmd_t":"v/set","stat_t":"v","pos":true,"pos_open":"10","pos_clsd":0,"ret":"true"}`)
	b, err := json.Marshal(a.Entities[0])
	if err != nil {
		t.Fatal(err)
	}
	var e devices.Entity
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	c, err := NewCodec(e)
	if err != nil {
		t.Fatal(err)
	}
	runApply(t, c, []applyStep{
		{topic: "v", payload: "5", state: "open", attrs: map[string]any{"position": 50}},
		{topic: "v", payload: "opening", state: "opening"},
		{topic: "v", payload: "7", state: "opening", attrs: map[string]any{"position": 70}},
		{topic: "v", payload: "10", state: "open", attrs: map[string]any{"position": 100}},
		{topic: "v", payload: `{"state":"closing","position":2}`, state: "closing", attrs: map[string]any{"position": 20}},
		{topic: "v", payload: "0", state: "closed", attrs: map[string]any{"position": 0}},
		{topic: "v", payload: "wide", state: "closed", err: "neither a position"},
	})
	runCommands(t, c, []cmdCase{{name: "OK", req: `{"position":30}`, msgs: []string{"v/set 3"}, expect: "open", attrs: map[string]any{"position": 30}}})
	msgs, _, _, _ := c.Commands(devices.CommandRequest{State: ptr("OPEN")}, devices.State{})
	if !msgs[0].Retain {
		t.Error("retain \"true\" not read")
	}
}

func ptr[T any](v T) *T { return &v }
