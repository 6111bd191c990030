package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"hubd/hub"
	"hubd/hub/auth"
)

func TestDefaultConfig(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		if errs := DefaultConfig().Validate(); errs != nil {
			t.Fatalf("DefaultConfig().Validate() = %v", errs)
		}
		if _, err := DefaultConfig().HubOptions(); err != nil {
			t.Fatalf("DefaultConfig().HubOptions() = %v", err)
		}
	})
}

// TestParseConfig parses testdata/config/<name>/hubd.yaml, or the inline
// data, and checks every error message.
func TestParseConfig(t *testing.T) {
	tests := []struct {
		name string
		data string // parsed as "hubd.yaml"; empty: read the fixture
		want []string
	}{
		{name: "OK"},
		{name: "OKEmpty", data: "\n"},
		{name: "OKOnlyComments", data: "# nothing set\n\n# at all\n"},
		{name: "OKEmptySections", data: "mqtt:\nlog: ~\nacl:\n"},
		{name: "ErrUnknownKey", want: []string{
			`hubd.yaml:3: mqtt.alow_anonymous: unknown key (did you mean "allow_anonymous"?)`,
			`hubd.yaml:5: websockets: unknown key (did you mean "websocket"?)`,
			`hubd.yaml:8: tls.cert: unknown key`,
		}},
		{name: "ErrUnknownKeyCase", data: "MQTT:\n  Addr: ':1'\n", want: []string{
			`hubd.yaml:1: MQTT: unknown key (did you mean "mqtt"?)`,
		}},
		{name: "ErrBadAddr", want: []string{
			`hubd.yaml:2: mqtt.addr: "1883x": missing port in address`,
			`hubd.yaml:4: websocket.addr: "localhost:http": port "http" is not a number`,
			`hubd.yaml:6: http.addr: ":70000": port 70000 is out of range (0 to 65535)`,
			`hubd.yaml:8: tls.addr: "a b:8883": host "a b" is neither an IP address nor a host name`,
		}},
		{name: "ErrBadAddrPort", data: "http:\n  addr: 'localhost:'\nmqtt:\n  addr: '::1:1883'\n", want: []string{
			`hubd.yaml:2: http.addr: "localhost:": missing port number`,
			`hubd.yaml:4: mqtt.addr: "::1:1883": too many colons in address`,
		}},
		{name: "ErrAddrInUse", want: []string{
			`hubd.yaml:2: mqtt.addr: ":8080" is also used by http.addr`,
		}},
		{name: "ErrAddrInUseLater", data: "mqtt:\n  addr: ':1'\nhttp:\n  addr: ':1'\n", want: []string{
			`hubd.yaml:4: http.addr: ":1" is also used by mqtt.addr`,
		}},
		{name: "ErrBadPattern", want: []string{
			`hubd.yaml:6: acl[1].topic: "a/#/b": "#" must be the last level`,
			`hubd.yaml:9: acl[2].access: "rw" is not one of read, write, readwrite`,
			`hubd.yaml:10: acl[2].role: "root" is not one of admin, service, device, anonymous`,
			`hubd.yaml:11: acl[3].topic: missing (every rule needs a topic)`,
		}},
		{name: "ErrACLEntry", data: "acl:\n  - \n  - foo\n  - {topic: '', access: read}\n", want: []string{
			`hubd.yaml:2: acl[0].topic: missing (every rule needs a topic)`,
			`hubd.yaml:2: acl[0].access: missing (every rule needs access: read, write or readwrite)`,
			`hubd.yaml:3: acl[1]: "foo" is not a mapping`,
			`hubd.yaml:4: acl[2].topic: missing (every rule needs a topic)`,
		}},
		{name: "ErrMissingCert", want: []string{
			`hubd.yaml:2: tls.cert_file: cannot read "testdata/config/ErrMissingCert/cert.pem": no such file or directory`,
			`hubd.yaml:3: tls.key_file: cannot read "testdata/config/ErrMissingCert/key.pem": no such file or directory`,
			`hubd.yaml:4: tls.cn_as_username: needs tls.client_ca_file`,
		}},
		{name: "ErrCertNotFile", data: "tls:\n  cert_file: testdata\n  key_file: ''\n", want: []string{
			`hubd.yaml:2: tls.cert_file: set without tls.key_file`,
			`hubd.yaml:2: tls.cert_file: "testdata" is not a regular file`,
		}},
		{name: "ErrBadDuration", want: []string{
			`hubd.yaml:2: mqtt.sys_interval: "10" is not a duration (such as "10s" or "500ms")`,
			`hubd.yaml:3: mqtt.commit_interval: "2s" is out of range (0s to 1s)`,
		}},
		{name: "ErrWrongType", want: []string{
			`hubd.yaml:2: mqtt.max_packet_size: "big" is not an integer`,
			`hubd.yaml:3: mqtt.allow_anonymous: "yes" is not a boolean (true or false)`,
			`hubd.yaml:4: mqtt.max_inflight: "1.5" is not an integer`,
			`hubd.yaml:5: mqtt.addr: a list is not a string`,
			`hubd.yaml:6: log: "debug" is not a mapping`,
			`hubd.yaml:8: websocket.allowed_origins: "https://hub.example.com" is not a list`,
			`hubd.yaml:12: acl[0].deny: "1" is not a boolean (true or false)`,
		}},
		{name: "ErrNull", data: "data_dir:\nmqtt:\n  max_inflight: ~\n", want: []string{
			`hubd.yaml:1: data_dir: missing value (write "" for an empty string)`,
			`hubd.yaml:3: mqtt.max_inflight: missing value`,
		}},
		{name: "ErrEmptyDataDir", data: "data_dir: ''\n", want: []string{
			`hubd.yaml:1: data_dir: missing (required)`,
		}},
		{name: "ErrOutOfRange", data: "mqtt:\n  max_packet_size: 99999999999999999999999\n  max_inflight: 0\n", want: []string{
			`hubd.yaml:2: mqtt.max_packet_size: "99999999999999999999999" is out of range`,
			`hubd.yaml:3: mqtt.max_inflight: 0 is out of range (1 to 65535)`,
		}},
		{name: "ErrSyntax", want: []string{
			`hubd.yaml:6: did not find expected '-' indicator`,
		}},
		{name: "ErrSyntaxFirstLine", data: "a: b: c\nmqtt: {}\n", want: []string{
			`hubd.yaml:1: mapping values are not allowed in this context`,
		}},
		{name: "ErrSyntaxUnclosed", data: "mqtt: {}\nacl: [\n  {topic: a, access: read}\n", want: []string{
			`hubd.yaml:3: did not find expected ',' or ']'`,
		}},
		{name: "ErrSyntaxTab", data: "mqtt:\n  addr: ':1'\n\tmax_inflight: 1\n", want: []string{
			`hubd.yaml:3: found character that cannot start any token`,
		}},
		{name: "ErrSyntaxControl", data: "mqtt:\n  addr: ':1'\nlog:\n  level: \x01\n", want: []string{
			`hubd.yaml:4: control characters are not allowed`,
		}},
		{name: "ErrSyntaxAnchor", data: "mqtt:\n  addr: ':1'\nhttp:\n  addr: *nope\n", want: []string{
			`hubd.yaml:4: unknown anchor 'nope' referenced`,
		}},
		{name: "ErrTwoDocuments", data: "mqtt: {}\n---\nhttp: {}\n", want: []string{
			`hubd.yaml:2: found a second YAML document; a configuration file holds one`,
		}},
		{name: "ErrUTF16", data: "\xff\xfem\x00:\x00", want: []string{
			`hubd.yaml:1: the file is UTF-16 encoded; save it as UTF-8`,
		}},
		{name: "ErrNotMapping", data: "- mqtt\n- http\n", want: []string{
			`hubd.yaml:1: a list at the top level; the configuration must be a mapping (key: value)`,
		}},
		{name: "ErrBadKey", data: "mqtt:\n  [a]: 1\n", want: []string{
			`hubd.yaml:2: mqtt: a list is not a valid key`,
		}},
		{name: "ErrDuplicateKey", want: []string{
			`hubd.yaml:3: mqtt.addr: duplicate key (first set on line 2)`,
			`hubd.yaml:4: mqtt: duplicate key (first set on line 1)`,
		}},
		{name: "ErrDuplicateKeyBadValue", data: "mqtt:\n  addr: bad\n  addr: ':1'\n  [x]: 1\n  max_inflight: 0\n", want: []string{
			`hubd.yaml:2: mqtt.addr: "bad": missing port in address`,
			`hubd.yaml:3: mqtt.addr: duplicate key (first set on line 2)`,
			`hubd.yaml:4: mqtt: a list is not a valid key`,
			`hubd.yaml:5: mqtt.max_inflight: 0 is out of range (1 to 65535)`,
		}},
		{name: "ErrMultiple", want: []string{
			`hubd.yaml:4: log.level: "verbose" is not one of debug, info, warn, error`,
			`hubd.yaml:6: mqtt.max_queued_messages: 0 is out of range (1 to 65535)`,
			`hubd.yaml:7: mqtt.max_keepalive: 70000 is out of range (0 to 65535)`,
			`hubd.yaml:8: mqtt.sys_interval: "500ms" is too short (at least 1s)`,
			`hubd.yaml:9: mqtt.alow_anonymous: unknown key (did you mean "allow_anonymous"?)`,
			`hubd.yaml:11: websocket.path: "mqtt" does not start with "/"`,
			`hubd.yaml:14: websocket.allowed_origins[1]: "https://hub.example.com/": has a path (want "*" or scheme://host[:port] with scheme http or https)`,
			`hubd.yaml:15: websocket.allowed_origins[2]: "ftp://hub.example.com": scheme is not http or https (want "*" or scheme://host[:port] with scheme http or https)`,
			`hubd.yaml:20: acl[0].acess: unknown key (did you mean "access"?)`,
		}},
		{name: "ErrMergeKey", data: "defaults: &d {addr: ':1'}\nmqtt:\n  <<: *d\n", want: []string{
			`hubd.yaml:1: defaults: unknown key`,
			`hubd.yaml:3: mqtt."<<": unknown key (YAML merge keys are not supported)`,
		}},
		{name: "ErrOddKey", data: "\"a b\": 1\n", want: []string{
			`hubd.yaml:1: "a b": unknown key`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.data)
			if tt.data == "" {
				var err error
				if data, err = os.ReadFile(filepath.Join("testdata", "config", tt.name, "hubd.yaml")); err != nil {
					t.Fatal(err)
				}
			}
			_, err := ParseConfig("hubd.yaml", data)
			if got, want := configErrorStrings(t, err), tt.want; !reflect.DeepEqual(got, want) {
				t.Errorf("errors:\n got: %q\nwant: %q", got, want)
			}
		})
	}
}

// configErrorStrings returns the messages in err, which must be nil or a
// ConfigErrors.
func configErrorStrings(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	errs, ok := err.(ConfigErrors)
	if !ok {
		t.Fatalf("error is %T, not ConfigErrors: %v", err, err)
	}
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	if got, want := err.Error(), strings.Join(msgs, "\n"); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	return msgs
}

// stripSource clears what ParseConfig records about positions, so that
// configs can be compared.
func stripSource(c Config) Config {
	c.src = nil
	return c
}

func TestParseConfigValues(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		data, err := os.ReadFile("testdata/config/OK/hubd.yaml")
		if err != nil {
			t.Fatal(err)
		}
		c, err := ParseConfig("hubd.yaml", data)
		if err != nil {
			t.Fatal(err)
		}
		device := ACLRule{Role: "device", Topic: "devices/%c/#", Access: "readwrite"}
		want := Config{
			DataDir: "/var/lib/hubd",
			Log:     LogConfig{Format: "json", Level: "debug"},
			MQTT: MQTTConfig{
				Addr:              "127.0.0.1:1883",
				AllowAnonymous:    true,
				MaxPacketSize:     65536,
				MaxQueuedMessages: 500,
				MaxInflight:       20,
				MaxKeepAlive:      600,
				SysInterval:       time.Minute,
				CommitInterval:    0,
			},
			WebSocket: WebSocketConfig{
				Addr:           "[::1]:8083",
				Path:           "/ws",
				AllowedOrigins: []string{"https://hub.example.com", "http://192.168.1.10:8080"},
			},
			TLS:       TLSConfig{Addr: ""},
			HTTP:      HTTPConfig{Addr: "localhost:8080"},
			Discovery: DiscoveryConfig{Prefix: "homeassistant", CommandTimeout: 10 * time.Second, MDNS: true},
			ACL: []ACLRule{
				{Role: "admin", Topic: "#", Access: "readwrite"},
				device,
				{User: "guest", Client: "guest-phone", Topic: "secrets/#", Access: "read", Deny: true},
				device,
			},
		}
		if got := stripSource(c); !reflect.DeepEqual(got, want) {
			t.Errorf("got  %+v\nwant %+v", got, want)
		}
	})

	t.Run("OKPartial", func(t *testing.T) {
		c, err := ParseConfig("hubd.yaml", []byte("mqtt:\n  max_inflight: 7\n"))
		if err != nil {
			t.Fatal(err)
		}
		want := DefaultConfig()
		want.MQTT.MaxInflight = 7
		if got := stripSource(c); !reflect.DeepEqual(got, want) {
			t.Errorf("got  %+v\nwant %+v", got, want)
		}
	})

	t.Run("OKDisableListeners", func(t *testing.T) {
		c, err := ParseConfig("hubd.yaml", []byte("mqtt: {addr: ''}\nwebsocket: {addr: \"\"}\nhttp: {addr: ''}\n"))
		if err != nil {
			t.Fatal(err)
		}
		if c.MQTT.Addr != "" || c.WebSocket.Addr != "" || c.HTTP.Addr != "" {
			t.Errorf("listeners not disabled: %+v", c)
		}
	})

	t.Run("OKSharedPortZero", func(t *testing.T) {
		data := "mqtt: {addr: ':0'}\nwebsocket: {addr: ':0'}\nhttp: {addr: 'localhost:0'}\n"
		if _, err := ParseConfig("hubd.yaml", []byte(data)); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("OKTypes", func(t *testing.T) {
		// Quoted numbers and booleans are accepted, as are YAML's
		// capitalised booleans and a zero duration without a unit.
		data := "mqtt:\n  max_inflight: \"42\"\n  allow_anonymous: True\n  commit_interval: 0\n  max_keepalive: +60\n"
		c, err := ParseConfig("hubd.yaml", []byte(data))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := c.MQTT, (MQTTConfig{
			Addr: ":1883", AllowAnonymous: true, MaxPacketSize: 1 << 20, MaxQueuedMessages: 1000,
			MaxInflight: 42, MaxKeepAlive: 60, SysInterval: 10 * time.Second,
		}); got != want {
			t.Errorf("got  %+v\nwant %+v", got, want)
		}
	})
}

func TestParseConfigEnv(t *testing.T) {
	t.Setenv("HUBD_TEST_DIR", "/srv/hubd")
	t.Setenv("HUBD_TEST_PORT", "1999")
	t.Setenv("HUBD_TEST_EMPTY", "")
	t.Setenv("HUBD_TEST_BIG", "big")
	t.Setenv("HUBD_TEST_YAML", "[a, b]")
	t.Setenv("HUBD_TEST_ADMIN", "alice")
	os.Unsetenv("HUBD_TEST_UNSET")

	t.Run("OK", func(t *testing.T) {
		data := `data_dir: ${HUBD_TEST_DIR}/data
mqtt:
  addr: ":$HUBD_TEST_PORT"
  max_inflight: ${HUBD_TEST_PORT}
websocket:
  addr: "$HUBD_TEST_EMPTY"
  path: "/$$HUBD_TEST_DIR/$/a$"
http:
  addr: $HUBD_TEST_YAML
acl:
  - user: $HUBD_TEST_ADMIN
    topic: "#"
    access: readwrite
`
		c, err := ParseConfig("hubd.yaml", []byte(data))
		// http.addr becomes the string "[a, b]", not a list.
		if got, want := configErrorStrings(t, err), []string{
			`hubd.yaml:9: http.addr: "[a, b]": missing port in address`,
		}; !reflect.DeepEqual(got, want) {
			t.Fatalf("errors:\n got: %q\nwant: %q", got, want)
		}
		if got, want := c.DataDir, "/srv/hubd/data"; got != want {
			t.Errorf("data_dir = %q, want %q", got, want)
		}
		if got, want := c.MQTT.Addr, ":1999"; got != want {
			t.Errorf("mqtt.addr = %q, want %q", got, want)
		}
		if got, want := c.MQTT.MaxInflight, 1999; got != want {
			t.Errorf("mqtt.max_inflight = %d, want %d", got, want)
		}
		if got, want := c.WebSocket.Addr, ""; got != want {
			t.Errorf("websocket.addr = %q, want %q", got, want)
		}
		if got, want := c.WebSocket.Path, "/$HUBD_TEST_DIR/$/a$"; got != want {
			t.Errorf("websocket.path = %q, want %q", got, want)
		}
		if got, want := c.ACL[0].User, "alice"; got != want {
			t.Errorf("acl[0].user = %q, want %q", got, want)
		}
	})

	t.Run("OKKeysNotExpanded", func(t *testing.T) {
		_, err := ParseConfig("hubd.yaml", []byte("$HUBD_TEST_DIR: 1\n"))
		if got, want := configErrorStrings(t, err), []string{
			`hubd.yaml:1: "$HUBD_TEST_DIR": unknown key`,
		}; !reflect.DeepEqual(got, want) {
			t.Fatalf("errors:\n got: %q\nwant: %q", got, want)
		}
	})

	t.Run("Err", func(t *testing.T) {
		data := `data_dir: ${HUBD_TEST_UNSET}
mqtt:
  addr: ":$HUBD_TEST_UNSET"
  max_inflight: ${HUBD_TEST_BIG}
  max_keepalive: ${HUBD_TEST_PORT
websocket:
  path: /${HUBD-TEST}
  addr: ${}
`
		_, err := ParseConfig("hubd.yaml", []byte(data))
		if got, want := configErrorStrings(t, err), []string{
			`hubd.yaml:1: data_dir: environment variable HUBD_TEST_UNSET is not set (write $$ for a literal "$")`,
			`hubd.yaml:3: mqtt.addr: environment variable HUBD_TEST_UNSET is not set (write $$ for a literal "$")`,
			`hubd.yaml:4: mqtt.max_inflight: "big" (from "${HUBD_TEST_BIG}") is not an integer`,
			`hubd.yaml:5: mqtt.max_keepalive: "${HUBD_TEST_PORT": "${" without a closing "}"`,
			`hubd.yaml:7: websocket.path: "/${HUBD-TEST}": "HUBD-TEST" is not a valid environment variable name`,
			`hubd.yaml:8: websocket.addr: "${}": "" is not a valid environment variable name`,
		}; !reflect.DeepEqual(got, want) {
			t.Fatalf("errors:\n got: %q\nwant: %q", got, want)
		}
	})
}

func TestConfigExpandEnv(t *testing.T) {
	t.Setenv("HUBD_X", "x")
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"$HUBD_X", "x"},
		{"${HUBD_X}y", "xy"},
		{"$HUBD_X.y", "x.y"},
		{"a$$b", "a$b"},
		{"$$HUBD_X", "$HUBD_X"},
		{"$", "$"},
		{"a$", "a$"},
		{"$1", "$1"},
		{"$-x", "$-x"},
		{"$/", "$/"},
	}
	for _, tt := range tests {
		got, err := configExpandEnv(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("configExpandEnv(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestConfigCheckAddr(t *testing.T) {
	tests := []struct{ addr, want string }{
		{":1883", ""},
		{"0.0.0.0:1883", ""},
		{"[::]:1883", ""},
		{"[fe80::1%eth0]:1883", ""},
		{"localhost:0", ""},
		{"hub.local:65535", ""},
		{"1883", "missing port in address"},
		{"::1883", "too many colons in address"},
		{"[::1]1883", "missing port in address"},
		{"host:", "missing port number"},
		{"host:-1", `port "-1" is not a number`},
		{"host:65536", "port 65536 is out of range (0 to 65535)"},
		{"host:99999999999999999999", "port 99999999999999999999 is out of range (0 to 65535)"},
		{"a..b:1", `host "a..b" is neither an IP address nor a host name`},
		{"a/b:1", `host "a/b" is neither an IP address nor a host name`},
	}
	for _, tt := range tests {
		if got := configCheckAddr(tt.addr); got != tt.want {
			t.Errorf("configCheckAddr(%q) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}

func TestConfigCheckOrigin(t *testing.T) {
	tests := []struct{ origin, want string }{
		{"*", ""},
		{"https://hub.example.com", ""},
		{"http://192.168.1.10:8080", ""},
		{"http://[::1]:8080", ""},
		{"hub.example.com", "scheme is not http or https"},
		{"ws://hub.example.com", "scheme is not http or https"},
		{"https://", "missing host"},
		{"https:hub", "missing host"},
		{"https://user@hub", "has user info"},
		{"https://hub/", "has a path"},
		{"https://hub?x", "has a query or fragment"},
		{"https://hub#x", "has a query or fragment"},
		{"https://hub:", "bad port"},
		{"https://hub:0", "bad port"},
		{"https://hub:http", "not a URL"},
		{"", "scheme is not http or https"},
	}
	for _, tt := range tests {
		if got := configCheckOrigin(tt.origin); got != tt.want {
			t.Errorf("configCheckOrigin(%q) = %q, want %q", tt.origin, got, tt.want)
		}
	}
}

func TestConfigSuggest(t *testing.T) {
	keys := []string{"addr", "allow_anonymous", "max_inflight", "max_keepalive", "sys_interval"}
	tests := []struct{ name, want string }{
		{"adr", ` (did you mean "addr"?)`},
		{"allow-anonymous", ` (did you mean "allow_anonymous"?)`},
		{"max_keep_alive", ` (did you mean "max_keepalive"?)`},
		{"Max_Inflight", ` (did you mean "max_inflight"?)`},
		{"sysinterval", ` (did you mean "sys_interval"?)`},
		{"sys_intreval", ` (did you mean "sys_interval"?)`},
		{"ADDR", ` (did you mean "addr"?)`},
		{"adr", ` (did you mean "addr"?)`},
		{"dr", ""},
		{"a b", ""},
		{"a", ""},
		{"ab", ""},
		{"port", ""},
		{"max_inflight_messages", ""},
	}
	for _, tt := range tests {
		if got := configSuggest(tt.name, keys); got != tt.want {
			t.Errorf("configSuggest(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestConfigError(t *testing.T) {
	tests := []struct {
		err  ConfigError
		want string
	}{
		{ConfigError{File: "hubd.yaml", Line: 7, Field: "mqtt.addr", Msg: "bad"}, "hubd.yaml:7: mqtt.addr: bad"},
		{ConfigError{File: "hubd.yaml", Field: "mqtt.addr", Msg: "bad"}, "hubd.yaml: mqtt.addr: bad"},
		{ConfigError{File: "hubd.yaml", Line: 3, Msg: "bad"}, "hubd.yaml:3: bad"},
		{ConfigError{Field: "mqtt.addr", Msg: "bad"}, "mqtt.addr: bad"},
		{ConfigError{Line: 2, Msg: "bad"}, "line 2: bad"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("%+v.Error() = %q, want %q", tt.err, got, tt.want)
		}
	}

	errs := ConfigErrors{{File: "a", Line: 1, Msg: "x"}, {File: "a", Line: 2, Msg: "y"}}
	if got, want := errs.Error(), "a:1: x\na:2: y"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var ce *ConfigError
	if !errors.As(error(errs), &ce) || ce.Msg != "x" {
		t.Errorf("errors.As(*ConfigError) = %v", ce)
	}
	if err := ConfigErrors(nil).Err(); err != nil {
		t.Errorf("ConfigErrors(nil).Err() = %v", err)
	}
}

// TestConfigValidate covers Validate after values change following
// ParseConfig, as when flags override the file.
func TestConfigValidate(t *testing.T) {
	data := "mqtt:\n  addr: ':1883x'\n  max_inflight: 0\nhttp:\n  addr: ':9000'\n"
	c, err := ParseConfig("hubd.yaml", []byte(data))
	if err == nil {
		t.Fatal("ParseConfig: no error")
	}

	t.Run("ErrFlags", func(t *testing.T) {
		c := c
		c.MQTT.Addr = ":1884x" // changed since the file set it: no line
		c.WebSocket.Addr = "x" // a default changed: no line
		c.TLS.Addr = ":9000"   // same as http.addr, but TLS is off
		// mqtt.max_inflight is still the file's 0.
		got := configErrorStrings(t, c.Validate().Err())
		want := []string{
			`hubd.yaml:3: mqtt.max_inflight: 0 is out of range (1 to 65535)`,
			`mqtt.addr: ":1884x": port "1884x" is not a number`,
			`websocket.addr: "x": missing port in address`,
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("errors:\n got: %q\nwant: %q", got, want)
		}
	})

	t.Run("OKFlags", func(t *testing.T) {
		c := c
		c.MQTT.Addr = ":1883"
		c.MQTT.MaxInflight = 10
		if errs := c.Validate(); errs != nil {
			t.Errorf("Validate() = %v", errs)
		}
	})

	t.Run("ErrNoFile", func(t *testing.T) {
		c := DefaultConfig()
		c.HTTP.Addr = ":1883"
		c.ACL = []ACLRule{{Topic: "a/#/b", Access: "read"}}
		got := configErrorStrings(t, c.Validate().Err())
		want := []string{
			`http.addr: ":1883" is also used by mqtt.addr`,
			`acl[0].topic: "a/#/b": "#" must be the last level`,
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("errors:\n got: %q\nwant: %q", got, want)
		}
	})
}

func TestConfigHubOptions(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		c, err := LoadConfigFile("testdata/config/OK/hubd.yaml")
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.HubOptions()
		if err != nil {
			t.Fatal(err)
		}
		const file = "testdata/config/OK/hubd.yaml"
		want := hub.Options{
			DataDir: "/var/lib/hubd",
			MQTT: hub.MQTTOptions{
				Addr:              "127.0.0.1:1883",
				AllowAnonymous:    true,
				MaxPacketSize:     65536,
				MaxQueuedMessages: 500,
				MaxInflight:       20,
				MaxKeepAlive:      600,
				SysInterval:       time.Minute,
				CommitInterval:    0,
			},
			WebSocket: hub.WebSocketOptions{
				Addr:           "[::1]:8083",
				Path:           "/ws",
				AllowedOrigins: []string{"https://hub.example.com", "http://192.168.1.10:8080"},
			},
			HTTP:      hub.HTTPOptions{Addr: "localhost:8080"},
			Discovery: hub.DiscoveryOptions{Prefix: "homeassistant", CommandTimeout: 10 * time.Second, MDNS: true},
			ACL: []auth.Rule{
				{Role: auth.RoleAdmin, Topic: "#", Access: auth.AccessReadWrite, Source: file + ":32"},
				{Role: auth.RoleDevice, Topic: "devices/%c/#", Access: auth.AccessReadWrite, Source: file + ":35"},
				{User: "guest", Client: "guest-phone", Topic: "secrets/#", Access: auth.AccessRead, Deny: true, Source: file + ":39"},
				{Role: auth.RoleDevice, Topic: "devices/%c/#", Access: auth.AccessReadWrite, Source: file + ":44"},
			},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got  %+v\nwant %+v", got, want)
		}
	})

	t.Run("OKNoFile", func(t *testing.T) {
		c := DefaultConfig()
		c.ACL = []ACLRule{{User: "bob", Topic: "a/b", Access: "write"}}
		got, err := c.HubOptions()
		if err != nil {
			t.Fatal(err)
		}
		if want := []auth.Rule{{User: "bob", Topic: "a/b", Access: auth.AccessWrite, Source: "acl[0]"}}; !reflect.DeepEqual(got.ACL, want) {
			t.Errorf("ACL = %+v, want %+v", got.ACL, want)
		}
		if got.MQTT.MaxPacketSize != 1<<20 || got.MQTT.MaxQueuedMessages != 1000 || got.MQTT.MaxInflight != 100 {
			t.Errorf("MQTT = %+v", got.MQTT)
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		c := DefaultConfig()
		c.MQTT.MaxInflight = 70000
		_, err := c.HubOptions()
		if got, want := configErrorStrings(t, err), []string{
			`mqtt.max_inflight: 70000 is out of range (1 to 65535)`,
		}; !reflect.DeepEqual(got, want) {
			t.Errorf("errors:\n got: %q\nwant: %q", got, want)
		}
	})
}

func TestLoadConfigFile(t *testing.T) {
	t.Run("ErrNotExist", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nope.yaml")
		_, err := LoadConfigFile(path)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("err = %v, want fs.ErrNotExist", err)
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("err = %q, does not name %s", err, path)
		}
	})

	t.Run("ErrNamesPath", func(t *testing.T) {
		_, err := LoadConfigFile("testdata/config/ErrDuplicateKey/hubd.yaml")
		if got, want := configErrorStrings(t, err)[0], "testdata/config/ErrDuplicateKey/hubd.yaml:3: mqtt.addr: duplicate key (first set on line 2)"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
}

// writeTestPKI writes a CA certificate, a server certificate it signed and
// the server's key into dir, and returns their paths.
func writeTestPKI(t *testing.T, dir string) (ca, cert, key string) {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	write := func(name, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	caKey, srvKey := newKey(), newKey()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "hubd test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caTmpl, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("cert.pem", "CERTIFICATE", srvDER), write("key.pem", "PRIVATE KEY", keyDER)
}

func TestParseConfigTLS(t *testing.T) {
	dir := t.TempDir()
	writeTestPKI(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "junk.pem"), []byte("not PEM\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TLSDIR", dir)

	t.Run("OK", func(t *testing.T) {
		data := "tls:\n  cert_file: $TLSDIR/cert.pem\n  key_file: $TLSDIR/key.pem\n  client_ca_file: ${TLSDIR}/ca.pem\n" +
			"  require_client_cert: true\n  cn_as_username: true\n"
		c, err := ParseConfig("hubd.yaml", []byte(data))
		if err != nil {
			t.Fatal(err)
		}
		o, err := c.HubOptions()
		if err != nil {
			t.Fatal(err)
		}
		want := hub.TLSOptions{
			Addr:              ":8883",
			CertFile:          dir + "/cert.pem",
			KeyFile:           dir + "/key.pem",
			ClientCAFile:      dir + "/ca.pem",
			RequireClientCert: true,
			CNAsUsername:      true,
		}
		if o.TLS != want {
			t.Errorf("TLS = %+v, want %+v", o.TLS, want)
		}
	})

	t.Run("ErrAddrInUse", func(t *testing.T) {
		// The TLS address only counts once TLS is on.
		data := "tls:\n  addr: ':8080'\n  cert_file: $TLSDIR/cert.pem\n  key_file: $TLSDIR/key.pem\n"
		_, err := ParseConfig("hubd.yaml", []byte(data))
		if got, want := configErrorStrings(t, err), []string{
			`hubd.yaml:2: tls.addr: ":8080" is also used by http.addr`,
		}; !reflect.DeepEqual(got, want) {
			t.Errorf("errors:\n got: %q\nwant: %q", got, want)
		}
		if _, err := ParseConfig("hubd.yaml", []byte("tls:\n  addr: ':8080'\n")); err != nil {
			t.Errorf("TLS off: %v", err)
		}
	})

	t.Run("ErrBadFiles", func(t *testing.T) {
		data := "tls:\n  cert_file: $TLSDIR/ca.pem\n  key_file: $TLSDIR/key.pem\n  client_ca_file: $TLSDIR/junk.pem\n"
		_, err := ParseConfig("hubd.yaml", []byte(data))
		if got, want := configErrorStrings(t, err), []string{
			`hubd.yaml:2: tls.cert_file: "` + dir + `/ca.pem" and tls.key_file "` + dir + `/key.pem" do not load as a certificate and key: tls: private key does not match public key`,
			`hubd.yaml:4: tls.client_ca_file: "` + dir + `/junk.pem": no PEM certificates found`,
		}; !reflect.DeepEqual(got, want) {
			t.Errorf("errors:\n got: %q\nwant: %q", got, want)
		}
	})

	t.Run("ErrNeedsCA", func(t *testing.T) {
		data := "tls:\n  cert_file: $TLSDIR/cert.pem\n  key_file: $TLSDIR/key.pem\n  require_client_cert: true\n  cn_as_username: true\n"
		_, err := ParseConfig("hubd.yaml", []byte(data))
		if got, want := configErrorStrings(t, err), []string{
			`hubd.yaml:4: tls.require_client_cert: needs tls.client_ca_file`,
			`hubd.yaml:5: tls.cn_as_username: needs tls.client_ca_file`,
		}; !reflect.DeepEqual(got, want) {
			t.Errorf("errors:\n got: %q\nwant: %q", got, want)
		}
	})

	t.Run("ErrHalfConfigured", func(t *testing.T) {
		data := "tls:\n  key_file: $TLSDIR/key.pem\n  client_ca_file: $TLSDIR/ca.pem\n"
		_, err := ParseConfig("hubd.yaml", []byte(data))
		if got, want := configErrorStrings(t, err), []string{
			`hubd.yaml:2: tls.key_file: set without tls.cert_file`,
			`hubd.yaml:3: tls.client_ca_file: set, but TLS is off (set tls.cert_file and tls.key_file)`,
		}; !reflect.DeepEqual(got, want) {
			t.Errorf("errors:\n got: %q\nwant: %q", got, want)
		}
	})
}

func TestExampleConfig(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		c, err := ParseConfig("hubd.yaml", []byte(exampleConfig))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := stripSource(c), DefaultConfig(); !reflect.DeepEqual(got, want) {
			t.Errorf("example config:\n got %+v\nwant %+v", got, want)
		}
		// Every setting appears in the example.
		for _, field := range configLeafFields(reflect.TypeFor[Config](), "") {
			if _, ok := c.src.pos[field]; !ok {
				t.Errorf("example config does not set %s", field)
			}
		}
	})

	t.Run("OKUncommented", func(t *testing.T) {
		// The commented-out examples are valid too.
		var b strings.Builder
		for line := range strings.Lines(exampleConfig) {
			if strings.HasPrefix(line, "#  ") {
				line = line[1:]
			}
			b.WriteString(line)
		}
		c, err := ParseConfig("hubd.yaml", []byte(b.String()))
		if err != nil {
			t.Fatal(err)
		}
		if len(c.ACL) == 0 || len(c.WebSocket.AllowedOrigins) == 0 {
			t.Errorf("uncommented example sets no ACL or origins: %+v", c)
		}
	})
}

// configLeafFields returns the paths of the scalar settings in t, a struct
// type; lists are left out.
func configLeafFields(t reflect.Type, prefix string) []string {
	var fields []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || tag == "" {
			continue
		}
		switch f.Type.Kind() {
		case reflect.Struct:
			fields = append(fields, configLeafFields(f.Type, prefix+tag+".")...)
		case reflect.Slice:
		default:
			fields = append(fields, prefix+tag)
		}
	}
	return fields
}

// yamlLineCount counts lines the way yaml.v3 does: CR, LF, CRLF, NEL, LS and
// PS each end a line.
func yamlLineCount(data []byte) int {
	s := strings.ReplaceAll(string(data), "\r\n", "\n")
	n := 1
	for _, r := range s {
		switch r {
		case '\r', '\n', 0x85, 0x2028, 0x2029:
			n++
		}
	}
	return n
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(exampleConfig))
	f.Add([]byte(""))
	f.Add([]byte("acl:\n  - topic: a/+/b\n    access: read\n    user: &u bob\n  - {topic: '%u/#', access: write, user: *u}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := ParseConfig("fuzz.yaml", data)
		if err == nil {
			return
		}
		errs, ok := err.(ConfigErrors)
		if !ok {
			t.Fatalf("error is %T, not ConfigErrors: %v", err, err)
		}
		if len(errs) == 0 {
			t.Fatal("empty ConfigErrors returned as an error")
		}
		var doc yaml.Node
		validYAML := utf8.Valid(data) && yaml.Unmarshal(data, &doc) == nil
		lines := yamlLineCount(data)
		for _, e := range errs {
			if e == nil || e.Msg == "" {
				t.Fatalf("empty error in %q", errs)
			}
			if validYAML && (e.Line < 1 || e.Line > lines || e.File != "fuzz.yaml") {
				t.Errorf("error %q: line %d not within the input's %d lines", e, e.Line, lines)
			}
		}
	})
}
