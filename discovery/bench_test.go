package discovery

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hubd/devices"
)

// BenchmarkParseAnnouncement parses every config of the corpus; it reports
// configs/s.
func BenchmarkParseAnnouncement(b *testing.B) {
	dirs, _ := filepath.Glob(filepath.Join("testdata", "corpus", "*", "*"))
	type input struct {
		t       Topic
		payload []byte
	}
	var inputs []input
	for _, dir := range dirs {
		topic, err1 := os.ReadFile(filepath.Join(dir, "topic.txt"))
		payload, err2 := os.ReadFile(filepath.Join(dir, "config.json"))
		if err1 != nil || err2 != nil {
			b.Fatal(err1, err2)
		}
		t, _, _ := ParseTopic("homeassistant", strings.TrimSpace(string(topic)))
		inputs = append(inputs, input{t, payload})
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		in := inputs[n%len(inputs)]
		if _, err := ParseAnnouncement(in.t, in.payload); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "configs/s")
}

// BenchmarkApply applies state messages: a zigbee2mqtt JSON light, a
// Tasmota sensor read through a template, a plain ESPHome switch. It
// reports state updates/s.
func BenchmarkApply(b *testing.B) {
	for _, bc := range []struct {
		name, topic, cfg, state string
		payloads                []string
	}{
		{"json_light", "homeassistant/light/x/config",
			`{"schema":"json","cmd_t":"z/l/set","stat_t":"z/l","json_attr_t":"z/l","brightness":true,"brightness_scale":254,"sup_clrm":["color_temp"]}`, "z/l",
			[]string{`{"brightness":254,"color_mode":"color_temp","color_temp":370,"linkquality":132,"state":"ON"}`, `{"brightness":10,"color_temp":250,"linkquality":120,"state":"OFF"}`}},
		{"template_sensor", "homeassistant/sensor/x/config",
			`{"stat_t":"t/SENSOR","unit_of_meas":"°C","val_tpl":"{{value_json['AM2301'].Temperature | round(1)}}"}`, "t/SENSOR",
			[]string{`{"Time":"2025-01-12T10:15:00","AM2301":{"Temperature":21.44,"Humidity":46.2},"TempUnit":"C"}`, `{"AM2301":{"Temperature":21.56}}`}},
		{"plain_switch", "homeassistant/switch/x/config", `{"cmd_t":"s/set","stat_t":"s"}`, "s", []string{"ON", "OFF"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := codecFor(b, bc.topic, bc.cfg)
			payloads := make([][]byte, len(bc.payloads))
			for i, p := range bc.payloads {
				payloads[i] = []byte(p)
			}
			var st devices.State
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				if _, err := c.Apply(&st, bc.state, payloads[n%len(payloads)]); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "updates/s")
		})
	}
}
