package main

import (
	"cmp"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"hubd/hub"
	"hubd/hub/auth"
)

// Config is hubd's configuration file (YAML).
//
// A Config holds the values in effect: DefaultConfig's, overlaid by the
// file's (ParseConfig), overlaid by whatever the caller sets afterwards
// (flags). Validate checks the result and HubOptions turns it into the
// options the hub runs with.
type Config struct {
	// DataDir is the directory holding the database.
	DataDir string `yaml:"data_dir"`
	// Log configures logging.
	Log LogConfig `yaml:"log"`
	// MQTT configures the broker and its plain TCP listener.
	MQTT MQTTConfig `yaml:"mqtt"`
	// WebSocket configures MQTT over WebSocket.
	WebSocket WebSocketConfig `yaml:"websocket"`
	// TLS configures MQTT over TLS.
	TLS TLSConfig `yaml:"tls"`
	// HTTP configures the HTTP listener.
	HTTP HTTPConfig `yaml:"http"`
	// Discovery configures device discovery, pairing and commands.
	Discovery DiscoveryConfig `yaml:"discovery"`
	// ACL lists the access rules, in order.
	ACL []ACLRule `yaml:"acl"`

	// src records where ParseConfig found each value so that errors can
	// name the file and line; nil when the Config was not parsed.
	src *configSource
}

// LogConfig configures logging.
type LogConfig struct {
	// Format is "text" or "json".
	Format string `yaml:"format"`
	// Level is the least severe level logged: "debug", "info", "warn" or
	// "error".
	Level string `yaml:"level"`
}

// MQTTConfig configures the broker and its plain TCP listener. See
// hub.MQTTOptions for what each setting does.
type MQTTConfig struct {
	// Addr is the listen address (host:port); empty disables the listener.
	Addr string `yaml:"addr"`
	// AllowAnonymous lets clients connect without credentials.
	AllowAnonymous bool `yaml:"allow_anonymous"`
	// MaxPacketSize is the largest packet accepted, in bytes
	// (1..268435455).
	MaxPacketSize int `yaml:"max_packet_size"`
	// MaxQueuedMessages caps the QoS 1/2 messages held per session, in
	// flight plus queued while offline (1..65535).
	MaxQueuedMessages int `yaml:"max_queued_messages"`
	// MaxInflight is the receive maximum (1..65535).
	MaxInflight int `yaml:"max_inflight"`
	// MaxKeepAlive caps the keep-alive a client may ask for, in seconds
	// (0..65535); 0 leaves the client's choice alone.
	MaxKeepAlive int `yaml:"max_keepalive"`
	// SysInterval is how often $SYS topics are refreshed (at least 1s).
	SysInterval time.Duration `yaml:"sys_interval"`
	// CommitInterval is the longest the storage writer waits to gather
	// writes into one transaction (0..1s).
	CommitInterval time.Duration `yaml:"commit_interval"`
}

// WebSocketConfig configures MQTT over WebSocket.
type WebSocketConfig struct {
	// Addr is the listen address (host:port); empty disables the listener.
	Addr string `yaml:"addr"`
	// Path is the URL path that upgrades to MQTT; it starts with "/".
	Path string `yaml:"path"`
	// AllowedOrigins lists the Origin header values accepted: "*" or
	// scheme://host[:port] with scheme http or https.
	AllowedOrigins []string `yaml:"allowed_origins"`
}

// TLSConfig configures MQTT over TLS. The listener is enabled when Addr,
// CertFile and KeyFile are all set.
type TLSConfig struct {
	// Addr is the listen address (host:port); empty disables the listener.
	Addr string `yaml:"addr"`
	// CertFile is the PEM server certificate (chain).
	CertFile string `yaml:"cert_file"`
	// KeyFile is the PEM private key of CertFile.
	KeyFile string `yaml:"key_file"`
	// ClientCAFile, if set, holds the PEM CA certificates that client
	// certificates are verified against.
	ClientCAFile string `yaml:"client_ca_file"`
	// RequireClientCert refuses clients without a valid certificate; it
	// needs ClientCAFile.
	RequireClientCert bool `yaml:"require_client_cert"`
	// CNAsUsername takes a verified client certificate's common name as
	// the username; it needs ClientCAFile.
	CNAsUsername bool `yaml:"cn_as_username"`
}

// DiscoveryConfig configures Home-Assistant-style device discovery.
type DiscoveryConfig struct {
	// Prefix is the discovery topic prefix.
	Prefix string `yaml:"prefix"`
	// AutoPair pairs new devices without asking, as Home Assistant does.
	AutoPair bool `yaml:"auto_pair"`
	// CommandTimeout is how long a delivered command waits for the device
	// to report the requested state.
	CommandTimeout time.Duration `yaml:"command_timeout"`
	// MDNS advertises the hub and lists devices seen on the LAN.
	MDNS bool `yaml:"mdns"`
}

// HTTPConfig configures the HTTP listener.
type HTTPConfig struct {
	// Addr is the listen address (host:port); empty disables the listener.
	Addr string `yaml:"addr"`
}

// ACLRule is one access rule as written in the configuration file. It
// becomes an auth.Rule.
type ACLRule struct {
	// User, Role and Client, when set, restrict whom the rule applies to.
	User   string `yaml:"user"`
	Role   string `yaml:"role"`
	Client string `yaml:"client"`
	// Topic is the MQTT topic filter the rule covers (required); %u and %c
	// stand for the username and client ID.
	Topic string `yaml:"topic"`
	// Access is "read", "write" or "readwrite" (required).
	Access string `yaml:"access"`
	// Deny makes the rule refuse what it matches instead of allowing it.
	Deny bool `yaml:"deny"`
}

// DefaultConfig returns the configuration used for everything the file does
// not set.
func DefaultConfig() Config {
	return Config{
		DataDir: "./hubd-data",
		Log: LogConfig{
			Format: "text",
			Level:  "info",
		},
		MQTT: MQTTConfig{
			Addr:              ":1883",
			MaxPacketSize:     1 << 20,
			MaxQueuedMessages: 1000,
			MaxInflight:       100,
			SysInterval:       10 * time.Second,
			CommitInterval:    10 * time.Millisecond,
		},
		WebSocket: WebSocketConfig{
			Addr: ":8083",
			Path: "/mqtt",
		},
		TLS: TLSConfig{
			Addr: ":8883",
		},
		HTTP: HTTPConfig{
			Addr: ":8080",
		},
		Discovery: DiscoveryConfig{
			Prefix:         "homeassistant",
			CommandTimeout: 10 * time.Second,
			MDNS:           true,
		},
	}
}

// Limits on configuration values.
const (
	configMaxPacketSize = 268435455 // MQTT's largest remaining length
	configMaxUint16     = 65535
	configMaxPEMSize    = 1 << 20 // bytes read from a certificate or key file
)

// ConfigError is one problem with a configuration.
type ConfigError struct {
	// File names the configuration file; empty when the value did not come
	// from a file (a default, or set by a flag).
	File string
	// Line is the 1-based line of the offending key or value in File; 0
	// when unknown.
	Line int
	// Field is the setting's path, such as "mqtt.addr" or "acl[2].topic";
	// empty for problems with the file as a whole (YAML syntax).
	Field string
	// Msg says what is wrong.
	Msg string
}

// Error returns "file:line: field: msg", leaving out whatever is unknown.
func (e *ConfigError) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		b.WriteString(e.File + ": ")
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ConfigErrors is every problem found in a configuration, in file order.
type ConfigErrors []*ConfigError

// Error returns one line per problem.
func (e ConfigErrors) Error() string {
	lines := make([]string, len(e))
	for i, err := range e {
		lines[i] = err.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the individual problems, for errors.As.
func (e ConfigErrors) Unwrap() []error {
	errs := make([]error, len(e))
	for i, err := range e {
		errs[i] = err
	}
	return errs
}

// Err returns e as an error, or nil when e is empty. Use it rather than
// converting e directly: an empty ConfigErrors in an error is not nil.
func (e ConfigErrors) Err() error {
	if len(e) == 0 {
		return nil
	}
	return e
}

// sort orders e by line, problems without a line last, keeping the order
// of problems on the same line.
func (e ConfigErrors) sort() {
	key := func(e *ConfigError) int {
		if e.Line == 0 {
			return math.MaxInt
		}
		return e.Line
	}
	slices.SortStableFunc(e, func(a, b *ConfigError) int { return cmp.Compare(key(a), key(b)) })
}

// LoadConfigFile reads and parses the configuration file at path. See
// ParseConfig.
func LoadConfigFile(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return DefaultConfig(), fmt.Errorf("read config: %w", err)
	}
	return ParseConfig(path, data)
}

// ParseConfig parses the YAML configuration data over DefaultConfig and
// validates the result. name names the data in error messages.
//
// Environment variables are expanded in values (not keys): ${NAME} and
// $NAME are replaced by the variable's value, $$ by a single "$"; an unset
// variable is an error. An empty file, or one holding only comments, gives
// DefaultConfig.
//
// The error, if any, is a ConfigErrors holding every problem found, each
// naming the line of the offending key or value. On error the returned
// Config holds what could be decoded and should not be used.
func ParseConfig(name string, data []byte) (Config, error) {
	c := DefaultConfig()
	d := &configDecoder{file: name, pos: map[string]configPos{}}
	root, ok := d.parse(data)
	if !ok {
		return c, d.errs
	}
	if root != nil {
		d.decodeRoot(root, &c)
	}
	c.src = &configSource{file: name, pos: d.pos}

	// A value that failed to decode was left at its default or zero, so
	// leave out what Validate says about that field or inside it.
	errs := d.errs
	for _, e := range c.Validate() {
		if !slices.ContainsFunc(d.failed, func(field string) bool {
			rest, ok := strings.CutPrefix(e.Field, field)
			return ok && (rest == "" || rest[0] == '.' || rest[0] == '[')
		}) {
			errs = append(errs, e)
		}
	}
	errs.sort()
	return c, errs.Err()
}

// configSource records where ParseConfig found each value.
type configSource struct {
	file string
	// pos maps a field path ("mqtt.addr", "acl[0]", "acl[0].topic") to
	// where it was set and the value decoded there.
	pos map[string]configPos
}

// configPos is where a value was set and what it was.
type configPos struct {
	line  int
	value string // fmt.Sprint of the decoded value
}

// line returns the line that set field to value, or 0 if field was not set
// by the file or has been changed since.
func (s *configSource) line(field string, value any) int {
	if s == nil {
		return 0
	}
	p, ok := s.pos[field]
	if !ok || p.value != fmt.Sprint(value) {
		return 0
	}
	return p.line
}

// HubOptions validates c and converts it into the options the hub runs
// with. The caller sets Logger, Version and Inherited. Each ACL rule's
// Source is "file:line" when the rule came from a file, "acl[i]" otherwise.
func (c Config) HubOptions() (hub.Options, error) {
	if errs := c.Validate(); len(errs) > 0 {
		return hub.Options{}, errs
	}
	var rules []auth.Rule
	for i, r := range c.ACL {
		access, err := auth.ParseAccess(r.Access)
		if err != nil {
			return hub.Options{}, fmt.Errorf("acl[%d].access: %w", i, err)
		}
		source := fmt.Sprintf("acl[%d]", i)
		if line := c.src.line(source, r); line > 0 {
			source = fmt.Sprintf("%s:%d", c.src.file, line)
		}
		rules = append(rules, auth.Rule{
			User:   r.User,
			Role:   auth.Role(r.Role),
			Client: r.Client,
			Topic:  r.Topic,
			Access: access,
			Deny:   r.Deny,
			Source: source,
		})
	}
	return hub.Options{
		DataDir: c.DataDir,
		MQTT: hub.MQTTOptions{
			Addr:              c.MQTT.Addr,
			AllowAnonymous:    c.MQTT.AllowAnonymous,
			MaxPacketSize:     uint32(c.MQTT.MaxPacketSize),
			MaxQueuedMessages: uint16(c.MQTT.MaxQueuedMessages),
			MaxInflight:       uint16(c.MQTT.MaxInflight),
			MaxKeepAlive:      uint16(c.MQTT.MaxKeepAlive),
			SysInterval:       c.MQTT.SysInterval,
			CommitInterval:    c.MQTT.CommitInterval,
		},
		WebSocket: hub.WebSocketOptions{
			Addr:           c.WebSocket.Addr,
			Path:           c.WebSocket.Path,
			AllowedOrigins: slices.Clone(c.WebSocket.AllowedOrigins),
		},
		TLS: hub.TLSOptions{
			Addr:              c.TLS.Addr,
			CertFile:          c.TLS.CertFile,
			KeyFile:           c.TLS.KeyFile,
			ClientCAFile:      c.TLS.ClientCAFile,
			RequireClientCert: c.TLS.RequireClientCert,
			CNAsUsername:      c.TLS.CNAsUsername,
		},
		HTTP: hub.HTTPOptions{
			Addr: c.HTTP.Addr,
		},
		Discovery: hub.DiscoveryOptions{
			Prefix:         c.Discovery.Prefix,
			AutoPair:       c.Discovery.AutoPair,
			CommandTimeout: c.Discovery.CommandTimeout,
			MDNS:           c.Discovery.MDNS,
		},
		ACL: rules,
	}, nil
}
