package discovery

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"hubd/devices"
)

// The corpus in testdata/corpus/<source>/<case>/ holds discovery payloads
// shaped like those zigbee2mqtt, Tasmota, ESPHome and Shelly scripts
// publish: topic.txt, config.json and expected.json, which gives the
// device and entities ParseAnnouncement must produce, state messages with
// the State each must leave, and commands with what they must publish.

type corpusCase struct {
	Device   map[string]any  `json:"device"`
	Entities []corpusEntity  `json:"entities"`
	Removed  []string        `json:"removed"`
	Migrate  bool            `json:"migrate"`
	States   []corpusState   `json:"states"`
	Commands []corpusCommand `json:"commands"`
}

type corpusEntity struct {
	ID            string         `json:"id"`
	Component     string         `json:"component"`
	Name          string         `json:"name"`
	DeviceID      string         `json:"device_id"`
	UniqueID      string         `json:"unique_id"`
	DeviceClass   string         `json:"device_class"`
	Unit          string         `json:"unit"`
	StateClass    string         `json:"state_class"`
	Icon          string         `json:"icon"`
	Topics        map[string]any `json:"topics"`
	Absent        []string       `json:"absent"`
	StateTopics   *[]string      `json:"state_topics"`
	CommandTopics *[]string      `json:"command_topics"`
	Availability  *struct {
		Mode                string   `json:"mode"`
		Topics              []string `json:"topics"`
		PayloadAvailable    string   `json:"payload_available"`
		PayloadNotAvailable string   `json:"payload_not_available"`
		TemplatePayload     string   `json:"template_payload"`
		TemplateResult      string   `json:"template_result"`
	} `json:"availability"`
	Unsupported string `json:"unsupported"`
}

type corpusState struct {
	Entity     string         `json:"entity"`
	Topic      string         `json:"topic"`
	Payload    string         `json:"payload"`
	State      string         `json:"state"`
	Attributes map[string]any `json:"attributes"`
	Changed    *bool          `json:"changed"`
	Error      string         `json:"error"`
}

type corpusCommand struct {
	Entity  string                 `json:"entity"`
	Request devices.CommandRequest `json:"request"`
	Current *struct {
		State      string         `json:"state"`
		Attributes map[string]any `json:"attributes"`
	} `json:"current"`
	Topic      string         `json:"topic"`
	Payload    string         `json:"payload"`
	Expect     string         `json:"expect"`
	ExpectAttr map[string]any `json:"expect_attr"`
	Error      string         `json:"error"`
}

func TestCorpus(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "corpus", "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	sources := map[string]int{}
	for _, dir := range dirs {
		sources[filepath.Base(filepath.Dir(dir))]++
		name := filepath.Base(filepath.Dir(dir)) + "/" + filepath.Base(dir)
		t.Run(name, func(t *testing.T) { runCorpusCase(t, dir) })
	}
	if len(sources) < 4 {
		t.Errorf("corpus has %d sources, want at least 4", len(sources))
	}
}

func runCorpusCase(t *testing.T, dir string) {
	topicB, err := os.ReadFile(filepath.Join(dir, "topic.txt"))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	expB, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var exp corpusCase
	dec := json.NewDecoder(bytes.NewReader(expB))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&exp); err != nil {
		t.Fatalf("expected.json: %v", err)
	}
	topic, ok, err := ParseTopic("homeassistant", strings.TrimSpace(string(topicB)))
	if !ok || err != nil {
		t.Fatalf("ParseTopic: ok=%v err=%v", ok, err)
	}
	a, err := ParseAnnouncement(topic, payload)
	if err != nil {
		t.Fatalf("ParseAnnouncement: %v", err)
	}
	if got, want := a.Migrate, exp.Migrate; got != want {
		t.Errorf("Migrate = %v, want %v", got, want)
	}
	if got, want := a.Removed, exp.Removed; !reflect.DeepEqual(got, want) {
		t.Errorf("Removed = %q, want %q", got, want)
	}
	if exp.Device != nil {
		if a.Device == nil {
			t.Fatal("Device = nil")
		}
		assertSubset(t, "device", toJSONValue(t, a.Device), exp.Device)
		for _, e := range a.Entities {
			if !contains(a.Device.Entities, e.ID) {
				t.Errorf("device.Entities = %q, lacks %s", a.Device.Entities, e.ID)
			}
		}
	}
	if got, want := len(a.Entities), len(exp.Entities); got != want {
		t.Fatalf("%d entities, want %d: %+v", got, want, a.Entities)
	}
	codecs := map[string]*Codec{}
	states := map[string]*devices.State{}
	for i, want := range exp.Entities {
		e := a.Entities[i]
		checkCorpusEntity(t, e, want)
		c, err := NewCodec(e)
		if c == nil {
			t.Fatalf("%s: NewCodec returned a nil Codec", e.ID)
		}
		switch {
		case want.Unsupported == "" && err != nil:
			t.Errorf("%s: NewCodec: %v", e.ID, err)
		case want.Unsupported != "" && (err == nil || !strings.Contains(err.Error(), want.Unsupported) || !errorsIsUnsupported(err)):
			t.Errorf("%s: NewCodec error = %v, want one containing %q and wrapping ErrUnsupported", e.ID, err, want.Unsupported)
		}
		checkCodecTopics(t, c, want)
		codecs[e.ID], states[e.ID] = c, &devices.State{EntityID: e.ID}
	}
	pick := func(id string) string {
		if id == "" && len(a.Entities) > 0 {
			return a.Entities[0].ID
		}
		return id
	}
	for i, s := range exp.States {
		id := pick(s.Entity)
		c, st := codecs[id], states[id]
		if c == nil {
			t.Fatalf("state %d: no entity %q", i, id)
		}
		changed, err := c.Apply(st, s.Topic, []byte(s.Payload))
		switch {
		case s.Error == "" && err != nil:
			t.Errorf("state %d (%s): Apply: %v", i, s.Payload, err)
		case s.Error != "" && err == nil:
			t.Errorf("state %d (%s): Apply succeeded, want an error containing %q", i, s.Payload, s.Error)
		case s.Error != "" && (!strings.Contains(err.Error(), s.Error) || devices.ErrorCode(err) != devices.EINVALID):
			t.Errorf("state %d (%s): Apply error = %v, want EINVALID containing %q", i, s.Payload, err, s.Error)
		}
		if got, want := st.State, s.State; got != want {
			t.Errorf("state %d (%s): State = %q, want %q", i, s.Payload, got, want)
		}
		if s.Changed != nil && changed != *s.Changed {
			t.Errorf("state %d (%s): changed = %v, want %v", i, s.Payload, changed, *s.Changed)
		}
		if s.Attributes != nil {
			assertSubset(t, "attributes", toJSONValue(t, st.Attributes), s.Attributes)
		}
	}
	for i, cmd := range exp.Commands {
		id := pick(cmd.Entity)
		c := codecs[id]
		if c == nil {
			t.Fatalf("command %d: no entity %q", i, id)
		}
		var cur devices.State
		if cmd.Current != nil {
			cur.State, cur.Attributes = cmd.Current.State, cmd.Current.Attributes
		}
		topic, payload, expect, expectAttr, err := c.Command(cmd.Request, cur)
		req := cmd.Request.String()
		if cmd.Error != "" {
			if err == nil || !strings.Contains(err.Error(), cmd.Error) || devices.ErrorCode(err) != devices.EINVALID {
				t.Errorf("command %d %s: error = %v, want EINVALID containing %q", i, req, err, cmd.Error)
			} else if !strings.Contains(devices.ErrorMessage(err), id) {
				t.Errorf("command %d %s: error %q does not name %s", i, req, devices.ErrorMessage(err), id)
			}
			continue
		}
		if err != nil {
			t.Errorf("command %d %s: %v", i, req, err)
			continue
		}
		if topic != cmd.Topic || string(payload) != cmd.Payload || expect != cmd.Expect {
			t.Errorf("command %d %s = %q %q expect %q, want %q %q expect %q", i, req, topic, payload, expect, cmd.Topic, cmd.Payload, cmd.Expect)
		}
		if got, want := toJSONValue(t, expectAttr), toJSONValue(t, cmd.ExpectAttr); !reflect.DeepEqual(got, want) {
			t.Errorf("command %d %s: expectAttr = %v, want %v", i, req, got, want)
		}
	}
}

func errorsIsUnsupported(err error) bool { return errors.Is(err, ErrUnsupported) }

func checkCorpusEntity(t *testing.T, e devices.Entity, want corpusEntity) {
	t.Helper()
	for _, f := range []struct{ name, got, want string }{
		{"ID", e.ID, want.ID}, {"Component", e.Component, want.Component}, {"Name", e.Name, want.Name},
		{"DeviceID", e.DeviceID, want.DeviceID}, {"UniqueID", e.UniqueID, want.UniqueID},
		{"DeviceClass", e.DeviceClass, want.DeviceClass}, {"Unit", e.Unit, want.Unit},
		{"StateClass", e.StateClass, want.StateClass}, {"Icon", e.Icon, want.Icon},
	} {
		if f.want != "" && f.got != f.want {
			t.Errorf("entity %s: %s = %q, want %q", e.ID, f.name, f.got, f.want)
		}
	}
	if !strings.HasPrefix(e.ID, e.Component+".") {
		t.Errorf("entity id %q does not start with %q", e.ID, e.Component+".")
	}
	if e.DiscoveryTopic == "" {
		t.Errorf("entity %s: no DiscoveryTopic", e.ID)
	}
	if want.Topics != nil {
		assertSubset(t, "entity "+e.ID+" config", toJSONValue(t, e.Config), want.Topics)
	}
	for _, k := range want.Absent {
		if _, ok := e.Config[k]; ok {
			t.Errorf("entity %s: config has %q", e.ID, k)
		}
	}
	// Every topic in the configuration is absolute: no "~" left at either end.
	for k, v := range e.Config {
		if s, ok := v.(string); ok && strings.HasSuffix(k, "topic") && (strings.HasPrefix(s, "~") || strings.HasSuffix(s, "~")) && k != "availability_topic" {
			t.Errorf("entity %s: %s = %q still has \"~\"", e.ID, k, s)
		}
	}
}

func checkCodecTopics(t *testing.T, c *Codec, want corpusEntity) {
	t.Helper()
	if want.StateTopics != nil {
		if got := c.StateTopics(); !sameSet(got, *want.StateTopics) {
			t.Errorf("%s: StateTopics = %q, want %q", c.id, got, *want.StateTopics)
		}
	}
	if want.CommandTopics != nil {
		if got := c.CommandTopics(); !sameSet(got, *want.CommandTopics) {
			t.Errorf("%s: CommandTopics = %q, want %q", c.id, got, *want.CommandTopics)
		}
	}
	if av := want.Availability; av != nil {
		items, mode := c.Availability()
		if mode != av.Mode {
			t.Errorf("%s: availability mode = %q, want %q", c.id, mode, av.Mode)
		}
		var topics []string
		for _, it := range items {
			topics = append(topics, it.Topic)
		}
		if !reflect.DeepEqual(topics, av.Topics) {
			t.Errorf("%s: availability topics = %q, want %q", c.id, topics, av.Topics)
		}
		if len(items) > 0 && av.PayloadAvailable != "" {
			if items[0].PayloadAvailable != av.PayloadAvailable || items[0].PayloadNotAvailable != av.PayloadNotAvailable {
				t.Errorf("%s: availability payloads = %q/%q, want %q/%q", c.id, items[0].PayloadAvailable, items[0].PayloadNotAvailable, av.PayloadAvailable, av.PayloadNotAvailable)
			}
		}
		if av.TemplatePayload != "" {
			if items[0].Template == nil {
				t.Fatalf("%s: availability has no template", c.id)
			}
			got, err := items[0].Template.Render([]byte(av.TemplatePayload), nil)
			if err != nil || got != av.TemplateResult {
				t.Errorf("%s: availability template gives %q, %v; want %q", c.id, got, err, av.TemplateResult)
			}
		}
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		m[s]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}

// toJSONValue round-trips v through JSON so numbers compare as float64.
func toJSONValue(t testing.TB, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %v: %v", v, err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// assertSubset checks that every key of want is in got with an equal value.
func assertSubset(t *testing.T, what string, got any, want map[string]any) {
	t.Helper()
	g, ok := got.(map[string]any)
	if !ok {
		t.Errorf("%s = %v, want an object", what, got)
		return
	}
	w := toJSONValue(t, want).(map[string]any)
	for k, v := range w {
		if !reflect.DeepEqual(g[k], v) {
			t.Errorf("%s[%q] = %#v, want %#v", what, k, g[k], v)
		}
	}
}
