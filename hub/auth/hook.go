package auth

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"time"
	"weak"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// HookOptions configures a Hook.
type HookOptions struct {
	// Users verifies usernames and passwords. Required.
	Users *Store
	// ACL returns the current rules; the hub swaps them atomically on
	// reload. Nil, or a func returning nil, leaves only built-in access.
	ACL func() *ACL
	// AllowAnonymous lets clients connect without a username, with role
	// RoleAnonymous.
	AllowAnonymous bool
	// CNAsUsername: on a TLS connection whose client certificate was
	// verified, the certificate's common name names the user, who must
	// exist in Users; no password is needed.
	CNAsUsername bool
	// Server is the broker the hook is added to. It is used to find the
	// session a client id already belongs to and to send CONNACK when a
	// connection is refused for a reason other than bad credentials.
	Server *mqtt.Server
	// Logger receives failed and refused connections; nil discards.
	Logger *slog.Logger
	// Grants adds access decided elsewhere: the topics a paired device's
	// own discovery configuration declares. Nil grants nothing.
	Grants Grants
}

// Grants is access granted to individual clients by another part of the
// hub (device pairing). It only ever adds to what the rules allow; the
// built-in limits ($ topics) still apply, because grants never cover
// them.
type Grants interface {
	// CanPublish reports whether the client may publish to topic.
	CanPublish(s Subject, topic string) bool
	// CanSubscribe reports whether the client may subscribe to filter
	// (and receive what it matches).
	CanSubscribe(s Subject, filter string) bool
}

// Hook is the broker extension that authenticates clients at CONNECT and
// checks every publish, subscribe and delivery against the ACL.
//
// Everything about a CONNECT is decided in OnConnect, which mochi calls
// before OnConnectAuthenticate: the credentials, whether the client id
// belongs to another user's session, and whether the Will's topic may be
// published to. A refusal sends its own CONNACK and fails the connection:
// "bad username or password" (0x86, MQTT 3 0x04) for bad or missing
// credentials, "not authorized" (0x87, MQTT 3 0x05) for a client id or
// Will the user may not have, "server unavailable" (0x88, MQTT 3 0x03)
// when the user store cannot be read. OnConnectAuthenticate then only
// reports the verdict. (mochi's own refusal after OnConnectAuthenticate
// would send 0x05 to MQTT 3 clients for bad credentials.)
type Hook struct {
	mqtt.HookBase

	users  *Store
	acl    func() *ACL
	anon   bool
	cn     bool
	server *mqtt.Server
	log    *slog.Logger
	grants Grants

	// clients remembers each client's verdict and Subject, so ACL checks
	// never reach SQLite. Keys are weak: an entry goes when mochi drops
	// the client (disconnected and expired, or taken over), however the
	// connection ended.
	mu      sync.RWMutex
	clients map[weak.Pointer[mqtt.Client]]*clientState
}

// clientState is immutable once stored.
type clientState struct {
	sub Subject
	// ok is false for a client that may do nothing, e.g. a restored
	// session whose user no longer exists.
	ok bool
	// authenticated is set by OnConnect for OnConnectAuthenticate.
	authenticated bool
}

// Compile-time check that Hook is a mochi hook.
var _ mqtt.Hook = (*Hook)(nil)

// connectTimeout bounds the database work for one CONNECT.
const connectTimeout = 10 * time.Second

// NewHook returns a Hook; add it to the broker with Server.AddHook(h, nil).
func NewHook(o HookOptions) *Hook {
	h := &Hook{
		users:   o.Users,
		acl:     o.ACL,
		anon:    o.AllowAnonymous,
		cn:      o.CNAsUsername,
		server:  o.Server,
		log:     o.Logger,
		grants:  o.Grants,
		clients: make(map[weak.Pointer[mqtt.Client]]*clientState),
	}
	if h.acl == nil {
		h.acl = func() *ACL { return nil }
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h
}

// ID returns "hubd-auth".
func (h *Hook) ID() string { return "hubd-auth" }

// Provides reports the events the hook handles: OnConnect,
// OnConnectAuthenticate and OnACLCheck.
func (h *Hook) Provides(b byte) bool {
	return bytes.IndexByte([]byte{
		mqtt.OnConnect,
		mqtt.OnConnectAuthenticate,
		mqtt.OnACLCheck,
	}, b) >= 0
}

// Init checks the hook was built by NewHook with a user store. The hook
// takes no config of its own: pass nil to AddHook.
func (h *Hook) Init(config any) error {
	if config != nil {
		return fmt.Errorf("hubd-auth: %w: configure with NewHook and pass nil", mqtt.ErrInvalidConfigType)
	}
	if h.users == nil || h.clients == nil {
		return errors.New("hubd-auth: no user store (build the hook with NewHook and HookOptions.Users)")
	}
	return nil
}

// verdict is the outcome of checking a CONNECT's credentials.
type verdict int

const (
	verdictOK          verdict = iota
	verdictBad                 // bad or missing credentials
	verdictUnavailable         // the user store could not be read
)

// OnConnect authenticates the client and checks its client id and Will.
// A refusal sends its CONNACK and returns an error, which makes mochi drop
// the connection. Without HookOptions.Server, bad credentials return nil
// and OnConnectAuthenticate refuses instead.
func (h *Hook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()

	sub, v, reason, err := h.authenticate(ctx, cl, pk)
	switch v {
	case verdictBad:
		h.log.Info("mqtt authentication failed", "client", cl.ID, "remote", cl.Net.Remote,
			"username", string(pk.Connect.Username), "reason", reason)
		if h.server == nil {
			return nil // OnConnectAuthenticate refuses; mochi sends the CONNACK
		}
		return h.refuse(cl, packets.ErrBadUsernameOrPassword, reason)
	case verdictUnavailable:
		return h.refuse(cl, packets.ErrServerUnavailable, reason,
			"username", string(pk.Connect.Username), "error", err)
	}

	if h.server != nil {
		if old, ok := h.server.Clients.Get(cl.ID); ok && string(old.Properties.Username) != sub.Username {
			return h.refuse(cl, packets.ErrNotAuthorized, "client id belongs to another user's session",
				"username", sub.Username, "session_username", string(old.Properties.Username))
		}
	}
	if sub.Role == RoleOnboarding && !h.pairingOpen(ctx) {
		return h.refuse(cl, packets.ErrNotAuthorized, "onboarding credential used outside the pairing window",
			"username", sub.Username)
	}
	if pk.Connect.WillFlag && !h.canPublish(ctx, sub, pk.Connect.WillTopic) {
		return h.refuse(cl, packets.ErrNotAuthorized, "will topic not allowed",
			"username", sub.Username, "will_topic", pk.Connect.WillTopic)
	}

	// A certificate user is known by its CN from here on: in takeover
	// checks, in stored sessions and in the rest of the broker.
	if string(cl.Properties.Username) != sub.Username {
		cl.Properties.Username = []byte(sub.Username)
	}
	h.remember(cl, &clientState{sub: sub, ok: true, authenticated: true}, true)
	return nil
}

// authenticate decides who the client is. reason explains a refusal.
func (h *Hook) authenticate(ctx context.Context, cl *mqtt.Client, pk packets.Packet) (Subject, verdict, string, error) {
	username := string(pk.Connect.Username)
	if h.users == nil { // Init refuses this; stay safe if it was skipped
		return Subject{}, verdictBad, "no user store", nil
	}
	if h.cn {
		if cn, ok := verifiedCN(cl.Net.Conn); ok {
			if username != "" && username != cn {
				return Subject{}, verdictBad, fmt.Sprintf("username does not match certificate CN %q", cn), nil
			}
			u, err := h.users.Get(ctx, cn)
			if errors.Is(err, ErrNotFound) {
				return Subject{}, verdictBad, fmt.Sprintf("certificate CN %q is not a user", cn), nil
			} else if err != nil {
				return Subject{}, verdictUnavailable, "user store unavailable", err
			}
			return Subject{Username: u.Name, Role: u.Role, ClientID: cl.ID}, verdictOK, "", nil
		}
	}
	if username == "" {
		if !h.anon {
			return Subject{}, verdictBad, "anonymous clients are not allowed", nil
		}
		return Subject{Role: RoleAnonymous, ClientID: cl.ID}, verdictOK, "", nil
	}
	u, err := h.users.Verify(ctx, username, string(pk.Connect.Password))
	if errors.Is(err, ErrBadPassword) {
		return Subject{}, verdictBad, "bad username or password", nil
	} else if err != nil {
		return Subject{}, verdictUnavailable, "user store unavailable", err
	}
	return Subject{Username: u.Name, Role: u.Role, ClientID: cl.ID}, verdictOK, "", nil
}

// refuse sends a failure CONNACK with code (mapped for MQTT 3) and returns
// the error that makes mochi drop the connection.
func (h *Hook) refuse(cl *mqtt.Client, code packets.Code, reason string, attrs ...any) error {
	send := code
	if cl.Properties.ProtocolVersion < 5 {
		// mochi maps "bad username or password" to 0x05 and "not
		// authorized" not at all; MQTT 3.1.1 has 0x04 and 0x05.
		switch code {
		case packets.ErrBadUsernameOrPassword:
			send = packets.ErrMalformedUsernameOrPassword // 0x04
		case packets.ErrNotAuthorized:
			send = packets.Err3NotAuthorized // 0x05
		case packets.ErrServerUnavailable:
			send = packets.Err3ServerUnavailable // 0x03
		}
	}
	attrs = append([]any{"client", cl.ID, "remote", cl.Net.Remote, "reason", reason}, attrs...)
	switch code {
	case packets.ErrBadUsernameOrPassword: // logged by the caller
	case packets.ErrServerUnavailable:
		h.log.Error("mqtt connection refused", attrs...)
	default:
		h.log.Info("mqtt connection refused", attrs...)
	}
	if h.server != nil {
		if err := h.server.SendConnack(cl, send, false, nil); err != nil {
			h.log.Debug("send connack", "client", cl.ID, "error", err)
		}
	}
	return fmt.Errorf("hubd-auth: %s: %w", reason, code)
}

// verifiedCN returns the common name of a client certificate that the TLS
// handshake verified. conn may be a *tls.Conn or any wrapper that exposes
// ConnectionState.
func verifiedCN(conn net.Conn) (string, bool) {
	tc, ok := conn.(interface{ ConnectionState() tls.ConnectionState })
	if !ok {
		return "", false
	}
	st := tc.ConnectionState()
	if len(st.VerifiedChains) == 0 || len(st.PeerCertificates) == 0 {
		return "", false
	}
	cn := st.PeerCertificates[0].Subject.CommonName
	return cn, cn != ""
}

// OnConnectAuthenticate returns the verdict OnConnect reached.
func (h *Hook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	st := h.lookup(cl)
	return st != nil && st.authenticated
}

// OnACLCheck checks a publish (write), a subscription filter, or a
// delivery of a message to cl. The broker's inline client may do anything.
func (h *Hook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if cl.Net.Inline {
		return true
	}
	sub, ok := h.subject(cl)
	if !ok {
		return false
	}
	a := h.acl()
	g := h.grants
	isDollar := strings.HasPrefix(topic, "$")
	switch {
	case write:
		ok = h.canPublish(context.Background(), sub, topic)
	case sub.Role == RoleOnboarding:
		ok = false // onboarding credentials only announce
	case isFilter(topic):
		ok = a.CanSubscribe(sub, topic) || g != nil && !isDollar && g.CanSubscribe(sub, topic)
	default: // per delivery: keep it quiet
		return a.CanRead(sub, topic) || g != nil && !isDollar && g.CanSubscribe(sub, topic)
	}
	if !ok && h.log.Enabled(context.Background(), slog.LevelDebug) {
		h.log.Debug("mqtt access denied", "client", cl.ID, "username", sub.Username,
			"topic", topic, "write", write)
	}
	return ok
}

// canPublish is the publish decision: the rules, then the grants; an
// onboarding credential may only publish discovery configurations, and
// only while the pairing window is open.
func (h *Hook) canPublish(ctx context.Context, sub Subject, topic string) bool {
	if sub.Role == RoleOnboarding {
		return isConfigTopic(topic) && h.pairingOpen(ctx)
	}
	if h.acl().CanPublish(sub, topic) {
		return true
	}
	return h.grants != nil && !strings.HasPrefix(topic, "$") && h.grants.CanPublish(sub, topic)
}

// isConfigTopic reports whether topic looks like a discovery config
// topic: "<prefix>/<component>/[<node_id>/]<object_id>/config".
func isConfigTopic(topic string) bool {
	if strings.HasPrefix(topic, "$") || strings.HasPrefix(topic, "hubd/") || !strings.HasSuffix(topic, "/config") {
		return false
	}
	n := strings.Count(topic, "/")
	return n == 3 || n == 4
}

// pairingOpen reports whether the pairing window is open now.
func (h *Hook) pairingOpen(ctx context.Context) bool {
	until, err := h.users.PairingWindow(ctx)
	if err != nil {
		h.log.Warn("pairing window unreadable; treating it as closed", "error", err)
		return false
	}
	return time.Now().Before(until)
}

// subject returns who cl is. A client the hook did not authenticate (a
// session restored from storage at start-up) is looked up once by its
// stored username.
func (h *Hook) subject(cl *mqtt.Client) (Subject, bool) {
	if st := h.lookup(cl); st != nil {
		return st.sub, st.ok
	}
	st := &clientState{sub: Subject{Username: string(cl.Properties.Username), ClientID: cl.ID}}
	switch {
	case st.sub.Username == "":
		st.sub.Role, st.ok = RoleAnonymous, h.anon
	case h.users == nil:
	default:
		ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
		u, err := h.users.Get(ctx, st.sub.Username)
		cancel()
		if err != nil && !errors.Is(err, ErrNotFound) {
			h.log.Warn("look up user of stored session", "client", cl.ID,
				"username", st.sub.Username, "error", err)
			return Subject{}, false // not remembered: try again next time
		}
		if err == nil {
			st.sub.Role, st.ok = u.Role, true
		}
	}
	st = h.remember(cl, st, false)
	return st.sub, st.ok
}

func (h *Hook) lookup(cl *mqtt.Client) *clientState {
	wp := weak.Make(cl)
	h.mu.RLock()
	st := h.clients[wp]
	h.mu.RUnlock()
	return st
}

// remember stores st for cl (replacing any entry if replace is set) and
// returns the entry in force.
func (h *Hook) remember(cl *mqtt.Client, st *clientState, replace bool) *clientState {
	wp := weak.Make(cl)
	h.mu.Lock()
	old, had := h.clients[wp]
	if had && !replace {
		h.mu.Unlock()
		return old
	}
	h.clients[wp] = st
	h.mu.Unlock()
	if !had {
		runtime.AddCleanup(cl, h.forget, wp)
	}
	return st
}

func (h *Hook) forget(wp weak.Pointer[mqtt.Client]) {
	h.mu.Lock()
	delete(h.clients, wp)
	h.mu.Unlock()
}
