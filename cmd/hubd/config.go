package main

import (
	"bytes"
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

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

// configDecoder walks a YAML node tree into a Config, collecting errors
// and the positions of the values it sets.
type configDecoder struct {
	file   string
	errs   ConfigErrors
	pos    map[string]configPos
	failed []string // fields whose values could not be decoded
}

func (d *configDecoder) errorf(line int, field, format string, args ...any) {
	d.errs = append(d.errs, &ConfigError{File: d.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// fail records that the value of field could not be decoded.
func (d *configDecoder) fail(line int, field, format string, args ...any) {
	d.errorf(line, field, format, args...)
	d.failed = append(d.failed, field)
}

// parse decodes data into a node tree. It returns the top-level node, nil
// for an empty document, and false after a syntax error.
func (d *configDecoder) parse(data []byte) (root *yaml.Node, ok bool) {
	if bytes.HasPrefix(data, []byte{0xFE, 0xFF}) || bytes.HasPrefix(data, []byte{0xFF, 0xFE}) {
		d.errorf(1, "", "the file is UTF-16 encoded; save it as UTF-8")
		return nil, false
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := configDecodeNode(dec, &doc); err == io.EOF {
		return nil, true
	} else if err != nil {
		d.syntaxError(data, err)
		return nil, false
	}
	var next yaml.Node
	if err := configDecodeNode(dec, &next); err != io.EOF {
		if err != nil {
			d.syntaxError(data, err)
		} else {
			d.errorf(next.Line, "", "found a second YAML document; a configuration file holds one")
		}
		return nil, false
	}
	if len(doc.Content) == 0 {
		return nil, true
	}
	return doc.Content[0], true
}

// configDecodeNode decodes the next document, turning a panic inside the
// YAML parser into an error so that a parser bug cannot crash hubd.
func configDecodeNode(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: YAML parser failed: %v", r)
		}
	}()
	return dec.Decode(n)
}

// syntaxError records a yaml.v3 error as a ConfigError on the line it
// concerns.
func (d *configDecoder) syntaxError(data []byte, err error) {
	msg := configYAMLMessage(err)
	d.errorf(configLocateError(data, msg), "", "%s", msg)
}

// configYAMLMessage returns a yaml.v3 error's message without its "yaml: "
// and "line N: " prefixes.
func configYAMLMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, m, ok := strings.Cut(rest, ": "); ok {
			if _, err := strconv.Atoi(num); err == nil {
				return m
			}
		}
	}
	return msg
}

// configLocateError returns the line of data that yaml.v3 error message
// msg is about. yaml.v3 reports no line for some errors and, for others,
// the line where the enclosing construct starts (off by one for parser
// errors). Instead, find the fewest whole lines from the start of data that
// fail with the same message: the last of them holds the problem.
func configLocateError(data []byte, msg string) int {
	ends := configLineEnds(data)
	lo, hi := 1, len(ends)
	for lo < hi {
		mid := lo + (hi-lo)/2
		if err := configCheckSyntax(data[:ends[mid-1]]); err != nil && configYAMLMessage(err) == msg {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// configCheckSyntax parses every document in data, returning the first
// error.
func configCheckSyntax(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		if err := configDecodeNode(dec, &n); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}

// configLineEnds returns the offset just past each line of data, as YAML
// counts lines: CR, LF, CRLF, NEL, LS and PS end a line, and a final line
// break does not start another.
func configLineEnds(data []byte) []int {
	var ends []int
	lineOpen := false
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == '\r' && i+1 < len(data) && data[i+1] == '\n':
			size = 2
			fallthrough
		case r == '\r', r == '\n', r == 0x85, r == 0x2028, r == 0x2029:
			ends = append(ends, i+size)
			lineOpen = false
		default:
			lineOpen = true
		}
		i += size
	}
	if lineOpen {
		ends = append(ends, len(data))
	}
	return ends
}

// decodeRoot decodes the top-level node into c.
func (d *configDecoder) decodeRoot(n *yaml.Node, c *Config) {
	n = configResolve(n)
	if configIsNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n.Line, "", "%s at the top level; the configuration must be a mapping (key: value)", configDescribe(n))
		return
	}
	d.decode(n, reflect.ValueOf(c).Elem(), "")
}

// decode decodes n into v, the setting at path field.
func (d *configDecoder) decode(n *yaml.Node, v reflect.Value, field string) {
	switch {
	case v.Kind() == reflect.Struct:
		d.decodeStruct(n, v, field)
	case v.Kind() == reflect.Slice:
		d.decodeSlice(n, v, field)
	default:
		d.decodeScalar(n, v, field)
	}
}

func (d *configDecoder) decodeStruct(n *yaml.Node, v reflect.Value, field string) {
	line := n.Line
	n = configResolve(n)
	if configIsNull(n) {
		return // an empty section keeps its defaults
	}
	if n.Kind != yaml.MappingNode {
		d.fail(line, field, "%s is not a mapping", configDescribe(n))
		return
	}
	t := v.Type()
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := configResolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(n.Content[i].Line, field, "%s is not a valid key", configDescribe(k))
			continue
		}
		name := k.Value
		kf := configJoin(field, name)
		if first, dup := seen[name]; dup {
			d.errorf(n.Content[i].Line, kf, "duplicate key (first set on line %d)", first)
			continue
		}
		seen[name] = n.Content[i].Line
		idx, keys := -1, make([]string, 0, t.NumField())
		for j := range t.NumField() {
			f := t.Field(j)
			tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || tag == "" || tag == "-" {
				continue
			}
			if tag == name {
				idx = j
			}
			keys = append(keys, tag)
		}
		if idx < 0 {
			hint := configSuggest(name, keys)
			if name == "<<" && k.Tag == "!!merge" {
				hint = " (YAML merge keys are not supported)"
			}
			d.errorf(n.Content[i].Line, kf, "unknown key%s", hint)
			continue
		}
		d.decode(val, v.Field(idx), kf)
	}
}

func (d *configDecoder) decodeSlice(n *yaml.Node, v reflect.Value, field string) {
	line := n.Line
	n = configResolve(n)
	if configIsNull(n) {
		v.Set(reflect.Zero(v.Type()))
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(line, field, "%s is not a list", configDescribe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, e := range n.Content {
		ef := fmt.Sprintf("%s[%d]", field, i)
		d.decode(e, s.Index(i), ef)
		if _, ok := d.pos[ef]; !ok {
			d.pos[ef] = configPos{line: e.Line, value: fmt.Sprint(s.Index(i).Interface())}
		}
	}
	v.Set(s)
}

func (d *configDecoder) decodeScalar(n *yaml.Node, v reflect.Value, field string) {
	line := n.Line
	n = configResolve(n)
	isDuration := v.Type() == reflect.TypeFor[time.Duration]()
	var want string
	switch {
	case isDuration:
		want = "a duration"
	case v.Kind() == reflect.String:
		want = "a string"
	case v.Kind() == reflect.Bool:
		want = "a boolean"
	case v.Kind() == reflect.Int:
		want = "an integer"
	default:
		panic("config: unsupported field type " + v.Type().String())
	}
	if n.Kind != yaml.ScalarNode {
		d.fail(line, field, "%s is not %s", configDescribe(n), want)
		return
	}
	if configIsNull(n) {
		if v.Kind() == reflect.String {
			d.fail(line, field, `missing value (write "" for an empty string)`)
		} else {
			d.fail(line, field, "missing value")
		}
		return
	}
	s, err := configExpandEnv(n.Value)
	if err != nil {
		d.fail(line, field, "%v", err)
		return
	}
	quoted := configQuote(s)
	if s != n.Value {
		quoted += " (from " + configQuote(n.Value) + ")"
	}
	switch {
	case isDuration:
		dur, err := time.ParseDuration(s)
		if err != nil {
			d.fail(line, field, `%s is not a duration (such as "10s" or "500ms")`, quoted)
			return
		}
		v.SetInt(int64(dur))
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Bool:
		switch s {
		case "true", "True", "TRUE":
			v.SetBool(true)
		case "false", "False", "FALSE":
			v.SetBool(false)
		default:
			d.fail(line, field, "%s is not a boolean (true or false)", quoted)
			return
		}
	case v.Kind() == reflect.Int:
		i, err := strconv.ParseInt(s, 10, 0)
		if errors.Is(err, strconv.ErrRange) {
			d.fail(line, field, "%s is out of range", quoted)
			return
		} else if err != nil {
			d.fail(line, field, "%s is not an integer", quoted)
			return
		}
		v.SetInt(i)
	}
	d.pos[field] = configPos{line: line, value: fmt.Sprint(v.Interface())}
}

// configResolve follows an alias to the node it names.
func configResolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 8; i++ {
		n = n.Alias
	}
	return n
}

// configIsNull reports whether n is an empty value ("", "~" or "null").
func configIsNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// configDescribe names n in an error message: its quoted value, or the
// kind of collection.
func configDescribe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return configQuote(n.Value)
	}
	return "a YAML node of unknown kind"
}

// configQuote quotes s for an error message, shortening long values.
func configQuote(s string) string {
	const maxLen = 64
	if len(s) > maxLen {
		cut := maxLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "..."
	}
	return strconv.Quote(s)
}

// configJoin appends key to the field path parent.
func configJoin(parent, key string) string {
	simple := key != ""
	for _, r := range key {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			simple = false
			break
		}
	}
	if !simple {
		key = configQuote(key)
	}
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// configSuggest returns ` (did you mean "x"?)` for the known key closest
// to name, if one is close enough to be a likely typo.
func configSuggest(name string, keys []string) string {
	limit := min(2, (len(name)+1)/3) + 1 // distances below limit qualify
	best, bestDist := "", limit
	lname := strings.ToLower(name)
	for _, k := range keys {
		if d := configEditDistance(lname, k, bestDist); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// configEditDistance returns the number of single-byte insertions,
// deletions, substitutions and swaps of neighbours that turn a into b, or
// limit if that is limit or more.
func configEditDistance(a, b string, limit int) int {
	if len(a) > 64 || len(a)-len(b) >= limit || len(b)-len(a) >= limit {
		return limit
	}
	// d[i][j] is the distance between a[:i] and b[:j].
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return min(d[len(a)][len(b)], limit)
}

// configExpandEnv replaces ${NAME} and $NAME in s by the value of the
// environment variable NAME, and $$ by "$". A "$" followed by anything
// else stays as it is.
func configExpandEnv(s string) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	isStart := func(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	isName := func(c byte) bool { return isStart(c) || c >= '0' && c <= '9' }
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			i++
			continue
		}
		var name string
		switch next := s[i+1]; {
		case next == '$':
			b.WriteByte('$')
			i += 2
			continue
		case next == '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", fmt.Errorf(`%s: "${" without a closing "}"`, configQuote(s))
			}
			name = s[i+2 : i+2+end]
			i += 2 + end + 1
			valid := name != "" && isStart(name[0])
			for j := 1; valid && j < len(name); j++ {
				valid = isName(name[j])
			}
			if !valid {
				return "", fmt.Errorf("%s: %s is not a valid environment variable name", configQuote(s), configQuote(name))
			}
		case isStart(next):
			j := i + 2
			for j < len(s) && isName(s[j]) {
				j++
			}
			name = s[i+1 : j]
			i = j
		default:
			b.WriteByte('$')
			i++
			continue
		}
		val, ok := os.LookupEnv(name)
		if !ok {
			return "", fmt.Errorf("environment variable %s is not set (write $$ for a literal \"$\")", name)
		}
		b.WriteString(val)
	}
	return b.String(), nil
}

// Validate checks the values in c and returns every problem found, or
// nil. Each problem names the file and line that set the value when it
// came from ParseConfig unchanged, and no file otherwise (a default, or a
// value set since, such as by a flag). Validate reads the TLS files to
// check them.
func (c Config) Validate() ConfigErrors {
	v := &configValidator{src: c.src}

	if c.DataDir == "" {
		v.errorf("data_dir", c.DataDir, "", "missing (required)")
	}
	v.oneOf("log.format", c.Log.Format, "text", "json")
	v.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")

	m := c.MQTT
	mqttOK := v.addr("mqtt.addr", m.Addr)
	v.intRange("mqtt.max_packet_size", m.MaxPacketSize, 1, configMaxPacketSize)
	v.intRange("mqtt.max_queued_messages", m.MaxQueuedMessages, 1, configMaxUint16)
	v.intRange("mqtt.max_inflight", m.MaxInflight, 1, configMaxUint16)
	v.intRange("mqtt.max_keepalive", m.MaxKeepAlive, 0, configMaxUint16)
	if m.SysInterval < time.Second {
		v.errorf("mqtt.sys_interval", m.SysInterval, "", "%s is too short (at least 1s)", configQuote(m.SysInterval.String()))
	}
	if m.CommitInterval < 0 || m.CommitInterval > time.Second {
		v.errorf("mqtt.commit_interval", m.CommitInterval, "", "%s is out of range (0s to 1s)", configQuote(m.CommitInterval.String()))
	}

	ws := c.WebSocket
	wsOK := v.addr("websocket.addr", ws.Addr)
	if !strings.HasPrefix(ws.Path, "/") {
		v.errorf("websocket.path", ws.Path, "", `%s does not start with "/"`, configQuote(ws.Path))
	}
	for i, o := range ws.AllowedOrigins {
		if reason := configCheckOrigin(o); reason != "" {
			v.errorf(fmt.Sprintf("websocket.allowed_origins[%d]", i), o, "",
				`%s: %s (want "*" or scheme://host[:port] with scheme http or https)`, configQuote(o), reason)
		}
	}

	if d := c.Discovery; d.Prefix == "" || strings.ContainsAny(d.Prefix, "+#$") || strings.HasPrefix(d.Prefix, "/") || strings.HasSuffix(d.Prefix, "/") {
		v.errorf("discovery.prefix", d.Prefix, "", `%s is not a topic prefix (non-empty, no "+", "#" or "$", no leading or trailing "/")`, configQuote(d.Prefix))
	}
	if t := c.Discovery.CommandTimeout; t < 100*time.Millisecond || t > 10*time.Minute {
		v.errorf("discovery.command_timeout", t, "", "%s is out of range (100ms to 10m)", configQuote(t.String()))
	}

	tlsOK := v.addr("tls.addr", c.TLS.Addr)
	tlsOn := v.tls(c.TLS)
	httpOK := v.addr("http.addr", c.HTTP.Addr)

	// Two listeners cannot bind the same address (":0" picks a free port
	// each time, so it can be shared).
	type listener struct{ field, addr string }
	var ls []listener
	for _, l := range []struct {
		field, addr string
		on          bool
	}{
		{"mqtt.addr", m.Addr, mqttOK},
		{"websocket.addr", ws.Addr, wsOK},
		{"tls.addr", c.TLS.Addr, tlsOK && tlsOn},
		{"http.addr", c.HTTP.Addr, httpOK},
	} {
		if _, port, _ := net.SplitHostPort(l.addr); !l.on || l.addr == "" || port == "0" {
			continue
		}
		for _, prev := range ls {
			if prev.addr != l.addr {
				continue
			}
			// Blame the later listener unless only the earlier one
			// was set by the file.
			if v.src.line(l.field, l.addr) == 0 && v.src.line(prev.field, prev.addr) > 0 {
				v.errorf(prev.field, prev.addr, "", "%s is also used by %s", configQuote(l.addr), l.field)
			} else {
				v.errorf(l.field, l.addr, "", "%s is also used by %s", configQuote(l.addr), prev.field)
			}
			break
		}
		ls = append(ls, listener{l.field, l.addr})
	}

	for i, r := range c.ACL {
		entry := fmt.Sprintf("acl[%d]", i)
		if r.Topic == "" {
			v.errorf(entry+".topic", r.Topic, entry, "missing (every rule needs a topic)")
		} else if err := auth.ValidatePattern(r.Topic); err != nil {
			v.errorf(entry+".topic", r.Topic, entry, "%v", err) // err quotes the pattern
		}
		if r.Access == "" {
			v.errorf(entry+".access", r.Access, entry, "missing (every rule needs access: read, write or readwrite)")
		} else if _, err := auth.ParseAccess(r.Access); err != nil {
			v.errorf(entry+".access", r.Access, entry, "%s is not one of read, write, readwrite", configQuote(r.Access))
		}
		switch auth.Role(r.Role) {
		case "", auth.RoleAdmin, auth.RoleService, auth.RoleDevice, auth.RoleAnonymous:
		default:
			v.errorf(entry+".role", r.Role, entry, "%s is not one of %s, %s, %s, %s", configQuote(r.Role),
				auth.RoleAdmin, auth.RoleService, auth.RoleDevice, auth.RoleAnonymous)
		}
	}

	v.errs.sort()
	return v.errs
}

// configValidator collects the problems Validate finds.
type configValidator struct {
	src  *configSource
	errs ConfigErrors
}

// errorf records a problem with field, whose value is value. If the file
// did not set field, the problem is placed at fallback (the field path of
// an enclosing list entry) when that is non-empty.
func (v *configValidator) errorf(field string, value any, fallback, format string, args ...any) {
	line := v.src.line(field, value)
	if line == 0 && fallback != "" && v.src != nil {
		if p, ok := v.src.pos[fallback]; ok {
			line = p.line
		}
	}
	e := &ConfigError{Line: line, Field: field, Msg: fmt.Sprintf(format, args...)}
	if line > 0 {
		e.File = v.src.file
	}
	v.errs = append(v.errs, e)
}

func (v *configValidator) oneOf(field, value string, allowed ...string) {
	if !slices.Contains(allowed, value) {
		v.errorf(field, value, "", "%s is not one of %s", configQuote(value), strings.Join(allowed, ", "))
	}
}

func (v *configValidator) intRange(field string, value, lo, hi int) {
	if value < lo || value > hi {
		v.errorf(field, value, "", "%d is out of range (%d to %d)", value, lo, hi)
	}
}

// addr checks a listen address, reporting whether it is usable (empty
// counts: it disables the listener).
func (v *configValidator) addr(field, addr string) bool {
	if addr == "" {
		return true
	}
	if reason := configCheckAddr(addr); reason != "" {
		v.errorf(field, addr, "", "%s: %s", configQuote(addr), reason)
		return false
	}
	return true
}

// configCheckAddr returns why addr is not a valid host:port listen
// address, or "".
func configCheckAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) {
			return ae.Err
		}
		return err.Error()
	}
	if port == "" {
		return "missing port number"
	}
	p, err := strconv.ParseUint(port, 10, 64)
	if err != nil {
		if strings.Trim(port, "0123456789") == "" {
			return fmt.Sprintf("port %s is out of range (0 to 65535)", port)
		}
		return fmt.Sprintf("port %s is not a number", configQuote(port))
	}
	if p > configMaxUint16 {
		return fmt.Sprintf("port %d is out of range (0 to 65535)", p)
	}
	if host == "" {
		return ""
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return ""
	}
	valid := len(host) <= 253
	for _, label := range strings.Split(host, ".") {
		valid = valid && label != "" && len(label) <= 63
		for _, r := range label {
			valid = valid && (r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		}
	}
	if !valid {
		return fmt.Sprintf("host %s is neither an IP address nor a host name", configQuote(host))
	}
	return ""
}

// configCheckOrigin returns why o is not a valid allowed origin, or "".
func configCheckOrigin(o string) string {
	if o == "*" {
		return ""
	}
	u, err := url.Parse(o)
	switch {
	case err != nil:
		return "not a URL"
	case u.Scheme != "http" && u.Scheme != "https":
		return "scheme is not http or https"
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return "missing host"
	case u.User != nil:
		return "has user info"
	case u.Path != "" || u.RawPath != "":
		return "has a path"
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(o, "#"):
		return "has a query or fragment"
	}
	if port := u.Port(); port != "" {
		if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
			return "bad port"
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return "bad port"
	}
	return ""
}

// tls checks the TLS settings and files, reporting whether the TLS
// listener is enabled.
func (v *configValidator) tls(t TLSConfig) bool {
	on := t.CertFile != "" && t.KeyFile != ""
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		v.errorf("tls.cert_file", t.CertFile, "", "set without tls.key_file")
	case t.CertFile == "" && t.KeyFile != "":
		v.errorf("tls.key_file", t.KeyFile, "", "set without tls.cert_file")
	}
	var certPEM, keyPEM []byte
	if t.CertFile != "" {
		certPEM = v.readFile("tls.cert_file", t.CertFile)
	}
	if t.KeyFile != "" {
		keyPEM = v.readFile("tls.key_file", t.KeyFile)
	}
	if certPEM != nil && keyPEM != nil {
		if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
			v.errorf("tls.cert_file", t.CertFile, "", "%s and tls.key_file %s do not load as a certificate and key: %v",
				configQuote(t.CertFile), configQuote(t.KeyFile), err)
		}
	}
	if t.ClientCAFile != "" {
		if data := v.readFile("tls.client_ca_file", t.ClientCAFile); data != nil {
			if reason := configCheckCAs(data); reason != "" {
				v.errorf("tls.client_ca_file", t.ClientCAFile, "", "%s: %s", configQuote(t.ClientCAFile), reason)
			}
		}
		if !on {
			v.errorf("tls.client_ca_file", t.ClientCAFile, "", "set, but TLS is off (set tls.cert_file and tls.key_file)")
		}
	} else {
		if t.RequireClientCert {
			v.errorf("tls.require_client_cert", t.RequireClientCert, "", "needs tls.client_ca_file")
		}
		if t.CNAsUsername {
			v.errorf("tls.cn_as_username", t.CNAsUsername, "", "needs tls.client_ca_file")
		}
	}
	return on
}

// readFile returns the contents of the regular file at path, or nil after
// recording why it cannot be read.
func (v *configValidator) readFile(field, path string) []byte {
	// Stat first: opening a FIFO would block.
	fi, err := os.Stat(path)
	if err != nil {
		v.errorf(field, path, "", "cannot read %s: %v", configQuote(path), configPathErr(err))
		return nil
	}
	if !fi.Mode().IsRegular() {
		v.errorf(field, path, "", "%s is not a regular file", configQuote(path))
		return nil
	}
	if fi.Size() > configMaxPEMSize {
		v.errorf(field, path, "", "%s is larger than %d bytes", configQuote(path), configMaxPEMSize)
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		v.errorf(field, path, "", "cannot read %s: %v", configQuote(path), configPathErr(err))
		return nil
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, configMaxPEMSize))
	if err != nil {
		v.errorf(field, path, "", "cannot read %s: %v", configQuote(path), configPathErr(err))
		return nil
	}
	return data
}

// configPathErr strips the operation and path from an *fs.PathError,
// which the caller names itself.
func configPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// configCheckCAs returns why data is not a list of PEM certificates, or "".
func configCheckCAs(data []byte) string {
	n := 0
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		n++
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return fmt.Sprintf("certificate %d: %v", n, err)
		}
	}
	if n == 0 {
		return "no PEM certificates found"
	}
	return ""
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

// exampleConfig is a configuration file documenting every setting with its
// default; `hubd config example` prints it and packages install it as
// /etc/hubd/hubd.yaml.
//
// Convention (relied on by a test): a line starting "#  " (hash, two
// spaces) is a commented-out setting that parses once the "#" is removed;
// prose comments start "# " followed by text, or are indented.
const exampleConfig = `# hubd configuration.
#
# Each setting below is shown with its default value. Values may refer to
# environment variables as ${NAME} or $NAME; hubd refuses to start if such a
# variable is unset. Write $$ for a literal "$". Relative paths are relative
# to hubd's working directory. Durations are written like 500ms, 10s or 1m30s.
# A listen address is host:port; an empty host listens on all interfaces,
# and "" turns the listener off.

# Directory holding the database. While it is left at ./hubd-data, hubd
# serve uses systemd's StateDirectory instead when it has one, or
# /var/lib/hubd when running as user hubd.
data_dir: ./hubd-data

log:
  # text or json.
  format: text
  # Least severe level logged: debug, info, warn or error.
  level: info

mqtt:
  # Plain MQTT (TCP) listen address.
  addr: ":1883"
  # Let clients connect without a username and password. ACL rules for
  # role anonymous say what such clients may do.
  allow_anonymous: false
  # Largest MQTT packet accepted, in bytes (1 to 268435455).
  max_packet_size: 1048576
  # QoS 1 and 2 messages held per session, in flight plus queued while the
  # client is offline (1 to 65535).
  max_queued_messages: 1000
  # Receive maximum: QoS 1 and 2 messages a client may have unacknowledged
  # at once (1 to 65535).
  max_inflight: 100
  # Longest keep-alive a client may ask for, in seconds (0 to 65535); 0
  # leaves the client's choice alone.
  max_keepalive: 0
  # How often the $SYS topics are refreshed (at least 1s).
  sys_interval: 10s
  # Longest the storage writer waits to gather writes into one
  # transaction (0s to 1s).
  commit_interval: 10ms

websocket:
  # MQTT over WebSocket listen address.
  addr: ":8083"
  # URL path that upgrades to MQTT; starts with "/".
  path: /mqtt
  # Origin header values accepted from browsers: "*", or scheme://host[:port]
  # with scheme http or https. Clients that send no Origin header (anything
  # but a browser) are always accepted; with no list, browsers are refused.
  # For example:
  allowed_origins:
#    - https://hub.example.com
#    - http://192.168.1.10:8080

tls:
  # MQTT over TLS listen address. The listener opens only when cert_file
  # and key_file are both set.
  addr: ":8883"
  # PEM files holding the server certificate (with any intermediates) and
  # its private key, such as /etc/hubd/tls/cert.pem and
  # /etc/hubd/tls/key.pem. hubd checks at start-up that they load.
  cert_file: ""
  key_file: ""
  # PEM file of the CA certificates that client certificates are checked
  # against. Without it hubd does not ask clients for certificates.
  client_ca_file: ""
  # Refuse clients that present no valid certificate (needs client_ca_file).
  require_client_cert: false
  # Use the common name of a client's verified certificate as its username
  # (needs client_ca_file).
  cn_as_username: false

http:
  # HTTP listen address: health checks (/healthz) and the JSON API (/api/).
  addr: ":8080"

discovery:
  # Topic prefix of Home Assistant MQTT discovery: devices announce
  # themselves on <prefix>/<component>/[<node_id>/]<object_id>/config.
  prefix: homeassistant
  # Pair every newly discovered device at once, as Home Assistant does. By
  # default new devices wait, pending, until someone pairs them.
  auto_pair: false
  # How long a delivered command waits for the device to report the
  # requested state before it counts as unconfirmed.
  command_timeout: 10s
  # Advertise the hub over mDNS (_mqtt._tcp, _hubd._tcp) and list devices
  # that announce themselves on the LAN.
  mdns: true

# Access rules. Anything no rule allows is denied, and a matching deny rule
# wins over rules that allow. Users with role admin or service have built-in
# access to (nearly) everything without rules.
#
# user, role and client restrict whom a rule applies to; they are optional,
# and a rule naming several applies only when all match. role is admin,
# service, device or anonymous.
# topic (required) is an MQTT topic filter, with + and # wildcards; %u
# stands for the client's username and %c for its client ID.
# access (required) is read, write or readwrite.
# deny: true makes the rule refuse what it matches instead of allowing it.
# A rule whose %u or %c would be empty or contain +, # or / matches nothing.
#
# For example:
acl:
#  - role: device
#    topic: devices/%c/#
#    access: readwrite
#  - role: anonymous
#    topic: public/#
#    access: read
#  - user: guest
#    topic: home/#
#    access: read
#  - user: guest
#    topic: home/alarm/#
#    access: read
#    deny: true
`
