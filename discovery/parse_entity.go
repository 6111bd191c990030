package discovery

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"sort"
	"strings"
	"unicode/utf8"

	"hubd/devices"
)

// Devices and entities from expanded configurations: ids, names and the
// checks Home Assistant's schemas make.

// device reads the "device" and "origin" blocks. It returns nil when the
// payload has no device block.
func (p *announcementParser) device(cfg map[string]any, required bool) (*devices.Device, error) {
	var origin devices.Origin
	if raw, ok := cfg["origin"]; ok {
		o, ok := raw.(map[string]any)
		if !ok {
			return nil, fmt.Errorf(`"origin" is a JSON %s, not an object`, jsonKind(raw))
		}
		name, ok := o["name"]
		if !ok || !isScalar(name) {
			return nil, errors.New(`"origin" needs a "name"`)
		}
		origin.Name = scalarString(name)
		origin.SWVersion = scalarString(o["sw_version"])
		origin.SupportURL = scalarString(o["support_url"])
	}
	raw, ok := cfg["device"]
	if !ok {
		return nil, nil
	}
	d, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf(`"device" is a JSON %s, not an object`, jsonKind(raw))
	}
	dev := &devices.Device{Origin: origin}
	switch ids := d["identifiers"].(type) {
	case nil:
	case []any:
		for _, id := range ids {
			if !isScalar(id) || id == nil {
				return nil, fmt.Errorf(`device "identifiers" must be strings, found a JSON %s`, jsonKind(id))
			}
			dev.Identifiers = append(dev.Identifiers, scalarString(id))
		}
	default:
		if !isScalar(ids) {
			return nil, fmt.Errorf(`device "identifiers" must be a string or a list of strings, not a JSON %s`, jsonKind(ids))
		}
		dev.Identifiers = []string{scalarString(ids)}
	}
	if rawCns, ok := d["connections"]; ok && rawCns != nil {
		cns, ok := rawCns.([]any)
		if !ok {
			return nil, errors.New(`device "connections" must be a list of [type, value] pairs`)
		}
		for _, c := range cns {
			pair, ok := c.([]any)
			if !ok || len(pair) != 2 || !isScalar(pair[0]) || !isScalar(pair[1]) || pair[0] == nil || pair[1] == nil {
				return nil, errors.New(`device "connections" must be a list of [type, value] pairs`)
			}
			dev.Connections = append(dev.Connections, [2]string{scalarString(pair[0]), scalarString(pair[1])})
		}
	}
	for key, dst := range map[string]*string{
		"name": &dev.Name, "manufacturer": &dev.Manufacturer, "model": &dev.Model, "model_id": &dev.ModelID,
		"sw_version": &dev.SWVersion, "hw_version": &dev.HWVersion, "serial_number": &dev.SerialNumber,
		"via_device": &dev.ViaDevice, "suggested_area": &dev.SuggestedArea, "configuration_url": &dev.ConfigurationURL,
	} {
		if v, ok := d[key]; ok && v != nil {
			if !isScalar(v) {
				return nil, fmt.Errorf("device %q must be a string, not a JSON %s", key, jsonKind(v))
			}
			*dst = scalarString(v)
		}
	}
	switch {
	case len(dev.Identifiers) > 0 && dev.Identifiers[0] != "":
		dev.ID = deviceID(dev.Identifiers[0])
	case len(dev.Connections) > 0:
		dev.ID = deviceID(dev.Connections[0][1])
	case p.t.NodeID != "" && !required:
		dev.ID = deviceID(p.t.NodeID)
	default:
		dev.ID = deviceID(p.t.ObjectID)
	}
	if dev.Name == "" {
		dev.Name = strings.TrimSpace(dev.Manufacturer + " " + dev.Model)
	}
	if dev.Name == "" {
		dev.Name = dev.ID
	}
	dev.Identifiers = append([]string{}, dev.Identifiers...)
	return dev, nil
}

// entity builds the entity for one component configuration.
func (p *announcementParser) entity(component, key string, cfg map[string]any, dev *devices.Device, deviceBased bool) (devices.Entity, error) {
	e := devices.Entity{
		Component:      component,
		DiscoveryTopic: p.topic,
		DeviceClass:    optString(cfg, "device_class"),
		Unit:           optString(cfg, "unit_of_measurement"),
		StateClass:     optString(cfg, "state_class"),
		Icon:           optString(cfg, "icon"),
	}
	if v, ok := cfg["unique_id"]; ok && v != nil {
		if !isScalar(v) {
			return e, fmt.Errorf(`"unique_id" must be a string, not a JSON %s`, jsonKind(v))
		}
		e.UniqueID = scalarString(v)
	}
	devName := ""
	if dev != nil {
		e.DeviceID = dev.ID
		devName = dev.Name
	}
	nodeID := p.t.NodeID
	if deviceBased {
		nodeID = ""
	}
	e.ID = component + "." + entityObjectID(cfg, key, nodeID, devName, deviceBased)

	name, hasName := cfg["name"]
	switch {
	case hasName && name != nil && !isScalar(name):
		return e, fmt.Errorf(`"name" must be a string or null, not a JSON %s`, jsonKind(name))
	case hasName && name != nil && scalarString(name) != "":
		e.Name = scalarString(name)
	case !hasName && e.DeviceClass != "":
		e.Name = humanize(e.DeviceClass)
	}
	if e.Name == "" {
		e.Name = devName
	}
	if e.Name == "" {
		e.Name = humanize(key)
	}
	e.Config = normalizeJSON(cfg).(map[string]any)
	return e, nil
}

// entityObjectID is the part of the entity id after the dot: from
// "default_entity_id" or "object_id" when the payload has them, else from
// the topic's object id (per-entity, prefixed with the node id) or the
// component key (device-based, prefixed with the device name as Home
// Assistant prefixes entity ids with the device name).
func entityObjectID(cfg map[string]any, key, nodeID, devName string, deviceBased bool) string {
	if v, ok := cfg["default_entity_id"]; ok && isScalar(v) {
		s := scalarString(v)
		if i := strings.IndexByte(s, '.'); i >= 0 {
			s = s[i+1:]
		}
		if id := slugify(s); id != "" {
			return clip(id, 128)
		}
	}
	if v, ok := cfg["object_id"]; ok && isScalar(v) {
		if id := slugify(scalarString(v)); id != "" {
			return clip(id, 128)
		}
	}
	base := key
	if nodeID != "" {
		base = nodeID + "_" + key
	}
	id := slugify(base)
	if deviceBased {
		if ds := slugify(devName); ds != "" && id != ds && !strings.HasPrefix(id, ds+"_") {
			id = ds + "_" + id
		}
	}
	if id == "" {
		id = fmt.Sprintf("entity_%08x", fnv32(base))
	}
	return clip(id, 128)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.TrimRight(s[:n], "_")
}

func fnv32(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}

// deviceID sanitises an identifier to [a-z0-9_-], at most 64 bytes; a
// longer one keeps a hash of the whole so ids stay distinct.
func deviceID(s string) string {
	var b strings.Builder
	lastUnderscore := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-':
			b.WriteRune(r)
			lastUnderscore = false
		default:
			if t, ok := transliterations[r]; ok {
				b.WriteString(t)
				lastUnderscore = false
			} else if !lastUnderscore {
				b.WriteByte('_')
				lastUnderscore = true
			}
		}
	}
	id := strings.Trim(b.String(), "_")
	if id == "" {
		return fmt.Sprintf("device_%08x", fnv32(s))
	}
	if len(id) > 64 {
		id = strings.TrimRight(id[:55], "_") + "_" + fmt.Sprintf("%08x", fnv32(s))
	}
	return id
}

// slugify lowercases s to [a-z0-9_], as Home Assistant's slugify does for
// entity ids: other characters become "_", runs of "_" collapse and
// leading or trailing "_" go.
func slugify(s string) string {
	var b strings.Builder
	lastUnderscore := true
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			lastUnderscore = false
		default:
			if t, ok := transliterations[r]; ok {
				b.WriteString(t)
				lastUnderscore = false
			} else if !lastUnderscore {
				b.WriteByte('_')
				lastUnderscore = true
			}
		}
	}
	return strings.TrimRight(b.String(), "_")
}

// transliterations are the common Latin letters slugify spells in ASCII.
var transliterations = map[rune]string{
	'à': "a", 'á': "a", 'â': "a", 'ã': "a", 'ä': "a", 'å': "a", 'æ': "ae", 'ç': "c",
	'è': "e", 'é': "e", 'ê': "e", 'ë': "e", 'ì': "i", 'í': "i", 'î': "i", 'ï': "i",
	'ñ': "n", 'ò': "o", 'ó': "o", 'ô': "o", 'õ': "o", 'ö': "o", 'ø': "o", 'ù': "u",
	'ú': "u", 'û': "u", 'ü': "u", 'ý': "y", 'ÿ': "y", 'ß': "ss", 'œ': "oe", 'ł': "l",
	'š': "s", 'ž': "z", 'č': "c", 'ř': "r", 'ě': "e", 'ů': "u", 'ő': "o", 'ű': "u",
}

// humanize turns "carbon_dioxide" into "Carbon dioxide".
func humanize(s string) string {
	s = strings.TrimSpace(strings.ReplaceAll(s, "_", " "))
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	return strings.ToUpper(string(r)) + s[n:]
}

// validateConfig checks a component configuration as Home Assistant's
// schema would reject it: topics, required options, availability.
func validateConfig(component string, cfg map[string]any) error {
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.HasSuffix(k, "topic") {
			if err := checkTopic(k, cfg[k]); err != nil {
				return err
			}
		}
	}
	for _, k := range requiredOptions[component] {
		if v, ok := cfg[k]; !ok || v == nil {
			return fmt.Errorf("%s needs %q", component, k)
		}
	}
	switch component {
	case "select":
		opts, ok := cfg["options"].([]any)
		if !ok || len(opts) == 0 {
			return errors.New(`select "options" must be a non-empty list`)
		}
		for _, o := range opts {
			if !isScalar(o) || o == nil {
				return errors.New(`select "options" must be strings`)
			}
		}
	case "light":
		if s, ok := cfg["schema"]; ok {
			switch s {
			case "default", "basic", "json", "template":
			default:
				return fmt.Errorf(`light "schema" must be "basic", "json" or "template", not %v`, s)
			}
			if s == "template" {
				for _, k := range []string{"command_on_template", "command_off_template"} {
					if _, ok := cfg[k]; !ok {
						return fmt.Errorf("light with template schema needs %q", k)
					}
				}
			}
		}
	case "image":
		_, url := cfg["url_topic"]
		_, img := cfg["image_topic"]
		if url == img {
			return errors.New(`image needs exactly one of "url_topic" and "image_topic"`)
		}
	}
	if m, ok := cfg["availability_mode"]; ok && m != "latest" && m != "all" && m != "any" {
		return fmt.Errorf(`"availability_mode" must be "latest", "all" or "any", not %v`, m)
	}
	if raw, ok := cfg["availability"]; ok && raw != nil {
		items, isList := raw.([]any)
		if !isList {
			items = []any{raw}
		}
		for i, item := range items {
			im, ok := item.(map[string]any)
			if !ok {
				return fmt.Errorf(`"availability" item %d is a JSON %s, not an object`, i, jsonKind(item))
			}
			if _, ok := im["topic"]; !ok {
				return fmt.Errorf(`"availability" item %d needs a "topic"`, i)
			}
			if err := checkTopic(fmt.Sprintf("availability[%d].topic", i), im["topic"]); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkTopic refuses an empty topic, a wildcard in a topic option, or one
// MQTT could not carry.
func checkTopic(key string, v any) error {
	s, ok := v.(string)
	switch {
	case v == nil:
		return fmt.Errorf("%q is null", key)
	case !ok:
		return fmt.Errorf("%q must be a string, not a JSON %s", key, jsonKind(v))
	case s == "":
		return fmt.Errorf("%q is empty", key)
	case strings.ContainsAny(s, "+#"):
		return fmt.Errorf("%q is %q: wildcards are not allowed", key, truncate(s, 80))
	case strings.ContainsRune(s, 0) || !utf8.ValidString(s) || len(s) > 65535:
		return fmt.Errorf("%q is not a valid MQTT topic", key)
	}
	return nil
}

// isScalar reports whether v is a JSON string, number, boolean or null.
func isScalar(v any) bool {
	switch v.(type) {
	case nil, string, bool, json.Number, float64:
		return true
	}
	return false
}

// scalarString is Home Assistant's cv.string for a decoded JSON scalar:
// numbers keep their JSON text, booleans become "True" and "False".
func scalarString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return string(x)
	case bool:
		if x {
			return "True"
		}
		return "False"
	case float64:
		return formatNumber(x, true)
	}
	return ""
}

func optString(cfg map[string]any, key string) string {
	v, ok := cfg[key]
	if !ok || !isScalar(v) {
		return ""
	}
	return scalarString(v)
}

// normalizeJSON turns json.Number into float64 (or its text when it does
// not fit) so that a configuration looks the same before and after a JSON
// round trip.
func normalizeJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return string(x)
		}
		return f
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalizeJSON(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalizeJSON(e)
		}
		return out
	}
	return v
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopy(e)
		}
		return out
	}
	return v
}
