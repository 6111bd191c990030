package main

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
