package auth

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

func TestHook_Provides(t *testing.T) {
	h := NewHook(HookOptions{})
	if got, want := h.ID(), "hubd-auth"; got != want {
		t.Errorf("ID = %q, want %q", got, want)
	}
	want := map[byte]bool{mqtt.OnConnect: true, mqtt.OnConnectAuthenticate: true, mqtt.OnACLCheck: true}
	for b := range 256 {
		if got := h.Provides(byte(b)); got != want[byte(b)] {
			t.Errorf("Provides(%d) = %v, want %v", b, got, want[byte(b)])
		}
	}
}

func TestHook_Init(t *testing.T) {
	s, _ := MustOpenStore(t)
	if err := NewHook(HookOptions{Users: s}).Init(nil); err != nil {
		t.Errorf("Init(nil) = %v", err)
	}
	if err := NewHook(HookOptions{Users: s}).Init(&HookOptions{}); err == nil {
		t.Error("Init(config): no error")
	}
	if err := NewHook(HookOptions{}).Init(nil); err == nil {
		t.Error("Init without a Store: no error")
	}
}

// stateConn is a net.Conn wrapper that exposes a TLS connection state.
type stateConn struct {
	net.Conn
	st tls.ConnectionState
}

func (c stateConn) ConnectionState() tls.ConnectionState { return c.st }

func TestVerifiedCN(t *testing.T) {
	cert := &x509.Certificate{Subject: pkix.Name{CommonName: "sensor-1"}}
	chains := [][]*x509.Certificate{{cert}}
	for _, tc := range []struct {
		name string
		conn net.Conn
		want string
		ok   bool
	}{
		{"OK", stateConn{st: tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}, VerifiedChains: chains}}, "sensor-1", true},
		{"Unverified", stateConn{st: tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}}, "", false},
		{"NoCert", stateConn{}, "", false},
		{"EmptyCN", stateConn{st: tls.ConnectionState{PeerCertificates: []*x509.Certificate{{}}, VerifiedChains: chains}}, "", false},
		{"PlainConn", &net.TCPConn{}, "", false},
		{"Nil", nil, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := verifiedCN(tc.conn)
			if got != tc.want || ok != tc.ok {
				t.Errorf("verifiedCN = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestHook_StoredSession covers clients the hook never authenticated:
// sessions mochi restores from storage at start-up.
func TestHook_StoredSession(t *testing.T) {
	s, _ := MustOpenStore(t)
	MustAdd(t, s, "bob", RoleDevice, "pw")
	acl := mustACL(t, homeRules()...)
	srv := mqtt.New(&mqtt.Options{Logger: slog.New(slog.DiscardHandler)})
	h := NewHook(HookOptions{Users: s, ACL: func() *ACL { return acl }, Server: srv})

	restored := func(user string) *mqtt.Client {
		cl := srv.NewClient(nil, "t", "restored-"+user, false)
		cl.Properties.Username = []byte(user)
		return cl
	}
	bobCl := restored("bob")
	if !h.OnACLCheck(bobCl, "devices/bob/x", false) || !h.OnACLCheck(bobCl, "devices/bob/x", true) {
		t.Error("restored session of bob cannot use its own topics")
	}
	if h.OnACLCheck(bobCl, "devices/carol/x", false) {
		t.Error("restored session of bob reads carol's topics")
	}
	if !h.OnACLCheck(bobCl, "devices/bob/+", false) || h.OnACLCheck(bobCl, "devices/+/x", false) {
		t.Error("subscription filters not checked with CanSubscribe")
	}
	if !h.OnACLCheck(bobCl, "$share/g/devices/bob/x", false) {
		t.Error("shared subscription not checked with CanSubscribe")
	}
	if h.OnConnectAuthenticate(bobCl, packets.Packet{}) {
		t.Error("OnConnectAuthenticate true for a client OnConnect never saw")
	}
	if h.OnACLCheck(restored("ghost"), "home/x", false) {
		t.Error("restored session of an unknown user may read")
	}
	if h.OnACLCheck(restored(""), "home/x", false) {
		t.Error("restored anonymous session may read without AllowAnonymous")
	}
	anon := NewHook(HookOptions{Users: s, ACL: func() *ACL { return acl }, AllowAnonymous: true})
	if !anon.OnACLCheck(restored(""), "public/x", false) {
		t.Error("restored anonymous session may not read public/x with AllowAnonymous")
	}
	if !h.OnACLCheck(srv.NewClient(nil, "local", "inline", true), "$SYS/anything", true) {
		t.Error("inline client refused")
	}
}

// TestHook_Forget checks that remembered clients go once mochi drops them.
func TestHook_Forget(t *testing.T) {
	h := NewHook(HookOptions{})
	func() {
		for i := range 10 {
			cl := &mqtt.Client{ID: string(rune('a' + i))}
			h.remember(cl, &clientState{ok: true}, true)
		}
	}()
	size := func() int {
		h.mu.RLock()
		defer h.mu.RUnlock()
		return len(h.clients)
	}
	for i := 0; i < 100 && size() > 0; i++ {
		runtime.GC()
		runtime.Gosched()
	}
	if n := size(); n != 0 {
		t.Errorf("%d clients still remembered after collection", n)
	}
}

// broker is a real mochi server with the hook on 127.0.0.1:0.
type broker struct {
	srv   *mqtt.Server
	addr  string
	tls   string // TLS listener address, if any
	acl   atomic.Pointer[ACL]
	users *Store
}

type brokerOptions struct {
	anonymous bool
	tls       *tls.Config
	log       *slog.Logger
}

func startBroker(t *testing.T, o brokerOptions, rules ...Rule) *broker {
	t.Helper()
	s, _ := MustOpenStore(t)
	ctx := context.Background()
	for _, u := range []struct {
		name string
		role Role
	}{{"root", RoleAdmin}, {"bob", RoleDevice}, {"alice", RoleDevice}, {"sensor-1", RoleDevice}} {
		if _, err := s.Add(ctx, u.name, u.role, u.name+"-pw"); err != nil {
			t.Fatal(err)
		}
	}
	b := &broker{users: s}
	b.acl.Store(mustACL(t, rules...))
	b.srv = mqtt.New(&mqtt.Options{Logger: slog.New(slog.DiscardHandler)})
	h := NewHook(HookOptions{
		Users:          s,
		ACL:            b.acl.Load,
		AllowAnonymous: o.anonymous,
		CNAsUsername:   true,
		Server:         b.srv,
		Logger:         o.log,
	})
	if err := b.srv.AddHook(h, nil); err != nil {
		t.Fatal(err)
	}
	l := listeners.NewTCP(listeners.Config{ID: "tcp", Address: "127.0.0.1:0"})
	if err := b.srv.AddListener(l); err != nil {
		t.Fatal(err)
	}
	b.addr = l.Address()
	if o.tls != nil {
		tl := listeners.NewTCP(listeners.Config{ID: "tls", Address: "127.0.0.1:0", TLSConfig: o.tls})
		if err := b.srv.AddListener(tl); err != nil {
			t.Fatal(err)
		}
		b.tls = tl.Address()
	}
	if err := b.srv.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.srv.Close() })
	return b
}

// client is a raw MQTT client, so tests see exact CONNACK codes.
type client struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
	v    byte
	id   uint16
}

func dial(t *testing.T, addr string, v byte, tc *tls.Config) *client {
	t.Helper()
	var conn net.Conn
	var err error
	if tc != nil {
		conn, err = tls.Dial("tcp", addr, tc)
	} else {
		conn, err = net.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second)) // a hung test fails instead of hanging
	return &client{t: t, conn: conn, r: bufio.NewReader(conn), v: v}
}

func (c *client) write(pk packets.Packet, encode func(*packets.Packet, *bytes.Buffer) error) {
	c.t.Helper()
	pk.ProtocolVersion = c.v
	var buf bytes.Buffer
	if err := encode(&pk, &buf); err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.conn.Write(buf.Bytes()); err != nil {
		c.t.Fatal(err)
	}
}

// read returns the next packet's type and body.
func (c *client) read() (byte, []byte) {
	c.t.Helper()
	first, err := c.r.ReadByte()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	n, shift := 0, 0
	for {
		b, err := c.r.ReadByte()
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		n |= int(b&0x7f) << shift
		if b&0x80 == 0 {
			break
		}
		shift += 7
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c.r, body); err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return first >> 4, body
}

// connect sends CONNECT and returns the CONNACK code.
func (c *client) connect(p packets.ConnectParams) byte {
	c.t.Helper()
	p.ProtocolName = []byte("MQTT")
	p.Keepalive = 30
	p.UsernameFlag = len(p.Username) > 0
	p.PasswordFlag = len(p.Password) > 0
	c.write(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, Connect: p}, (*packets.Packet).ConnectEncode)
	typ, body := c.read()
	if typ != packets.Connack || len(body) < 2 {
		c.t.Fatalf("got packet type %d %x, want CONNACK", typ, body)
	}
	return body[1]
}

// subscribe subscribes to one filter at QoS 0 and returns the SUBACK code.
func (c *client) subscribe(filter string) byte {
	c.t.Helper()
	c.id++
	c.write(packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1},
		PacketID:    c.id,
		Filters:     packets.Subscriptions{{Filter: filter}},
	}, (*packets.Packet).SubscribeEncode)
	typ, body := c.read()
	if typ != packets.Suback {
		c.t.Fatalf("got packet type %d, want SUBACK", typ)
	}
	return body[len(body)-1]
}

// publish sends a QoS 0 message.
func (c *client) publish(topic, payload string) {
	c.t.Helper()
	c.write(packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish},
		TopicName:   topic,
		Payload:     []byte(payload),
	}, (*packets.Packet).PublishEncode)
}

// next returns the topic of the next PUBLISH received (QoS 0, MQTT 3).
func (c *client) next() string {
	c.t.Helper()
	typ, body := c.read()
	if typ != packets.Publish {
		c.t.Fatalf("got packet type %d, want PUBLISH", typ)
	}
	n := int(body[0])<<8 | int(body[1])
	return string(body[2 : 2+n])
}

// ping proves the connection is still up.
func (c *client) ping() {
	c.t.Helper()
	c.write(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pingreq}}, (*packets.Packet).PingreqEncode)
	if typ, _ := c.read(); typ != packets.Pingresp {
		c.t.Fatalf("got packet type %d, want PINGRESP", typ)
	}
}

func login(user, client string) packets.ConnectParams {
	return packets.ConnectParams{ClientIdentifier: client, Username: []byte(user), Password: []byte(user + "-pw"), Clean: true}
}

var deviceRules = []Rule{
	{Role: RoleDevice, Topic: "devices/%u/#", Access: AccessReadWrite},
	{Topic: "home/#", Access: AccessRead},
	{Topic: "home/secret/#", Access: AccessRead, Deny: true},
	{Role: RoleAnonymous, Topic: "public/#", Access: AccessRead},
}

func TestHook_Connect(t *testing.T) {
	b := startBroker(t, brokerOptions{}, deviceRules...)
	for _, v := range []byte{4, 5} {
		bad, notAuth := byte(0x86), byte(0x87)
		if v == 4 {
			bad, notAuth = 0x04, 0x05
		}
		for _, tc := range []struct {
			name string
			p    packets.ConnectParams
			want byte
		}{
			{"OK", login("bob", "c-ok"), 0},
			{"ErrPassword", packets.ConnectParams{ClientIdentifier: "c", Username: []byte("bob"), Password: []byte("nope"), Clean: true}, bad},
			{"ErrNoPassword", packets.ConnectParams{ClientIdentifier: "c", Username: []byte("bob"), Clean: true}, bad},
			{"ErrUnknownUser", login("mallory", "c"), bad},
			{"ErrAnonymous", packets.ConnectParams{ClientIdentifier: "c", Clean: true}, bad},
			{"WillOK", withWill(login("bob", "c-will"), "devices/bob/status"), 0},
			{"ErrWill", withWill(login("bob", "c"), "home/kitchen/light"), notAuth},
			{"ErrWillSys", withWill(login("root", "c"), "$SYS/x"), notAuth},
			{"AdminWill", withWill(login("root", "c-root"), "anything"), 0},
		} {
			t.Run(tc.name+"/v"+string('0'+v), func(t *testing.T) {
				if got := dial(t, b.addr, v, nil).connect(tc.p); got != tc.want {
					t.Errorf("CONNACK 0x%02x, want 0x%02x", got, tc.want)
				}
			})
		}
	}
}

// lockedBuffer collects log output written from connection goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestHook_LogsFailures(t *testing.T) {
	var logs lockedBuffer
	b := startBroker(t, brokerOptions{log: slog.New(slog.NewTextHandler(&logs, nil))}, deviceRules...)
	p := login("bob", "logged-client")
	p.Password = []byte("Wrong-Password-Canary")
	if got := dial(t, b.addr, 4, nil).connect(p); got != 0x04 {
		t.Fatalf("CONNACK 0x%02x, want 0x04", got)
	}
	got := logs.String() // written before the CONNACK was sent
	for _, want := range []string{"level=INFO", "mqtt authentication failed", "client=logged-client", "remote=127.0.0.1:", "username=bob"} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "Canary") {
		t.Errorf("log holds the password:\n%s", got)
	}
}

func withWill(p packets.ConnectParams, topic string) packets.ConnectParams {
	p.WillFlag, p.WillTopic, p.WillPayload = true, topic, []byte("gone")
	return p
}

func TestHook_Takeover(t *testing.T) {
	b := startBroker(t, brokerOptions{}, deviceRules...)
	persistent := func(user string) packets.ConnectParams {
		p := login(user, "kitchen")
		p.Clean = false
		return p
	}
	alice := dial(t, b.addr, 4, nil)
	if got := alice.connect(persistent("alice")); got != 0 {
		t.Fatalf("alice: CONNACK 0x%02x", got)
	}

	t.Run("ErrConnected", func(t *testing.T) {
		for _, v := range []byte{4, 5} {
			want := map[byte]byte{4: 0x05, 5: 0x87}[v]
			if got := dial(t, b.addr, v, nil).connect(persistent("bob")); got != want {
				t.Errorf("v%d: bob took alice's client id: CONNACK 0x%02x, want 0x%02x", v, got, want)
			}
		}
		alice.ping() // untouched
	})
	t.Run("ErrStoredSession", func(t *testing.T) {
		alice.write(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}}, (*packets.Packet).DisconnectEncode)
		if _, err := alice.r.ReadByte(); err != io.EOF {
			t.Fatalf("after DISCONNECT: %v, want EOF", err)
		}
		// The offline session still belongs to alice.
		if got := dial(t, b.addr, 4, nil).connect(persistent("bob")); got != 0x05 {
			t.Errorf("bob took alice's stored session: CONNACK 0x%02x", got)
		}
		if got := dial(t, b.addr, 4, nil).connect(packets.ConnectParams{ClientIdentifier: "kitchen", Clean: true}); got != 0x04 {
			t.Errorf("anonymous: CONNACK 0x%02x, want 0x04", got)
		}
	})
	t.Run("OK", func(t *testing.T) {
		again := dial(t, b.addr, 4, nil)
		if got := again.connect(persistent("alice")); got != 0 {
			t.Fatalf("alice again: CONNACK 0x%02x", got)
		}
		// And alice can take over her own live session.
		if got := dial(t, b.addr, 4, nil).connect(persistent("alice")); got != 0 {
			t.Errorf("alice takes over herself: CONNACK 0x%02x", got)
		}
	})
}

func TestHook_PublishSubscribe(t *testing.T) {
	b := startBroker(t, brokerOptions{anonymous: true}, deviceRules...)
	bob := dial(t, b.addr, 4, nil)
	if got := bob.connect(login("bob", "bob-1")); got != 0 {
		t.Fatalf("bob: CONNACK 0x%02x", got)
	}
	root := dial(t, b.addr, 4, nil)
	if got := root.connect(login("root", "root-1")); got != 0 {
		t.Fatalf("root: CONNACK 0x%02x", got)
	}
	anon := dial(t, b.addr, 4, nil)
	if got := anon.connect(packets.ConnectParams{ClientIdentifier: "anon-1", Clean: true}); got != 0 {
		t.Fatalf("anonymous: CONNACK 0x%02x", got)
	}

	for _, tc := range []struct {
		c      *client
		filter string
		want   byte
	}{
		{bob, "devices/bob/#", 0},
		{bob, "home/kitchen/#", 0},
		{bob, "home/#", 0x80}, // overlaps home/secret/#
		{bob, "devices/+/x", 0x80},
		{bob, "$SYS/#", 0x80},
		{anon, "public/#", 0},
		{anon, "devices/bob/#", 0x80},
		{root, "#", 0x80}, // deny rule home/secret/# overlaps
		{root, "devices/#", 0},
		{root, "home/secret/#", 0x80},
	} {
		if got := tc.c.subscribe(tc.filter); got != tc.want {
			t.Errorf("subscribe %q: SUBACK 0x%02x, want 0x%02x", tc.filter, got, tc.want)
		}
	}

	// Denied publishes are dropped: each subscriber's next message is the
	// allowed one sent after them.
	bob.publish("devices/alice/x", "denied")
	bob.publish("home/kitchen/x", "denied")
	bob.publish("devices/bob/state", "ok")
	if got := root.next(); got != "devices/bob/state" {
		t.Errorf("root got %q, want devices/bob/state", got)
	}
	if got := bob.next(); got != "devices/bob/state" {
		t.Errorf("bob got %q, want devices/bob/state", got)
	}

	root.publish("public/news", "hi")
	if got := anon.next(); got != "public/news" {
		t.Errorf("anonymous got %q, want public/news", got)
	}

	// Deliveries are checked against the current ACL: after a reload
	// that takes home/kitchen/oven away, bob no longer receives it.
	b.acl.Store(mustACL(t, append(deviceRules[:len(deviceRules):len(deviceRules)],
		Rule{Topic: "home/kitchen/oven", Access: AccessRead, Deny: true})...))
	root.publish("home/kitchen/oven", "hot")
	root.publish("home/kitchen/fridge", "cold")
	if got := bob.next(); got != "home/kitchen/fridge" {
		t.Errorf("bob got %q, want home/kitchen/fridge", got)
	}
	bob.ping()
}

func TestHook_CertificateCN(t *testing.T) {
	ca, caKey := newCert(t, "test CA", nil, nil)
	srvCert, srvKey := newCert(t, "127.0.0.1", ca, caKey)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	b := startBroker(t, brokerOptions{tls: &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{srvCert.Raw}, PrivateKey: srvKey}},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    pool,
	}}, deviceRules...)

	clientTLS := func(cn string) *tls.Config {
		c := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
		if cn != "" {
			cert, key := newCert(t, cn, ca, caKey)
			c.Certificates = []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key}}
		}
		return c
	}
	for _, tc := range []struct {
		name, cn string
		p        packets.ConnectParams
		want     byte
	}{
		{"OK", "sensor-1", packets.ConnectParams{ClientIdentifier: "s1", Clean: true}, 0},
		{"SameUsername", "sensor-1", packets.ConnectParams{ClientIdentifier: "s1b", Username: []byte("sensor-1"), Clean: true}, 0},
		{"ErrOtherUsername", "sensor-1", login("bob", "s1c"), 0x04},
		{"ErrUnknownCN", "ghost", packets.ConnectParams{ClientIdentifier: "g", Clean: true}, 0x04},
		{"PasswordWithoutCert", "", login("bob", "b1"), 0},
		{"ErrNoCertNoPassword", "", packets.ConnectParams{ClientIdentifier: "n", Clean: true}, 0x04},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, b.tls, 4, clientTLS(tc.cn))
			if got := c.connect(tc.p); got != tc.want {
				t.Fatalf("CONNACK 0x%02x, want 0x%02x", got, tc.want)
			}
			if tc.name == "OK" {
				// The session is known by the CN, and its ACL uses it.
				if cl, ok := b.srv.Clients.Get("s1"); !ok || string(cl.Properties.Username) != "sensor-1" {
					t.Errorf("session username not set to the CN")
				}
				if got := c.subscribe("devices/sensor-1/#"); got != 0 {
					t.Errorf("SUBACK 0x%02x for the CN's own topics", got)
				}
			}
		})
	}
}

// newCert makes an ECDSA certificate for cn, signed by parent (self-signed
// CA when parent is nil).
func newCert(t *testing.T, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	signer, signerKey := tmpl, key
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	} else {
		signer, signerKey = parent, parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func TestHook_OnACLCheckAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	acl := mustACL(t, homeRules()...)
	h := NewHook(HookOptions{ACL: func() *ACL { return acl }})
	cl := &mqtt.Client{ID: "bob-1"}
	h.remember(cl, &clientState{sub: bob, ok: true}, true)
	if n := testing.AllocsPerRun(100, func() { h.OnACLCheck(cl, "home/kitchen/temp", false) }); n != 0 {
		t.Errorf("OnACLCheck delivery: %v allocations, want 0", n)
	}
}

func BenchmarkHook_OnACLCheck(b *testing.B) {
	acl := mustACL(b, homeRules()...)
	h := NewHook(HookOptions{ACL: func() *ACL { return acl }})
	cl := &mqtt.Client{ID: "bob-1"}
	h.remember(cl, &clientState{sub: bob, ok: true}, true)
	for b.Loop() {
		h.OnACLCheck(cl, "home/kitchen/temperature", false)
	}
}
