// Package discovery understands Home Assistant MQTT discovery: it turns
// config payloads into devices and entities, reads their state and builds
// their commands.
//
// The pure part has three pieces. ParseTopic and ParseAnnouncement read
// discovery config topics and payloads (per-entity and device-based, with
// abbreviations expanded and "~" substituted, exactly as Home Assistant
// documents them). CompileTemplate translates the subset of Home Assistant
// (Jinja) templates that devices use into expr programs. A Codec, compiled
// once per entity, reads the entity's state messages and builds its
// commands with Home Assistant's payload defaults.
package discovery
