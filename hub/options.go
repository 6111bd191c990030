package hub

import (
	"log/slog"
	"net"
	"time"

	"hubd/hub/auth"
)

// Options is everything the hub needs to run. cmd/hubd fills it from its
// configuration; tests fill it directly.
type Options struct {
	// DataDir holds the database file (hubd.db).
	DataDir string
	// Version is reported in $SYS and logs.
	Version string
	// Logger receives all structured logs; nil discards them.
	Logger *slog.Logger

	MQTT      MQTTOptions
	WebSocket WebSocketOptions
	TLS       TLSOptions
	HTTP      HTTPOptions

	// Discovery configures device discovery and pairing.
	Discovery DiscoveryOptions

	// ACL is the ordered list of access rules. Anything no rule allows is
	// denied.
	ACL []auth.Rule

	// Inherited holds listeners opened by someone else (systemd socket
	// activation), keyed "mqtt", "ws", "tls" or "http". An inherited
	// listener is used instead of binding that address.
	Inherited map[string]net.Listener
}

// MQTTOptions configures the broker and its plain TCP listener.
type MQTTOptions struct {
	// Addr is the TCP listen address; empty disables the listener.
	Addr string
	// AllowAnonymous lets clients connect without credentials.
	AllowAnonymous bool
	// MaxPacketSize is the largest packet accepted, in bytes.
	MaxPacketSize uint32
	// MaxQueuedMessages caps the QoS 1/2 messages held per session
	// (in flight plus queued while offline).
	MaxQueuedMessages uint16
	// MaxInflight is the receive maximum: QoS 1/2 publishes a client may
	// have unacknowledged at once.
	MaxInflight uint16
	// MaxKeepAlive caps the keep-alive a client may ask for, in seconds;
	// 0 leaves the client's choice alone.
	MaxKeepAlive uint16
	// SysInterval is how often $SYS topics are refreshed.
	SysInterval time.Duration
	// CommitInterval is the longest the storage writer waits to gather
	// writes into one transaction.
	CommitInterval time.Duration
}

// WebSocketOptions configures MQTT over WebSocket.
type WebSocketOptions struct {
	// Addr is the listen address; empty disables the listener.
	Addr string
	// Path is the URL path that upgrades to MQTT.
	Path string
	// AllowedOrigins lists the Origin header values accepted; a request
	// without an Origin header (not a browser) is accepted.
	AllowedOrigins []string
}

// TLSOptions configures MQTT over TLS.
type TLSOptions struct {
	// Addr is the listen address; the listener opens only when Addr,
	// CertFile and KeyFile are all set.
	Addr     string
	CertFile string
	KeyFile  string
	// ClientCAFile, if set, verifies client certificates against this CA.
	ClientCAFile string
	// RequireClientCert refuses clients without a valid certificate.
	RequireClientCert bool
	// CNAsUsername authenticates a client with a verified certificate as
	// the user named by the certificate's common name.
	CNAsUsername bool
}

// HTTPOptions configures the HTTP listener (health, later UI and API).
type HTTPOptions struct {
	// Addr is the listen address; empty disables the listener.
	Addr string
}

// DiscoveryOptions configures Home-Assistant-style device discovery.
type DiscoveryOptions struct {
	// Prefix is the discovery topic prefix; "homeassistant" when empty.
	Prefix string
	// AutoPair pairs new devices without asking, as Home Assistant does.
	AutoPair bool
	// CommandTimeout is how long a delivered command waits for the device
	// to report the requested state; 10 s when zero.
	CommandTimeout time.Duration
	// MDNS advertises the hub on the LAN and lists devices seen there.
	MDNS bool
}
