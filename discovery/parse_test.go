package discovery

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"hubd/devices"
)

func TestParseTopic(t *testing.T) {
	for _, tt := range []struct {
		name, prefix, topic string
		want                Topic
		ok                  bool
		err                 string
	}{
		{"OK", "homeassistant", "homeassistant/switch/A1B2C3_RL_1/config", Topic{"homeassistant", "switch", "", "A1B2C3_RL_1"}, true, ""},
		{"OKNode", "homeassistant", "homeassistant/sensor/livingroom/temperature/config", Topic{"homeassistant", "sensor", "livingroom", "temperature"}, true, ""},
		{"OKDevice", "homeassistant", "homeassistant/device/shelly-1/config", Topic{"homeassistant", "device", "", "shelly-1"}, true, ""},
		{"OKDeviceNode", "homeassistant", "homeassistant/device/bridge/node-7/config", Topic{"homeassistant", "device", "bridge", "node-7"}, true, ""},
		{"OKMultiLevelPrefix", "ha/discovery", "ha/discovery/light/x/config", Topic{"ha/discovery", "light", "", "x"}, true, ""},
		{"OKNoPrefix", "", "light/x/config", Topic{"", "light", "", "x"}, true, ""},
		{"NotConfigState", "homeassistant", "homeassistant/sensor/x/state", Topic{}, false, ""},
		{"NotConfigStatus", "homeassistant", "homeassistant/status", Topic{}, false, ""},
		{"NotConfigOtherPrefix", "homeassistant", "zigbee2mqtt/light/x/config", Topic{}, false, ""},
		{"NotConfigPrefixOnly", "homeassistant", "homeassistantx/light/x/config", Topic{}, false, ""},
		{"NotConfigTooShort", "homeassistant", "homeassistant/x/config", Topic{}, false, ""},
		{"ErrUnknownComponent", "homeassistant", "homeassistant/toaster/x/config", Topic{}, true, `unknown component "toaster"`},
		{"ErrObjectCharset", "homeassistant", "homeassistant/light/kitchen light/config", Topic{}, true, `object_id "kitchen light" has characters outside [a-zA-Z0-9_-]`},
		{"ErrNodeCharset", "homeassistant", "homeassistant/light/my.node/x/config", Topic{}, true, `node_id "my.node"`},
		{"ErrEmptyObject", "homeassistant", "homeassistant/light//config", Topic{}, true, `object_id ""`},
		{"ErrTooManyLevels", "homeassistant", "homeassistant/light/a/b/c/config", Topic{}, true, "5 levels"},
		{"ErrUnicode", "homeassistant", "homeassistant/light/küche/config", Topic{}, true, "outside"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := ParseTopic(tt.prefix, tt.topic)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || devices.ErrorCode(err) != devices.EINVALID || !strings.Contains(err.Error(), tt.topic) {
					t.Fatalf("err = %v, want EINVALID naming the topic and containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			if ok && got.String() != tt.topic {
				t.Fatalf("String() = %q, want %q", got.String(), tt.topic)
			}
		})
	}
}

func TestExpandPayload(t *testing.T) {
	for _, tt := range []struct {
		name          string
		in, want      string
		componentOnly bool
	}{
		{"OKRoot", `{"stat_t":"a","cmd_t":"b","uniq_id":"u","unit_of_meas":"W","custom":"kept"}`,
			`{"state_topic":"a","command_topic":"b","unique_id":"u","unit_of_measurement":"W","custom":"kept"}`, false},
		{"OKAbbreviationWins", `{"state_topic":"full","stat_t":"short"}`, `{"state_topic":"short"}`, false},
		{"OKDevice", `{"dev":{"ids":["x"],"mf":"M","mdl":"X","mdl_id":"X1","sw":"1","hw":"2","sn":"S","sa":"Hall","cu":"http://x","cns":[["mac","aa"]],"name":"N"}}`,
			`{"device":{"identifiers":["x"],"manufacturer":"M","model":"X","model_id":"X1","sw_version":"1","hw_version":"2","serial_number":"S","suggested_area":"Hall","configuration_url":"http://x","connections":[["mac","aa"]],"name":"N"}}`, false},
		{"OKDeviceKeysNotRoot", `{"dev":{"stat_t":"x"},"mf":"y"}`, `{"device":{"stat_t":"x"},"mf":"y"}`, false},
		{"OKOrigin", `{"o":{"name":"z2m","sw":"1.2","url":"https://x"}}`, `{"origin":{"name":"z2m","sw_version":"1.2","support_url":"https://x"}}`, false},
		{"OKAvailabilityList", `{"avty":[{"t":"a","pl_avail":"up","pl_not_avail":"down","val_tpl":"{{ value }}"}],"avty_mode":"all"}`,
			`{"availability":[{"topic":"a","payload_available":"up","payload_not_available":"down","value_template":"{{ value }}"}],"availability_mode":"all"}`, false},
		{"OKAvailabilitySingle", `{"avty":{"t":"a"}}`, `{"availability":{"topic":"a"}}`, false},
		{"OKComponents", `{"cmps":{"a":{"p":"sensor","stat_t":"s","avty":[{"t":"x"}]}},"o":{"name":"n"}}`,
			`{"components":{"a":{"platform":"sensor","state_topic":"s","availability":[{"topic":"x"}]}},"origin":{"name":"n"}}`, false},
		{"OKComponentOnlySkipsDevice", `{"dev":{"ids":"x"}}`, `{"device":{"ids":"x"}}`, true},
		{"OKLightOptions", `{"bri_cmd_t":"b","bri_scl":100,"clr_temp_cmd_t":"c","fx_list":["a"],"sup_clrm":["xy"],"on_cmd_type":"first"}`,
			`{"brightness_command_topic":"b","brightness_scale":100,"color_temp_command_topic":"c","effect_list":["a"],"supported_color_modes":["xy"],"on_command_type":"first"}`, false},
		{"OKCoverOptions", `{"pos_t":"p","set_pos_t":"s","set_pos_tpl":"t","pos_open":100,"pos_clsd":0,"pl_cls":"c","stat_clsd":"x"}`,
			`{"position_topic":"p","set_position_topic":"s","set_position_template":"t","position_open":100,"position_closed":0,"payload_close":"c","state_closed":"x"}`, false},
		{"OKNewerOptions", `{"def_ent_id":"light.x","p":"light","migr_discvry":true,"stat_jam":"J","sug_dsp_prc":2,"pos":true}`,
			`{"default_entity_id":"light.x","platform":"light","migrate_discovery":true,"state_jammed":"J","suggested_display_precision":2,"reports_position":true}`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var in, want map[string]any
			mustUnmarshal(t, tt.in, &in)
			mustUnmarshal(t, tt.want, &want)
			got := expandPayload(in, tt.componentOnly)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got %v\nwant %v", got, want)
			}
		})
	}
}

func TestReplaceTopicBase(t *testing.T) {
	for _, tt := range []struct {
		name, in, want string
	}{
		{"OKStart", `{"~":"tasmota_A/","command_topic":"~cmnd/POWER"}`, `{"command_topic":"tasmota_A/cmnd/POWER"}`},
		{"OKEnd", `{"~":"kitchen/light","state_topic":"stat/~"}`, `{"state_topic":"stat/kitchen/light"}`},
		{"OKBoth", `{"~":"b","state_topic":"~/x/~"}`, `{"state_topic":"b/x/b"}`},
		{"OKAlone", `{"~":"base/topic","topic":"~"}`, `{"topic":"base/topic"}`},
		{"OKMiddleKept", `{"~":"b","state_topic":"x/~/y"}`, `{"state_topic":"x/~/y"}`},
		{"OKOnlyTopicKeys", `{"~":"b","value_template":"~x","name":"~"}`, `{"value_template":"~x","name":"~"}`},
		{"OKAvailabilityItems", `{"~":"dev/","availability":[{"topic":"~online"},{"topic":"abs"}]}`, `{"availability":[{"topic":"dev/online"},{"topic":"abs"}]}`},
		{"OKNoBase", `{"state_topic":"~x"}`, `{"state_topic":"~x"}`},
		{"OKNumberBase", `{"~":12,"state_topic":"~/s"}`, `{"state_topic":"12/s"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var in, want map[string]any
			mustUnmarshal(t, tt.in, &in)
			mustUnmarshal(t, tt.want, &want)
			replaceTopicBase(in)
			if !reflect.DeepEqual(in, want) {
				t.Fatalf("got %v, want %v", in, want)
			}
		})
	}
}

func mustUnmarshal(t testing.TB, s string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
}

// announce parses payload for topic and fails the test on an error.
func announce(t testing.TB, topic, payload string) Announcement {
	t.Helper()
	tp, ok, err := ParseTopic("homeassistant", topic)
	if !ok || err != nil {
		t.Fatalf("ParseTopic(%q): %v %v", topic, ok, err)
	}
	a, err := ParseAnnouncement(tp, []byte(payload))
	if err != nil {
		t.Fatalf("ParseAnnouncement: %v", err)
	}
	return a
}

func TestParseAnnouncement_Errors(t *testing.T) {
	garbage := bytes.Repeat([]byte{0xde, 0xad, '{', '"'}, 1<<18)
	big := []byte(`{"name":"` + strings.Repeat("x", MaxPayload) + `","state_topic":"s"}`)
	for _, tt := range []struct {
		name, topic, payload string
		want                 []string
	}{
		{"ErrBadJSON", "homeassistant/switch/x/config", `{"command_topic": "a",}`, []string{"bad JSON at offset 22"}},
		{"ErrTruncatedJSON", "homeassistant/switch/x/config", `{"command_topic": "a"`, []string{"bad JSON at offset", "unexpected end"}},
		{"ErrTrailingData", "homeassistant/switch/x/config", `{"command_topic": "a"} {}`, []string{"data after the JSON value"}},
		{"ErrNotObjectString", "homeassistant/switch/x/config", `"ON"`, []string{"the payload is a JSON string, not an object"}},
		{"ErrNotObjectArray", "homeassistant/switch/x/config", `[1,2]`, []string{"JSON array, not an object"}},
		{"ErrNull", "homeassistant/switch/x/config", `null`, []string{"JSON null, not an object"}},
		{"ErrGarbage", "homeassistant/switch/x/config", string(garbage), []string{"more than the 262144 allowed"}},
		{"ErrTooBig", "homeassistant/sensor/x/config", string(big), []string{"bytes, more than the 262144 allowed"}},
		{"ErrGarbageSmall", "homeassistant/switch/x/config", "\x00\xff\xfe not json", []string{"bad JSON at offset 0"}},
		{"ErrEmpty", "homeassistant/switch/x/config", ``, []string{"empty payload"}},
		{"ErrMissingCommandTopic", "homeassistant/switch/x/config", `{"state_topic":"s"}`, []string{`switch needs "command_topic"`}},
		{"ErrMissingStateTopic", "homeassistant/sensor/x/config", `{"name":"t"}`, []string{`sensor needs "state_topic"`}},
		{"ErrNullRequired", "homeassistant/sensor/x/config", `{"state_topic":null}`, []string{`"state_topic" is null`}},
		{"ErrWildcardTopic", "homeassistant/sensor/x/config", `{"state_topic":"home/+/temp"}`, []string{`"state_topic" is "home/+/temp": wildcards are not allowed`}},
		{"ErrHashTopic", "homeassistant/switch/x/config", `{"command_topic":"home/#"}`, []string{"wildcards"}},
		{"ErrEmptyTopic", "homeassistant/sensor/x/config", `{"state_topic":""}`, []string{`"state_topic" is empty`}},
		{"ErrTopicNotString", "homeassistant/sensor/x/config", `{"state_topic":12}`, []string{`"state_topic" must be a string, not a JSON number`}},
		{"ErrTildeWildcard", "homeassistant/sensor/x/config", `{"~":"a/#","state_topic":"~"}`, []string{"wildcards"}},
		{"ErrDeviceString", "homeassistant/sensor/x/config", `{"state_topic":"s","device":"kitchen"}`, []string{`"device" is a JSON string, not an object`}},
		{"ErrDeviceAbbreviatedString", "homeassistant/sensor/x/config", `{"stat_t":"s","dev":"kitchen"}`, []string{`"device" is a JSON string`}},
		{"ErrOriginString", "homeassistant/sensor/x/config", `{"state_topic":"s","o":"z2m"}`, []string{`"origin" is a JSON string`}},
		{"ErrOriginNoName", "homeassistant/sensor/x/config", `{"state_topic":"s","o":{"sw":"1"}}`, []string{`"origin" needs a "name"`}},
		{"ErrIdentifiersObject", "homeassistant/sensor/x/config", `{"state_topic":"s","dev":{"ids":{"a":1}}}`, []string{`identifiers`}},
		{"ErrConnections", "homeassistant/sensor/x/config", `{"state_topic":"s","dev":{"cns":["mac"]}}`, []string{`connections`}},
		{"ErrAvailabilityString", "homeassistant/sensor/x/config", `{"state_topic":"s","avty":["a/b"]}`, []string{`"availability" item 0 is a JSON string, not an object`}},
		{"ErrAvailabilityNoTopic", "homeassistant/sensor/x/config", `{"state_topic":"s","avty":[{"pl_avail":"on"}]}`, []string{`needs a "topic"`}},
		{"ErrAvailabilityMode", "homeassistant/sensor/x/config", `{"state_topic":"s","avty_mode":"most"}`, []string{`"availability_mode"`}},
		{"ErrSelectNoOptions", "homeassistant/select/x/config", `{"command_topic":"c","options":[]}`, []string{`select "options" must be a non-empty list`}},
		{"ErrLightSchema", "homeassistant/light/x/config", `{"command_topic":"c","schema":"fancy"}`, []string{`light "schema"`}},
		{"ErrNameObject", "homeassistant/sensor/x/config", `{"state_topic":"s","name":{"en":"x"}}`, []string{`"name" must be a string or null`}},
		{"ErrDeviceNoDevice", "homeassistant/device/x/config", `{"o":{"name":"n"},"cmps":{}}`, []string{`needs a "device"`}},
		{"ErrDeviceNoOrigin", "homeassistant/device/x/config", `{"dev":{"ids":"x"},"cmps":{}}`, []string{`needs an "origin"`}},
		{"ErrDeviceNoComponents", "homeassistant/device/x/config", `{"dev":{"ids":"x"},"o":{"name":"n"}}`, []string{`needs a "components"`}},
		{"ErrDeviceComponentsList", "homeassistant/device/x/config", `{"dev":{"ids":"x"},"o":{"name":"n"},"cmps":[]}`, []string{`"components" is a JSON array, not an object`}},
		{"ErrDeviceComponentString", "homeassistant/device/x/config", `{"dev":{"ids":"x"},"o":{"name":"n"},"cmps":{"a":"sensor"}}`, []string{`component "a" is a JSON string, not an object`}},
		{"ErrDeviceNoPlatform", "homeassistant/device/x/config", `{"dev":{"ids":"x"},"o":{"name":"n"},"cmps":{"a":{"stat_t":"s"}}}`, []string{`component "a" has no "platform" ("p")`}},
		{"ErrDeviceUnknownPlatform", "homeassistant/device/x/config", `{"dev":{"ids":"x"},"o":{"name":"n"},"cmps":{"a":{"p":"toaster"}}}`, []string{`component "a": unknown platform "toaster"`}},
		{"ErrDeviceNoUniqueID", "homeassistant/device/x/config", `{"dev":{"ids":"x"},"o":{"name":"n"},"cmps":{"a":{"p":"sensor","stat_t":"s"}}}`, []string{`"unique_id" is required`}},
		{"ErrDeviceComponentRequired", "homeassistant/device/x/config", `{"dev":{"ids":"x"},"o":{"name":"n"},"cmps":{"a":{"p":"switch","uniq_id":"u"}}}`, []string{`component "a": switch needs "command_topic"`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tp, ok, err := ParseTopic("homeassistant", tt.topic)
			if !ok || err != nil {
				t.Fatalf("ParseTopic: %v %v", ok, err)
			}
			a, err := ParseAnnouncement(tp, []byte(tt.payload))
			if err == nil {
				t.Fatalf("no error; got %+v", a)
			}
			if got := devices.ErrorCode(err); got != devices.EINVALID {
				t.Fatalf("code = %q, want %q (%v)", got, devices.EINVALID, err)
			}
			msg := devices.ErrorMessage(err)
			if !strings.Contains(msg, tt.topic) {
				t.Errorf("message %q does not name the topic", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q lacks %q", msg, w)
				}
			}
			if len(msg) > 600 {
				t.Errorf("message is %d bytes long", len(msg))
			}
		})
	}
	t.Run("ErrUnknownComponent", func(t *testing.T) {
		_, err := ParseAnnouncement(Topic{Prefix: "homeassistant", Component: "toaster", ObjectID: "x"}, []byte(`{}`))
		if devices.ErrorCode(err) != devices.EINVALID || !strings.Contains(err.Error(), `unknown component "toaster"`) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestParseAnnouncement_IDs(t *testing.T) {
	for _, tt := range []struct {
		name, topic, payload         string
		entity, device, ename, dname string
	}{
		{"OKObjectID", "homeassistant/sensor/x/config", `{"stat_t":"s","obj_id":"Küche Temp"}`, "sensor.kuche_temp", "", "X", ""},
		{"OKDefaultEntityID", "homeassistant/sensor/x/config", `{"stat_t":"s","def_ent_id":"sensor.outside_temperature","obj_id":"ignored"}`, "sensor.outside_temperature", "", "X", ""},
		{"OKDefaultEntityIDOtherDomain", "homeassistant/sensor/x/config", `{"stat_t":"s","default_entity_id":"light.lamp"}`, "sensor.lamp", "", "X", ""},
		{"OKTopicObject", "homeassistant/switch/A1B2C3_RL_1/config", `{"cmd_t":"c","name":"Relay"}`, "switch.a1b2c3_rl_1", "", "Relay", ""},
		{"OKTopicNodeObject", "homeassistant/switch/living-room/relay--1/config", `{"cmd_t":"c"}`, "switch.living_room_relay_1", "", "Relay--1", ""},
		{"OKNameNullUsesDevice", "homeassistant/switch/x/config", `{"cmd_t":"c","name":null,"dev":{"ids":"D1","name":"Desk Lamp"}}`, "switch.x", "d1", "Desk Lamp", "Desk Lamp"},
		{"OKNameEmptyUsesDevice", "homeassistant/switch/x/config", `{"cmd_t":"c","name":"","dev":{"ids":"D1","name":"Desk Lamp"}}`, "switch.x", "d1", "Desk Lamp", "Desk Lamp"},
		{"OKNameMissingUsesDeviceClass", "homeassistant/sensor/x/config", `{"stat_t":"s","dev_cla":"carbon_dioxide","dev":{"ids":"D1"}}`, "sensor.x", "d1", "Carbon dioxide", "d1"},
		{"OKDeviceNameFromModel", "homeassistant/sensor/x/config", `{"stat_t":"s","dev":{"ids":"D1","mf":"Acme","mdl":"T1000"}}`, "sensor.x", "d1", "Acme T1000", "Acme T1000"},
		{"OKDeviceFromConnection", "homeassistant/sensor/x/config", `{"stat_t":"s","dev":{"cns":[["mac","AA:BB:CC:DD:EE:FF"]]}}`, "sensor.x", "aa_bb_cc_dd_ee_ff", "", ""},
		{"OKDeviceFromNode", "homeassistant/sensor/node-7/x/config", `{"stat_t":"s","dev":{"name":"N"}}`, "sensor.node_7_x", "node-7", "", "N"},
		{"OKDeviceFromObject", "homeassistant/sensor/obj/config", `{"stat_t":"s","dev":{"name":"N"}}`, "sensor.obj", "obj", "", "N"},
		{"OKNumericIdentifier", "homeassistant/sensor/x/config", `{"stat_t":"s","dev":{"ids":[12345678901234567890]}}`, "sensor.x", "12345678901234567890", "", ""},
		{"OKLongIdentifier", "homeassistant/sensor/x/config", `{"stat_t":"s","dev":{"ids":"` + strings.Repeat("Ab", 50) + `"}}`, "sensor.x", "", "", ""},
		{"OKDeviceBasedPrefix", "homeassistant/device/d1/config", `{"dev":{"ids":"d1","name":"Garage Door"},"o":{"name":"x"},"cmps":{"Door":{"p":"cover","uniq_id":"u","cmd_t":"c"}}}`, "cover.garage_door_door", "d1", "Garage Door", "Garage Door"},
		{"OKDeviceBasedAlreadyPrefixed", "homeassistant/device/d1/config", `{"dev":{"ids":"d1","name":"Garage"},"o":{"name":"x"},"cmps":{"garage_light":{"p":"light","uniq_id":"u","cmd_t":"c","name":"Light"}}}`, "light.garage_light", "d1", "Light", "Garage"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := announce(t, tt.topic, tt.payload)
			e := a.Entities[0]
			if e.ID != tt.entity {
				t.Errorf("entity id = %q, want %q", e.ID, tt.entity)
			}
			if tt.ename != "" && e.Name != tt.ename {
				t.Errorf("entity name = %q, want %q", e.Name, tt.ename)
			}
			if a.Device == nil {
				if tt.device != "" {
					t.Fatalf("no device, want %q", tt.device)
				}
				return
			}
			if tt.device != "" && a.Device.ID != tt.device {
				t.Errorf("device id = %q, want %q", a.Device.ID, tt.device)
			}
			if len(a.Device.ID) > 64 || deviceID(a.Device.ID) != a.Device.ID {
				t.Errorf("device id %q is not sanitised", a.Device.ID)
			}
			if tt.dname != "" && a.Device.Name != tt.dname {
				t.Errorf("device name = %q, want %q", a.Device.Name, tt.dname)
			}
			if e.DeviceID != a.Device.ID {
				t.Errorf("entity device id = %q, want %q", e.DeviceID, a.Device.ID)
			}
		})
	}
}

func TestParseAnnouncement_DeviceBased(t *testing.T) {
	a := announce(t, "homeassistant/device/abc/config", `{
		"dev":{"ids":"abc","name":"Multi"},"o":{"name":"gen","sw":"1"},
		"~":"multi/","stat_t":"~state","cmd_t":"~set","avty_t":"~status","qos":1,
		"cmps":{
			"relay":{"p":"switch","uniq_id":"abc-relay","name":"Relay"},
			"temp":{"p":"sensor","uniq_id":"abc-temp","stat_t":"~temp","val_tpl":"{{ value }}"},
			"own":{"p":"sensor","uniq_id":"abc-own","~":"other/","avty":[{"t":"~alive"}]},
			"gone":{"p":"light"},
			"trig":{"p":"device_automation","atype":"trigger","t":"~button","type":"button_short_press","stype":"button_1","pl":"single"}
		}}`)
	if got, want := a.Removed, []string{"gone"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Removed = %q, want %q", got, want)
	}
	byID := map[string]devices.Entity{}
	for _, e := range a.Entities {
		byID[e.ID] = e
	}
	if len(byID) != 4 {
		t.Fatalf("entities: %v", byID)
	}
	relay := byID["switch.multi_relay"].Config
	if relay["state_topic"] != "multi/state" || relay["command_topic"] != "multi/set" || relay["availability_topic"] != "multi/status" || relay["qos"] != 1.0 {
		t.Errorf("relay did not inherit the shared options: %v", relay)
	}
	if _, ok := relay["platform"]; ok {
		t.Error("relay config keeps platform")
	}
	if relay["device"].(map[string]any)["name"] != "Multi" || relay["origin"].(map[string]any)["sw_version"] != "1" {
		t.Errorf("relay config lacks device/origin: %v", relay)
	}
	if got := byID["sensor.multi_temp"].Config["state_topic"]; got != "multi/temp" {
		t.Errorf("temp state_topic = %v, want its own, with ~ substituted", got)
	}
	own := byID["sensor.multi_own"].Config
	if own["state_topic"] != "other/state" {
		t.Errorf("own state_topic = %v, want the shared one with the component's own ~", own["state_topic"])
	}
	if _, ok := own["availability_topic"]; ok {
		t.Errorf("own config inherited availability_topic next to its own availability list: %v", own)
	}
	if got := own["availability"].([]any)[0].(map[string]any)["topic"]; got != "other/alive" {
		t.Errorf("own availability topic = %v", got)
	}
	trig := byID["device_automation.multi_trig"].Config
	if trig["topic"] != "multi/button" || trig["automation_type"] != "trigger" || trig["payload"] != "single" {
		t.Errorf("trigger config = %v", trig)
	}
	if got := a.Device.Entities; len(got) != 4 {
		t.Errorf("device entities = %q", got)
	}
}

func TestParseAnnouncement_Migrate(t *testing.T) {
	for _, tt := range []struct {
		name, payload string
		migrate       bool
	}{
		{"OKFull", `{"migrate_discovery":true}`, true},
		{"OKAbbreviated", `{"migr_discvry": true}`, true},
		{"OKFalseIsConfig", `{"migrate_discovery":false,"state_topic":"s"}`, false},
		{"OKWithOptionsIsConfig", `{"migrate_discovery":true,"state_topic":"s"}`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := announce(t, "homeassistant/sensor/x/config", tt.payload)
			if a.Migrate != tt.migrate {
				t.Fatalf("Migrate = %v, want %v", a.Migrate, tt.migrate)
			}
			if tt.migrate && (len(a.Entities) != 0 || a.Device != nil) {
				t.Fatalf("a migration announces nothing, got %+v", a)
			}
		})
	}
}

func TestParseAnnouncement_ConfigRoundTrip(t *testing.T) {
	a := announce(t, "homeassistant/light/x/config", `{"cmd_t":"c","bri_scl":254,"big":123456789012345678901234567890,"huge":1e999,"list":[1,{"a":2}]}`)
	cfg := a.Entities[0].Config
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatalf("config does not marshal: %v", err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, cfg) {
		t.Errorf("config changes in a JSON round trip:\n%v\n%v", cfg, back)
	}
	if cfg["huge"] != "1e999" {
		t.Errorf("huge = %v", cfg["huge"])
	}
}

func TestSlugify(t *testing.T) {
	for in, want := range map[string]string{
		"Kitchen Ceiling": "kitchen_ceiling", "  __a--b__ ": "a_b", "Wohnzimmer Größe": "wohnzimmer_grosse",
		"0x00158d0001a2b3c4": "0x00158d0001a2b3c4", "温度": "", "Ünïcødé": "unicode", "a.b.c": "a_b_c",
	} {
		if got := slugify(in); got != want {
			t.Errorf("slugify(%q) = %q, want %q", in, got, want)
		}
	}
	long := deviceID(strings.Repeat("x", 100))
	if len(long) != 64 || long == deviceID(strings.Repeat("x", 101)) {
		t.Errorf("long ids: %q", long)
	}
	if got := deviceID("!!!"); !strings.HasPrefix(got, "device_") {
		t.Errorf("deviceID(!!!) = %q", got)
	}
}
