package hub_test

// Integration tests of the broker: a real hub (SQLite file in a TempDir,
// listeners on 127.0.0.1:0) driven by real MQTT clients over real sockets.
// paho.golang (package paho) speaks MQTT 5 on a net.Conn the test dials;
// paho.mqtt.golang (package mqtt3) speaks MQTT 3.1.1 over tcp://, ws:// and
// tls://.
//
// Nothing here sleeps to synchronise. Tests wait for the event they expect
// (a message, a CONNACK, a broker hook firing). To show that a message does
// NOT arrive, a later marker is sent along the same path: the broker hands
// messages for one subscriber to one FIFO queue, in the order it processes
// them, so once the marker is in, anything processed before it would be in
// too. Where ordering needs a server-side event (a connection's end, a
// queued message expiring), the test registers for that event through a
// small observer hook (events) added to the running broker.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"
	mqtt "github.com/mochi-mqtt/server/v2"
	mpackets "github.com/mochi-mqtt/server/v2/packets"
	"github.com/mochi-mqtt/server/v2/system"

	"hubd/hub"
	"hubd/hub/auth"
)

var logHub = flag.Bool("hub.log", false, "write the hubs' logs to stderr")

// waitTimeout bounds every wait for something that should happen promptly.
// It is generous: under -race one bcrypt verification takes most of a
// second, and CI machines are shared.
const waitTimeout = 15 * time.Second

const testVersion = "9.8.7-test"

// The users every test hub starts with. Passwords are distinctive so that
// TestNoPlaintextPasswordInDatabase can look for them byte by byte.
const (
	adminUser   = "admin"
	adminPass   = "admin-Pw-3c1f9e"
	serviceUser = "nodered"
	servicePass = "service-Pw-77ab2d"
	dev1User    = "dev1"
	dev1Pass    = "dev1-Pw-0e4b6a"
	dev2User    = "dev2"
	dev2Pass    = "dev2-Pw-9d35c8"
	certUser    = "sensor-1" // a device that logs in with its certificate's CN
	certPass    = "sensor-Pw-5a1c07"

	allowedOrigin = "http://allowed.example"
)

var testUsers = []struct {
	name, pass string
	role       auth.Role
}{
	{adminUser, adminPass, auth.RoleAdmin},
	{serviceUser, servicePass, auth.RoleService},
	{dev1User, dev1Pass, auth.RoleDevice},
	{dev2User, dev2Pass, auth.RoleDevice},
	{certUser, certPass, auth.RoleDevice},
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if templateDir != "" {
		os.RemoveAll(templateDir)
	}
	os.Exit(code)
}

// The user database is made once, through hub.Users.Add, and copied into
// each test hub's data directory: under -race one bcrypt hash costs most
// of a second, and a fresh set per test would dominate the run time.
var (
	templateOnce sync.Once
	templateDir  string
	templateErr  error
)

func userTemplate(t testing.TB) string {
	t.Helper()
	templateOnce.Do(func() {
		templateDir, templateErr = os.MkdirTemp("", "hubd-test-users-")
		if templateErr != nil {
			return
		}
		h := hub.New(hub.Options{DataDir: templateDir, Logger: testLogger()})
		ctx := context.Background()
		if templateErr = h.Open(ctx); templateErr != nil {
			return
		}
		var wg sync.WaitGroup
		errs := make([]error, len(testUsers))
		for i, u := range testUsers {
			wg.Go(func() {
				_, errs[i] = h.Users.Add(ctx, u.name, u.role, u.pass)
			})
		}
		wg.Wait()
		templateErr = errors.Join(append(errs, h.Close())...)
	})
	if templateErr != nil {
		t.Fatalf("user template: %v", templateErr)
	}
	return templateDir
}

// copyUsers puts a copy of the template database into dir.
func copyUsers(t testing.TB, dir string) {
	t.Helper()
	src := userTemplate(t)
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), hub.DatabaseFile) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func testLogger() *slog.Logger {
	if !*logHub {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testHub is a running hub with an observer hook.
type testHub struct {
	*hub.Hub
	opts hub.Options
	ev   *events
}

// startHub opens a hub on a fresh data directory holding testUsers, with
// MQTT, WebSocket and HTTP listeners on 127.0.0.1:0. configure may change
// the options before Open.
func startHub(t testing.TB, configure ...func(*hub.Options)) *testHub {
	t.Helper()
	dir := t.TempDir()
	copyUsers(t, dir)
	o := hub.Options{
		DataDir: dir,
		Version: testVersion,
		Logger:  testLogger(),
		MQTT: hub.MQTTOptions{
			Addr:           "127.0.0.1:0",
			MaxPacketSize:  1 << 20,
			CommitInterval: 10 * time.Millisecond, // the production default
		},
		WebSocket: hub.WebSocketOptions{Addr: "127.0.0.1:0", AllowedOrigins: []string{allowedOrigin}},
		HTTP:      hub.HTTPOptions{Addr: "127.0.0.1:0"},
	}
	for _, f := range configure {
		f(&o)
	}
	return openHub(t, o)
}

func openHub(t testing.TB, o hub.Options) *testHub {
	t.Helper()
	h := hub.New(o)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := h.Open(ctx); err != nil {
		t.Fatalf("open hub: %v", err)
	}
	th := &testHub{Hub: h, opts: o, ev: newEvents()}
	t.Cleanup(func() {
		if err := th.close(); err != nil {
			t.Errorf("close hub: %v", err)
		}
	})
	if err := h.Broker.AddHook(th.ev, nil); err != nil {
		t.Fatalf("add observer hook: %v", err)
	}
	return th
}

// close closes the hub once the broker has finished with every client
// connection. The clients' own cleanups, which run first, disconnect them;
// closing while the broker still winds a connection down is a data race in
// Hub.Close (see TestCloseWhileClientsDisconnect).
func (th *testHub) close() error {
	select {
	case <-th.ev.idle():
	case <-time.After(waitTimeout):
		return errors.New("clients still connected after " + waitTimeout.String())
	}
	return th.Close()
}

// restart closes th and opens a new hub on the same data directory, with
// the same options (listeners on new ports).
func (th *testHub) restart(t testing.TB) *testHub {
	t.Helper()
	if err := th.close(); err != nil {
		t.Fatalf("close hub: %v", err)
	}
	return openHub(t, th.opts)
}

func (th *testHub) mqttAddr() string { return th.Addr("mqtt").String() }
func (th *testHub) wsURL() string    { return "ws://" + th.Addr("ws").String() + "/mqtt" }

// events is an observer hook: it lets a test wait for broker events that
// no client can see, so that a marker published afterwards is known to be
// ordered after them. It changes nothing.
type events struct {
	mqtt.HookBase
	mu      sync.Mutex
	waiters []waiter
	live    int           // client connections established and not yet ended
	zero    chan struct{} // closed while live == 0
}

type waiter struct {
	kind byte
	key  string
	ch   chan struct{}
}

func newEvents() *events {
	e := &events{zero: make(chan struct{})}
	close(e.zero)
	return e
}

func (e *events) ID() string { return "test-events" }

func (e *events) Provides(b byte) bool {
	switch b {
	case mqtt.OnSessionEstablished, mqtt.OnDisconnect, mqtt.OnQosDropped,
		mqtt.OnRetainedExpired, mqtt.OnSysInfoTick:
		return true
	}
	return false
}

// idle returns a channel that is closed while no client connection is
// established, i.e. once the broker has run OnDisconnect for each.
func (e *events) idle() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.zero
}

// next returns a channel closed at the next event of that kind for key (a
// client id, a topic, or "" for $SYS ticks) that happens after the call.
func (e *events) next(kind byte, key string) <-chan struct{} {
	ch := make(chan struct{})
	e.mu.Lock()
	e.waiters = append(e.waiters, waiter{kind, key, ch})
	e.mu.Unlock()
	return ch
}

func (e *events) fire(kind byte, key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.waiters = slices.DeleteFunc(e.waiters, func(w waiter) bool {
		if w.kind == kind && w.key == key {
			close(w.ch)
			return true
		}
		return false
	})
}

// OnSessionEstablished runs once a client's CONNECT has been accepted; the
// broker then runs OnDisconnect when the connection ends.
func (e *events) OnSessionEstablished(*mqtt.Client, mpackets.Packet) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.live == 0 {
		e.zero = make(chan struct{})
	}
	e.live++
}

// OnDisconnect runs after the broker has sent (or queued, with a delay) the
// client's Will.
func (e *events) OnDisconnect(cl *mqtt.Client, _ error, _ bool) {
	e.mu.Lock()
	if e.live--; e.live == 0 {
		close(e.zero)
	}
	e.mu.Unlock()
	e.fire(mqtt.OnDisconnect, cl.ID)
}

// OnQosDropped runs when the broker drops a queued message (expiry).
func (e *events) OnQosDropped(cl *mqtt.Client, _ mpackets.Packet) { e.fire(mqtt.OnQosDropped, cl.ID) }

// OnRetainedExpired runs when the broker's expiry sweep removes a retained
// message.
func (e *events) OnRetainedExpired(topic string) { e.fire(mqtt.OnRetainedExpired, topic) }

// OnSysInfoTick runs on the broker's event loop, the goroutine that also
// sends delayed Wills and sweeps expired messages.
func (e *events) OnSysInfoTick(*system.Info) { e.fire(mqtt.OnSysInfoTick, "") }

func waitFor(t testing.TB, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitTimeout):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// ---- MQTT 5 client ----

// client5 is a connected MQTT 5 client that queues what it receives.
type client5 struct {
	*paho.Client
	id    string
	conn  net.Conn
	ack   *paho.Connack
	msgs  chan *paho.Publish
	discs chan *paho.Disconnect // DISCONNECTs sent by the server
}

func connect5(id, user, pass string) *paho.Connect {
	cp := &paho.Connect{ClientID: id, KeepAlive: 30, CleanStart: true}
	if user != "" {
		cp.Username, cp.UsernameFlag = user, true
	}
	if pass != "" {
		cp.Password, cp.PasswordFlag = []byte(pass), true
	}
	return cp
}

// persistent makes cp ask to resume or create a session that lasts
// expiry seconds after the connection ends.
func persistent(cp *paho.Connect, expiry uint32) *paho.Connect {
	cp.CleanStart = false
	cp.Properties = &paho.ConnectProperties{SessionExpiryInterval: &expiry}
	return cp
}

func tcpDial(addr string) func() (net.Conn, error) {
	return func() (net.Conn, error) { return net.DialTimeout("tcp", addr, waitTimeout) }
}

// dial5 connects over a connection from dial. On a refused CONNECT it
// returns the CONNACK (if any) and an error.
func dial5(t testing.TB, dial func() (net.Conn, error), cp *paho.Connect) (*client5, error) {
	t.Helper()
	conn, err := dial()
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c := &client5{
		id:    cp.ClientID,
		conn:  conn,
		msgs:  make(chan *paho.Publish, 4096),
		discs: make(chan *paho.Disconnect, 4),
	}
	c.Client = paho.NewClient(paho.ClientConfig{
		Conn: conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){
			func(pr paho.PublishReceived) (bool, error) {
				c.msgs <- pr.Packet
				return true, nil
			},
		},
		OnServerDisconnect: func(d *paho.Disconnect) {
			select {
			case c.discs <- d:
			default:
			}
		},
		OnClientError: func(error) {},
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c.ack, err = c.Connect(ctx, cp)
	if err != nil {
		conn.Close()
		return c, err
	}
	t.Cleanup(c.close)
	return c, nil
}

func mustConnect5(t testing.TB, addr string, cp *paho.Connect) *client5 {
	t.Helper()
	c, err := dial5(t, tcpDial(addr), cp)
	if err != nil {
		t.Fatalf("connect %s: %v (connack %+v)", cp.ClientID, err, c.ack)
	}
	return c
}

// connack5 connects and returns the CONNACK reason code, whether or not
// the connection was accepted.
func connack5(t testing.TB, dial func() (net.Conn, error), cp *paho.Connect) byte {
	t.Helper()
	c, err := dial5(t, dial, cp)
	if c.ack == nil {
		t.Fatalf("connect %s: no CONNACK: %v", cp.ClientID, err)
	}
	return c.ack.ReasonCode
}

// close disconnects cleanly if still connected and waits for the client
// to wind down.
func (c *client5) close() {
	_ = c.Disconnect(&paho.Disconnect{ReasonCode: 0})
	select {
	case <-c.Done():
	case <-time.After(waitTimeout):
	}
}

// kill ends the connection without DISCONNECT, as a crash or a lost
// network would.
func (c *client5) kill(t testing.TB) {
	t.Helper()
	if err := c.conn.Close(); err != nil {
		t.Fatalf("close %s's connection: %v", c.id, err)
	}
	select {
	case <-c.Done():
	case <-time.After(waitTimeout):
		t.Fatalf("%s did not wind down", c.id)
	}
}

// subscribe returns the SUBACK reason codes.
func (c *client5) subscribe(t testing.TB, subs ...paho.SubscribeOptions) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	sa, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: subs})
	if sa == nil {
		t.Fatalf("%s: subscribe %+v: %v", c.id, subs, err)
	}
	return sa.Reasons
}

func (c *client5) mustSubscribe(t testing.TB, filter string, qos byte) {
	t.Helper()
	if got := c.subscribe(t, paho.SubscribeOptions{Topic: filter, QoS: qos}); len(got) != 1 || got[0] != qos {
		t.Fatalf("%s: SUBACK for %q at QoS %d = %#x, want [%#x]", c.id, filter, qos, got, qos)
	}
}

// publish returns the reason code of the PUBACK (QoS 1) or of the PUBREC
// or PUBCOMP (QoS 2); 0 for QoS 0.
func (c *client5) publish(t testing.TB, p *paho.Publish) byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	pr, err := c.Publish(ctx, p)
	if pr == nil {
		t.Fatalf("%s: publish to %q: %v", c.id, p.Topic, err)
	}
	return pr.ReasonCode
}

// mustPublish publishes and fails the test unless the broker accepted it.
// (mochi acknowledges a QoS 1 publish with reason code 0x01, "granted QoS
// 1", where MQTT 5 expects 0x00; both are below 0x80, which is success.)
func (c *client5) mustPublish(t testing.TB, topic, payload string, qos byte, retain bool) {
	t.Helper()
	if rc := c.publish(t, &paho.Publish{Topic: topic, Payload: []byte(payload), QoS: qos, Retain: retain}); rc >= 0x80 {
		t.Fatalf("%s: publish to %q refused with %#x", c.id, topic, rc)
	}
}

// next returns the next message received, failing after waitTimeout.
func (c *client5) next(t testing.TB) *paho.Publish {
	t.Helper()
	select {
	case m := <-c.msgs:
		return m
	case <-time.After(waitTimeout):
		t.Fatalf("%s: timed out waiting for a message", c.id)
		return nil
	}
}

// expect returns the next message and fails unless it is on topic.
func (c *client5) expect(t testing.TB, topic string) *paho.Publish {
	t.Helper()
	m := c.next(t)
	if m.Topic != topic {
		t.Fatalf("%s: got a message on %q (%q), want one on %q", c.id, m.Topic, m.Payload, topic)
	}
	return m
}

// until returns the messages received before the first one on marker.
func (c *client5) until(t testing.TB, marker string) []*paho.Publish {
	t.Helper()
	var got []*paho.Publish
	for {
		m := c.next(t)
		if m.Topic == marker {
			return got
		}
		got = append(got, m)
	}
}

func u32(v uint32) *uint32 { return &v }

func topicsOf(ms []*paho.Publish) []string {
	var out []string
	for _, m := range ms {
		out = append(out, fmt.Sprintf("%s=%q", m.Topic, m.Payload))
	}
	return out
}

// ---- MQTT 3.1.1 client ----

// client3 is an MQTT 3.1.1 client that queues what it receives.
type client3 struct {
	mqtt3.Client
	id      string
	msgs    chan mqtt3.Message
	lost    chan error
	rc      byte // CONNACK return code
	present bool // CONNACK session present
}

// dial3 connects to broker (tcp://, ws:// or tls:// URL). configure may
// change the options. It returns the CONNACK return code's error, if any.
func dial3(t testing.TB, broker, id, user, pass string, configure ...func(*mqtt3.ClientOptions)) (*client3, error) {
	t.Helper()
	c := &client3{id: id, msgs: make(chan mqtt3.Message, 4096), lost: make(chan error, 1)}
	o := mqtt3.NewClientOptions().
		AddBroker(broker).
		SetClientID(id).
		SetUsername(user).
		SetPassword(pass).
		SetProtocolVersion(4).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(waitTimeout).
		SetKeepAlive(30 * time.Second).
		SetMessageChannelDepth(4096).
		SetDefaultPublishHandler(func(_ mqtt3.Client, m mqtt3.Message) { c.msgs <- m }).
		SetConnectionLostHandler(func(_ mqtt3.Client, err error) {
			select {
			case c.lost <- err:
			default:
			}
		})
	for _, f := range configure {
		f(o)
	}
	c.Client = mqtt3.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(waitTimeout) {
		t.Fatalf("connect %s: timed out", id)
	}
	c.rc = tok.(*mqtt3.ConnectToken).ReturnCode()
	c.present = tok.(*mqtt3.ConnectToken).SessionPresent()
	if err := tok.Error(); err != nil {
		return c, err
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c, nil
}

func mustConnect3(t testing.TB, broker, id, user, pass string, configure ...func(*mqtt3.ClientOptions)) *client3 {
	t.Helper()
	c, err := dial3(t, broker, id, user, pass, configure...)
	if err != nil {
		t.Fatalf("connect %s to %s: %v (return code %#x)", id, broker, err, c.rc)
	}
	return c
}

// keepConn makes the client dial plain TCP itself and store the connection
// in *dst, so that a test can cut it without DISCONNECT.
func keepConn(dst *net.Conn) func(*mqtt3.ClientOptions) {
	return func(o *mqtt3.ClientOptions) {
		o.SetCustomOpenConnectionFn(func(u *url.URL, _ mqtt3.ClientOptions) (net.Conn, error) {
			conn, err := net.DialTimeout("tcp", u.Host, waitTimeout)
			*dst = conn
			return conn, err
		})
	}
}

func wait3(t testing.TB, what string, tok mqtt3.Token) {
	t.Helper()
	if !tok.WaitTimeout(waitTimeout) {
		t.Fatalf("%s: timed out", what)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// subscribe3 returns the SUBACK return code.
func (c *client3) subscribe(t testing.TB, filter string, qos byte) byte {
	t.Helper()
	tok := c.Subscribe(filter, qos, nil)
	wait3(t, c.id+": subscribe "+filter, tok)
	return tok.(*mqtt3.SubscribeToken).Result()[filter]
}

func (c *client3) mustSubscribe(t testing.TB, filter string, qos byte) {
	t.Helper()
	if got := c.subscribe(t, filter, qos); got != qos {
		t.Fatalf("%s: SUBACK for %q at QoS %d = %#x", c.id, filter, qos, got)
	}
}

func (c *client3) mustPublish(t testing.TB, topic, payload string, qos byte, retain bool) {
	t.Helper()
	wait3(t, c.id+": publish to "+topic, c.Publish(topic, qos, retain, payload))
}

func (c *client3) next(t testing.TB) mqtt3.Message {
	t.Helper()
	select {
	case m := <-c.msgs:
		return m
	case <-time.After(waitTimeout):
		t.Fatalf("%s: timed out waiting for a message", c.id)
		return nil
	}
}

func (c *client3) until(t testing.TB, marker string) []mqtt3.Message {
	t.Helper()
	var got []mqtt3.Message
	for {
		m := c.next(t)
		if m.Topic() == marker {
			return got
		}
		got = append(got, m)
	}
}

// ---- protocol tests ----

// TestQoS publishes at QoS 0, 1 and 2 to subscriptions at QoS 0, 1 and 2:
// every publish is acknowledged, and each message arrives exactly once at
// QoS min(publish, subscription).
func TestQoS(t *testing.T) {
	t.Parallel()
	th := startHub(t)

	t.Run("MQTT5", func(t *testing.T) {
		sub := mustConnect5(t, th.mqttAddr(), connect5("qos5-sub", adminUser, adminPass))
		pub := mustConnect5(t, th.mqttAddr(), connect5("qos5-pub", adminUser, adminPass))
		for s := byte(0); s <= 2; s++ {
			sub.mustSubscribe(t, fmt.Sprintf("qos5/s%d/#", s), s)
		}
		sub.mustSubscribe(t, "qos5/marker", 0)
		want := map[string]byte{}
		for s := byte(0); s <= 2; s++ {
			for p := byte(0); p <= 2; p++ {
				topic := fmt.Sprintf("qos5/s%d/p%d", s, p)
				pub.mustPublish(t, topic, "x", p, false)
				want[topic] = min(p, s)
			}
		}
		pub.mustPublish(t, "qos5/marker", "", 0, false)
		got := map[string]byte{}
		for _, m := range sub.until(t, "qos5/marker") {
			if _, dup := got[m.Topic]; dup {
				t.Errorf("%s delivered twice", m.Topic)
			}
			got[m.Topic] = m.QoS
		}
		checkQoS(t, got, want)
	})

	t.Run("MQTT311", func(t *testing.T) {
		broker := "tcp://" + th.mqttAddr()
		sub := mustConnect3(t, broker, "qos3-sub", adminUser, adminPass)
		pub := mustConnect3(t, broker, "qos3-pub", adminUser, adminPass)
		for s := byte(0); s <= 2; s++ {
			sub.mustSubscribe(t, fmt.Sprintf("qos3/s%d/#", s), s)
		}
		sub.mustSubscribe(t, "qos3/marker", 0)
		want := map[string]byte{}
		for s := byte(0); s <= 2; s++ {
			for p := byte(0); p <= 2; p++ {
				topic := fmt.Sprintf("qos3/s%d/p%d", s, p)
				pub.mustPublish(t, topic, "x", p, false)
				want[topic] = min(p, s)
			}
		}
		pub.mustPublish(t, "qos3/marker", "", 0, false)
		got := map[string]byte{}
		for _, m := range sub.until(t, "qos3/marker") {
			if _, dup := got[m.Topic()]; dup {
				t.Errorf("%s delivered twice", m.Topic())
			}
			got[m.Topic()] = m.Qos()
		}
		checkQoS(t, got, want)
	})
}

func checkQoS(t *testing.T, got, want map[string]byte) {
	t.Helper()
	for topic, q := range want {
		g, ok := got[topic]
		switch {
		case !ok:
			t.Errorf("%s: not delivered", topic)
		case g != q:
			t.Errorf("%s: delivered at QoS %d, want %d", topic, g, q)
		}
	}
	for topic := range got {
		if _, ok := want[topic]; !ok {
			t.Errorf("unexpected delivery on %s", topic)
		}
	}
}

// TestRetained sets, replaces and clears a retained message. A subscriber
// gets the current value on subscribe, with the retain flag; a subscriber
// that was already there gets it live, without. After the clear, a new
// subscriber gets nothing: it then subscribes to a topic holding a retained
// marker, and since retained messages are sent in the order of the
// SUBSCRIBEs, the marker arriving alone proves there was nothing.
func TestRetained(t *testing.T) {
	t.Parallel()
	th := startHub(t)
	addr := th.mqttAddr()
	pub := mustConnect5(t, addr, connect5("ret-pub", adminUser, adminPass))
	live := mustConnect5(t, addr, connect5("ret-live", adminUser, adminPass))
	live.mustSubscribe(t, "ret/value", 1)
	pub.mustPublish(t, "ret/marker", "marker", 1, true)

	// current subscribes afresh and returns what it was sent.
	n := 0
	current := func(t *testing.T) []*paho.Publish {
		t.Helper()
		n++
		c := mustConnect5(t, addr, connect5(fmt.Sprintf("ret-new-%d", n), adminUser, adminPass))
		defer c.close()
		c.mustSubscribe(t, "ret/value", 1)
		c.mustSubscribe(t, "ret/marker", 1)
		return c.until(t, "ret/marker")
	}
	checkValue := func(t *testing.T, want string) {
		t.Helper()
		got := current(t)
		if len(got) != 1 || string(got[0].Payload) != want || !got[0].Retain {
			t.Fatalf("new subscriber got %v, want one retained %q", topicsOf(got), want)
		}
		m := live.expect(t, "ret/value")
		if string(m.Payload) != want || m.Retain {
			t.Errorf("live subscriber got %q retain=%v, want %q retain=false", m.Payload, m.Retain, want)
		}
	}

	t.Run("Set", func(t *testing.T) {
		pub.mustPublish(t, "ret/value", "one", 1, true)
		checkValue(t, "one")
	})
	t.Run("Replace", func(t *testing.T) {
		pub.mustPublish(t, "ret/value", "two", 2, true)
		checkValue(t, "two")
	})
	t.Run("Clear", func(t *testing.T) {
		pub.mustPublish(t, "ret/value", "", 1, true)
		if m := live.expect(t, "ret/value"); len(m.Payload) != 0 {
			t.Errorf("live subscriber got %q, want the empty clearing message", m.Payload)
		}
		if got := current(t); len(got) != 0 {
			t.Fatalf("new subscriber got %v after the clear, want nothing", topicsOf(got))
		}
	})
	t.Run("MQTT311", func(t *testing.T) {
		pub.mustPublish(t, "ret/value", "three", 1, true)
		live.expect(t, "ret/value")
		c := mustConnect3(t, "tcp://"+addr, "ret-v3", adminUser, adminPass)
		c.mustSubscribe(t, "ret/value", 1)
		m := c.next(t)
		if m.Topic() != "ret/value" || string(m.Payload()) != "three" || !m.Retained() {
			t.Fatalf("got %s=%q retain=%v, want ret/value=\"three\" retained", m.Topic(), m.Payload(), m.Retained())
		}
	})
}

// TestWill: a client whose connection ends without DISCONNECT has its Will
// published; one that sends DISCONNECT does not.
func TestWill(t *testing.T) {
	t.Parallel()
	th := startHub(t)
	addr := th.mqttAddr()
	sub := mustConnect5(t, addr, connect5("will-sub", adminUser, adminPass))
	sub.mustSubscribe(t, "will/#", 1)

	withWill := func(cp *paho.Connect, topic string) *paho.Connect {
		cp.WillMessage = &paho.WillMessage{Topic: topic, Payload: []byte(cp.ClientID + " gone"), QoS: 1}
		return cp
	}

	t.Run("UncleanMQTT5", func(t *testing.T) {
		w := mustConnect5(t, addr, withWill(connect5("will-5", adminUser, adminPass), "will/5"))
		w.kill(t)
		if m := sub.expect(t, "will/5"); string(m.Payload) != "will-5 gone" {
			t.Errorf("Will payload %q", m.Payload)
		}
	})

	t.Run("UncleanMQTT311", func(t *testing.T) {
		var conn net.Conn
		mustConnect3(t, "tcp://"+addr, "will-3", adminUser, adminPass, keepConn(&conn),
			func(o *mqtt3.ClientOptions) { o.SetWill("will/3", "will-3 gone", 1, false) })
		conn.Close()
		if m := sub.expect(t, "will/3"); string(m.Payload) != "will-3 gone" {
			t.Errorf("Will payload %q", m.Payload)
		}
	})

	t.Run("CleanDisconnect", func(t *testing.T) {
		w := mustConnect5(t, addr, withWill(connect5("will-clean", adminUser, adminPass), "will/clean"))
		gone := th.ev.next(mqtt.OnDisconnect, "will-clean")
		if err := w.Disconnect(&paho.Disconnect{ReasonCode: 0}); err != nil {
			t.Fatal(err)
		}
		// The broker publishes a Will before it runs OnDisconnect hooks, so
		// a Will would be queued for sub before the marker.
		waitFor(t, gone, "the broker to process will-clean's DISCONNECT")
		sub.mustPublish(t, "will/marker", "", 1, false)
		if got := sub.until(t, "will/marker"); len(got) != 0 {
			t.Fatalf("after a clean DISCONNECT got %v, want no Will", topicsOf(got))
		}
	})
}

// TestWillDelay: with an MQTT 5 Will Delay Interval the Will is published
// no earlier than the delay after the connection ends, and not at all if
// the client reconnects to its session within the delay.
func TestWillDelay(t *testing.T) {
	t.Parallel()
	const delay = 2 // seconds
	th := startHub(t, func(o *hub.Options) { o.MQTT.SysInterval = time.Second })
	addr := th.mqttAddr()
	sub := mustConnect5(t, addr, connect5("wd-sub", adminUser, adminPass))
	sub.mustSubscribe(t, "wd/#", 1)

	// The session outlives the delay, so only the delay holds the Will back.
	willClient := func(id string) *paho.Connect {
		cp := persistent(connect5(id, adminUser, adminPass), 60)
		cp.WillMessage = &paho.WillMessage{Topic: "wd/" + id, Payload: []byte(id + " gone"), QoS: 1}
		cp.WillProperties = &paho.WillProperties{WillDelayInterval: u32(delay)}
		return cp
	}
	back := mustConnect5(t, addr, willClient("wd-back")) // comes back in time
	away := mustConnect5(t, addr, willClient("wd-away")) // stays away

	backGone := th.ev.next(mqtt.OnDisconnect, "wd-back")
	start := time.Now()
	back.kill(t)
	waitFor(t, backGone, "the broker to see wd-back's connection end")
	again := mustConnect5(t, addr, persistent(connect5("wd-back", adminUser, adminPass), 60))
	if !again.ack.SessionPresent {
		t.Fatal("wd-back's session was not resumed")
	}
	if d := time.Since(start); d >= delay*time.Second {
		t.Fatalf("reconnecting took %v, longer than the Will delay: cannot test cancellation", d)
	}

	// wd-away goes after wd-back, so its Will is due no earlier.
	awayGone := th.ev.next(mqtt.OnDisconnect, "wd-away")
	start = time.Now()
	away.kill(t)
	waitFor(t, awayGone, "the broker to see wd-away's connection end")
	m := sub.expect(t, "wd/wd-away")
	if elapsed := time.Since(start); elapsed < delay*time.Second {
		t.Errorf("delayed Will arrived %v after the connection ended, want at least %ds", elapsed, delay)
	}
	if string(m.Payload) != "wd-away gone" {
		t.Errorf("Will payload %q", m.Payload)
	}

	// Delayed Wills are sent from the broker's event loop; once it has
	// gone on to a $SYS tick, the pass that sent wd-away's Will is over,
	// and wd-back's, had it still been pending, would be queued for sub
	// ahead of the marker.
	waitFor(t, th.ev.next(mqtt.OnSysInfoTick, ""), "a $SYS tick")
	sub.mustPublish(t, "wd/marker", "", 1, false)
	if got := sub.until(t, "wd/marker"); len(got) != 0 {
		t.Fatalf("got %v, want no Will for the client that came back", topicsOf(got))
	}
}

// TestPersistentSession: a session with a session expiry (MQTT 5) or
// clean session off (MQTT 3.1.1) keeps its QoS 1 and 2 subscriptions while
// the client is away and receives every message published meanwhile, once,
// when it comes back, with session present set.
func TestPersistentSession(t *testing.T) {
	t.Parallel()
	const n = 25
	th := startHub(t)
	addr := th.mqttAddr()
	pub := mustConnect5(t, addr, connect5("ps-pub", adminUser, adminPass))

	t.Run("MQTT5", func(t *testing.T) {
		cp := func() *paho.Connect { return persistent(connect5("ps-sub5", adminUser, adminPass), 300) }
		sub := mustConnect5(t, addr, cp())
		sub.mustSubscribe(t, "ps5/q1/#", 1)
		sub.mustSubscribe(t, "ps5/q2/#", 2)
		sub.close()

		want := map[string]byte{}
		for i := range n {
			for q := byte(1); q <= 2; q++ {
				topic := fmt.Sprintf("ps5/q%d/%02d", q, i)
				pub.mustPublish(t, topic, strconv.Itoa(i), q, false)
				want[topic] = q
			}
		}

		sub = mustConnect5(t, addr, cp())
		if !sub.ack.SessionPresent {
			t.Fatal("CONNACK session present = false, want true")
		}
		// The broker resends the queue before it reads anything from the
		// client, so the client's own marker comes after all of it.
		sub.mustPublish(t, "ps5/q1/marker", "", 1, false)
		got := map[string]byte{}
		for _, m := range sub.until(t, "ps5/q1/marker") {
			if _, dup := got[m.Topic]; dup {
				t.Errorf("%s delivered twice", m.Topic)
			}
			got[m.Topic] = m.QoS
		}
		checkQoS(t, got, want)
	})

	t.Run("MQTT311", func(t *testing.T) {
		broker := "tcp://" + addr
		persist3 := func(o *mqtt3.ClientOptions) { o.SetCleanSession(false) }
		sub := mustConnect3(t, broker, "ps-sub3", adminUser, adminPass, persist3)
		sub.mustSubscribe(t, "ps3/q1/#", 1)
		sub.mustSubscribe(t, "ps3/q2/#", 2)
		sub.Disconnect(100)

		want := map[string]byte{}
		for i := range n {
			for q := byte(1); q <= 2; q++ {
				topic := fmt.Sprintf("ps3/q%d/%02d", q, i)
				pub.mustPublish(t, topic, strconv.Itoa(i), q, false)
				want[topic] = q
			}
		}

		sub = mustConnect3(t, broker, "ps-sub3", adminUser, adminPass, persist3)
		if !sub.present {
			t.Fatal("CONNACK session present = false, want true")
		}
		sub.mustPublish(t, "ps3/q1/marker", "", 1, false)
		got := map[string]byte{}
		for _, m := range sub.until(t, "ps3/q1/marker") {
			if _, dup := got[m.Topic()]; dup {
				t.Errorf("%s delivered twice", m.Topic())
			}
			got[m.Topic()] = m.Qos()
		}
		checkQoS(t, got, want)
	})
}

// TestMessageExpiry: a QoS 1 message with a Message Expiry Interval of 1 s
// queued for an offline session is dropped once it has expired and never
// delivered; one with a long expiry is delivered with the interval that
// remains. Expiry is about time, so the test does wait for the clock: it
// waits for the broker's expiry sweep to drop the message (an event),
// which cannot happen before the second has passed.
func TestMessageExpiry(t *testing.T) {
	t.Parallel()
	const long = 3600
	th := startHub(t)
	addr := th.mqttAddr()
	cp := func() *paho.Connect { return persistent(connect5("exp-sub", adminUser, adminPass), 300) }
	sub := mustConnect5(t, addr, cp())
	sub.mustSubscribe(t, "exp/#", 1)
	sub.close()

	pub := mustConnect5(t, addr, connect5("exp-pub", adminUser, adminPass))
	dropped := th.ev.next(mqtt.OnQosDropped, "exp-sub")
	published := time.Now()
	for _, m := range []struct {
		topic  string
		expiry uint32
	}{{"exp/short", 1}, {"exp/long", long}} {
		p := &paho.Publish{Topic: m.topic, Payload: []byte(m.topic), QoS: 1,
			Properties: &paho.PublishProperties{MessageExpiry: u32(m.expiry)}}
		if rc := pub.publish(t, p); rc >= 0x80 {
			t.Fatalf("publish %s: %#x", m.topic, rc)
		}
	}
	waitFor(t, dropped, "the broker to drop the expired message")
	if d := time.Since(published); d < time.Second {
		t.Errorf("message with a 1 s expiry dropped after %v", d)
	}

	sub = mustConnect5(t, addr, cp())
	if !sub.ack.SessionPresent {
		t.Fatal("session not resumed")
	}
	sub.mustPublish(t, "exp/marker", "", 1, false)
	got := sub.until(t, "exp/marker")
	if len(got) != 1 || got[0].Topic != "exp/long" {
		t.Fatalf("got %v, want exp/long only", topicsOf(got))
	}
	var remaining uint32
	if p := got[0].Properties; p != nil && p.MessageExpiry != nil {
		remaining = *p.MessageExpiry
	}
	elapsed := uint32(time.Since(published)/time.Second) + 1
	if remaining > long || remaining < long-elapsed-1 {
		t.Errorf("delivered with Message Expiry Interval %d, want %d minus the %d s or so it waited", remaining, long, elapsed)
	}
}

// TestSharedSubscription: two clients in the group $share/g split the
// messages on the topic; each message reaches exactly one of them.
func TestSharedSubscription(t *testing.T) {
	t.Parallel()
	const n = 100
	th := startHub(t)
	addr := th.mqttAddr()
	a := mustConnect5(t, addr, connect5("share-a", adminUser, adminPass))
	b := mustConnect5(t, addr, connect5("share-b", adminUser, adminPass))
	for _, c := range []*client5{a, b} {
		c.mustSubscribe(t, "$share/g/shared/t", 1)
		c.mustSubscribe(t, "shared/marker", 1) // not shared: both get it
	}
	pub := mustConnect5(t, addr, connect5("share-pub", adminUser, adminPass))
	for i := range n {
		pub.mustPublish(t, "shared/t", strconv.Itoa(i), 1, false)
	}
	pub.mustPublish(t, "shared/marker", "", 1, false)

	seen := map[string]string{}
	for _, c := range []*client5{a, b} {
		got := c.until(t, "shared/marker")
		if len(got) == 0 {
			t.Errorf("%s got none of the %d messages", c.id, n)
		}
		for _, m := range got {
			if other, dup := seen[string(m.Payload)]; dup {
				t.Errorf("message %s delivered to %s and %s", m.Payload, other, c.id)
			}
			seen[string(m.Payload)] = c.id
		}
	}
	if len(seen) != n {
		t.Errorf("%d distinct messages delivered, want %d", len(seen), n)
	}
}

// TestUserProperties: MQTT 5 user properties on a publish reach the
// subscriber unchanged and in order, repeated keys included.
func TestUserProperties(t *testing.T) {
	t.Parallel()
	th := startHub(t)
	addr := th.mqttAddr()
	sub := mustConnect5(t, addr, connect5("up-sub", adminUser, adminPass))
	sub.mustSubscribe(t, "up/#", 1)
	pub := mustConnect5(t, addr, connect5("up-pub", adminUser, adminPass))
	want := paho.UserProperties{{Key: "room", Value: "kitchen"}, {Key: "unit", Value: "°C"}, {Key: "room", Value: "hall"}}
	for qos := byte(0); qos <= 2; qos++ {
		topic := fmt.Sprintf("up/q%d", qos)
		p := &paho.Publish{Topic: topic, QoS: qos, Payload: []byte("21.5"),
			Properties: &paho.PublishProperties{User: want, ContentType: "text/plain"}}
		if rc := pub.publish(t, p); rc >= 0x80 {
			t.Fatalf("publish: %#x", rc)
		}
		m := sub.expect(t, topic)
		if m.Properties == nil || !slices.Equal(m.Properties.User, want) {
			t.Errorf("QoS %d: user properties %+v, want %+v", qos, m.Properties, want)
		} else if m.Properties.ContentType != "text/plain" {
			t.Errorf("QoS %d: content type %q", qos, m.Properties.ContentType)
		}
	}
}

// TestPublishNotAuthorizedReasonCode: under MQTT 5 a QoS 1 publish the ACL
// denies is answered PUBACK 0x87 and a QoS 2 one PUBREC 0x87, and the
// client stays connected.
func TestPublishNotAuthorizedReasonCode(t *testing.T) {
	t.Parallel()
	th := startHub(t)
	dev := mustConnect5(t, th.mqttAddr(), connect5("na-dev", dev1User, dev1Pass))
	for qos, ack := range map[byte]string{1: "PUBACK", 2: "PUBREC"} {
		if got := dev.publish(t, &paho.Publish{Topic: "not/allowed", QoS: qos, Payload: []byte("x")}); got != 0x87 {
			t.Errorf("QoS %d: %s reason code %#x, want 0x87 (not authorized)", qos, ack, got)
		}
	}
	select {
	case <-dev.Done():
		t.Fatal("client disconnected after a refused publish")
	default:
	}
}

// TestWebSocket: MQTT over ws://.../mqtt, with the allowed Origin, carries
// subscriptions and publishes.
func TestWebSocket(t *testing.T) {
	t.Parallel()
	th := startHub(t)
	origin := func(o *mqtt3.ClientOptions) { o.SetHTTPHeaders(http.Header{"Origin": {allowedOrigin}}) }
	sub := mustConnect3(t, th.wsURL(), "ws-sub", adminUser, adminPass, origin)
	sub.mustSubscribe(t, "ws/#", 2)
	pub := mustConnect3(t, th.wsURL(), "ws-pub", adminUser, adminPass, origin)
	for qos := byte(0); qos <= 2; qos++ {
		topic := fmt.Sprintf("ws/q%d", qos)
		pub.mustPublish(t, topic, "over websocket", qos, false)
		m := sub.next(t)
		if m.Topic() != topic || string(m.Payload()) != "over websocket" || m.Qos() != qos {
			t.Errorf("got %s=%q at QoS %d, want %s at QoS %d", m.Topic(), m.Payload(), m.Qos(), topic, qos)
		}
	}
}

// TestSysTopics: an admin subscribed to $SYS/# receives the broker's
// version, uptime and the number of connected clients, refreshed every
// SysInterval.
func TestSysTopics(t *testing.T) {
	t.Parallel()
	th := startHub(t, func(o *hub.Options) { o.MQTT.SysInterval = time.Second })
	c := mustConnect5(t, th.mqttAddr(), connect5("sys-admin", adminUser, adminPass))
	c.mustSubscribe(t, "$SYS/#", 0)
	var version string
	uptime, connected := -1, -1
	for version == "" || uptime < 0 || connected < 1 {
		m := c.next(t)
		v := string(m.Payload)
		switch m.Topic {
		case "$SYS/broker/version":
			version = v
		case "$SYS/broker/uptime":
			if uptime = atoi(t, m.Topic, v); uptime < 0 {
				t.Fatalf("uptime %q", v)
			}
		case "$SYS/broker/clients/connected":
			// The value retained at start-up is 0; the next tick counts c.
			connected = atoi(t, m.Topic, v)
		}
	}
	if version != testVersion {
		t.Errorf("$SYS/broker/version = %q, want %q", version, testVersion)
	}
}

// TestRetainedNoExpiryCap: retained messages (discovery configurations)
// must not vanish after mochi's default 24 h cap. The capability is off,
// and the broker's expiry sweep, seen removing a retained message that
// carries its own 1 s expiry, leaves alone one published two days ago.
func TestRetainedNoExpiryCap(t *testing.T) {
	t.Parallel()
	th := startHub(t)
	if got := th.Broker.Options.Capabilities.MaximumMessageExpiryInterval; got != 0 {
		t.Fatalf("MaximumMessageExpiryInterval = %d, want 0 (no cap)", got)
	}
	addr := th.mqttAddr()
	pub := mustConnect5(t, addr, connect5("cap-pub", adminUser, adminPass))
	pub.mustPublish(t, "cfg/lamp", "config", 1, true)

	// Nobody can wait 24 h: age the stored copy instead. The broker keeps
	// its retained messages in Topics.Retained, and its sweep compares
	// their Created time against the cap.
	pk, ok := th.Broker.Topics.Retained.Get("cfg/lamp")
	if !ok {
		t.Fatal("retained message not in the broker")
	}
	pk.Created -= 2 * 24 * 60 * 60
	th.Broker.Topics.RetainMessage(pk)

	swept := th.ev.next(mqtt.OnRetainedExpired, "cfg/ephemeral")
	p := &paho.Publish{Topic: "cfg/ephemeral", Payload: []byte("brief"), QoS: 1, Retain: true,
		Properties: &paho.PublishProperties{MessageExpiry: u32(1)}}
	if rc := pub.publish(t, p); rc >= 0x80 {
		t.Fatalf("publish: %#x", rc)
	}
	waitFor(t, swept, "the expiry sweep to remove cfg/ephemeral")

	if _, ok := th.Broker.Topics.Retained.Get("cfg/lamp"); !ok {
		t.Fatal("the sweep removed a retained message without expiry because it was 2 days old")
	}
	c := mustConnect5(t, addr, connect5("cap-sub", adminUser, adminPass))
	c.mustSubscribe(t, "cfg/#", 1)
	c.mustSubscribe(t, "cfg-marker", 1)
	pub.mustPublish(t, "cfg-marker", "", 1, false)
	got := c.until(t, "cfg-marker")
	if len(got) != 1 || got[0].Topic != "cfg/lamp" || string(got[0].Payload) != "config" {
		t.Fatalf("subscriber got %v, want only cfg/lamp=\"config\"", topicsOf(got))
	}
}

// TestRestart closes the hub and opens a new one on the same data
// directory: retained messages, a persistent session's subscriptions and
// the messages queued for it are all back. (cmd/hubd tests the same after
// kill -9.)
func TestRestart(t *testing.T) {
	t.Parallel()
	th := startHub(t)
	cp := func() *paho.Connect { return persistent(connect5("rs-sub", adminUser, adminPass), 3600) }
	sub := mustConnect5(t, th.mqttAddr(), cp())
	sub.mustSubscribe(t, "rs/q1/#", 1)
	sub.mustSubscribe(t, "rs/q2/#", 2)
	sub.close()

	pub := mustConnect5(t, th.mqttAddr(), connect5("rs-pub", adminUser, adminPass))
	pub.mustPublish(t, "rs/retained/a", "kept-a", 1, true)
	pub.mustPublish(t, "rs/retained/b", "kept-b", 0, true)
	want := map[string]byte{}
	for i := range 5 {
		for q := byte(1); q <= 2; q++ {
			topic := fmt.Sprintf("rs/q%d/%d", q, i)
			pub.mustPublish(t, topic, "queued", q, false)
			want[topic] = q
		}
	}
	pub.close()

	th = th.restart(t)
	addr := th.mqttAddr()

	r := mustConnect5(t, addr, connect5("rs-reader", adminUser, adminPass))
	r.mustSubscribe(t, "rs/retained/#", 1)
	r.mustSubscribe(t, "rs/marker", 1)
	r.mustPublish(t, "rs/marker", "", 1, false)
	gotRetained := map[string]string{}
	for _, m := range r.until(t, "rs/marker") {
		gotRetained[m.Topic] = string(m.Payload)
	}
	if want := map[string]string{"rs/retained/a": "kept-a", "rs/retained/b": "kept-b"}; !maps.Equal(gotRetained, want) {
		t.Errorf("retained after restart: %v, want %v", gotRetained, want)
	}

	sub = mustConnect5(t, addr, cp())
	if !sub.ack.SessionPresent {
		t.Fatal("session not present after restart")
	}
	// The subscriptions are back too: a message published after the
	// restart arrives without subscribing again.
	r.mustPublish(t, "rs/q2/after", "after restart", 2, false)
	sub.mustPublish(t, "rs/q1/marker", "", 1, false)
	want["rs/q2/after"] = 2
	got := map[string]byte{}
	for _, m := range sub.until(t, "rs/q1/marker") {
		if _, dup := got[m.Topic]; dup {
			t.Errorf("%s delivered twice", m.Topic)
		}
		got[m.Topic] = m.QoS
	}
	checkQoS(t, got, want)
}

func atoi(t testing.TB, topic, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%s = %q: %v", topic, s, err)
	}
	return n
}

// TestHealthz: GET /healthz on the HTTP listener answers 200 "ok" once the
// hub is open.
func TestHealthz(t *testing.T) {
	t.Parallel()
	th := startHub(t)
	resp, err := http.Get("http://" + th.Addr("http").String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "ok" {
		t.Fatalf("GET /healthz = %d %q, want 200 \"ok\"", resp.StatusCode, body)
	}
}

// TestCloseWhileClientsDisconnect closes the hub just after clients with
// lasting sessions have sent DISCONNECT, as happens when hubd gets SIGTERM
// while devices come and go. Hub.close clears every client's Will flag
// (atomic.StoreUint32(&cl.Properties.Will.Flag, 0), hub.go) while mochi,
// on each client's own goroutine, resets the Will after a clean DISCONNECT
// with a plain assignment (cl.Properties.Will = Will{}, server.go:481 in
// mochi v2.7.9). Nothing orders the two: a data race, which -race reports.
// (A session that ends with its connection is removed from the broker's
// client list under a lock, which happens to order the accesses; a lasting
// one is not.) Known bug: run with -race -hub.bugs.
func TestCloseWhileClientsDisconnect(t *testing.T) {
	th := startHub(t)
	var cs []*client5
	for i := range 10 {
		cp := persistent(connect5(fmt.Sprintf("bye-%d", i), adminUser, adminPass), 3600)
		cp.WillMessage = &paho.WillMessage{Topic: "bye", Payload: []byte("gone")}
		cs = append(cs, mustConnect5(t, th.mqttAddr(), cp))
	}
	for _, c := range cs {
		c.close()
	}
	// Give the broker a moment to process the DISCONNECTs. Waiting for a
	// server-side event instead (as the other tests do) would synchronise
	// with the client goroutines and hide the race from the detector.
	time.Sleep(200 * time.Millisecond)
	if err := th.Close(); err != nil {
		t.Fatal(err)
	}
}
