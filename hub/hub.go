// Package hub composes hubd: one SQLite database, one MQTT broker extended
// through hooks, and the listeners that serve them. Domain packages plug
// into the hub; the hub is the only package that knows them all.
package hub

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"hubd/hub/auth"
	"hubd/hub/listener"
	"hubd/hub/persist"
	"hubd/hub/sqlite"
)

// DatabaseFile is the name of the database inside the data directory.
const DatabaseFile = "hubd.db"

// watchdogTopic is where Check sends a message to itself through the
// broker. No client may read or publish it (auth.PrivatePrefix).
const watchdogTopic = auth.PrivatePrefix + "watchdog"

// Hub is a running hubd: database, broker and listeners.
type Hub struct {
	opts Options
	log  *slog.Logger

	// DB is the hub's one database handle.
	DB *sqlite.DB
	// Users is the user store.
	Users *auth.Store
	// Broker is the MQTT server.
	Broker *mqtt.Server

	devicesPart

	persist *persist.Hook
	policy  *policyHook
	acl     atomic.Pointer[auth.ACL]

	bound   map[string]net.Listener
	httpSrv *http.Server
	ready   atomic.Bool

	checkMu  sync.Mutex
	checkSeq uint64
	echo     chan string

	closeOnce sync.Once
	closeErr  error
}

// New returns a hub configured by opts. Call Open to start it.
func New(opts Options) *Hub {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.WebSocket.Path == "" {
		opts.WebSocket.Path = "/mqtt"
	}
	if opts.MQTT.SysInterval <= 0 {
		opts.MQTT.SysInterval = 10 * time.Second
	}
	return &Hub{opts: opts, log: log, bound: map[string]net.Listener{}, echo: make(chan string, 1)}
}

// Open binds every listener, opens and migrates the database, restores the
// broker's state and starts serving. When it returns nil, every listener
// accepts connections. On error, whatever was opened is closed again.
func (h *Hub) Open(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			h.Close()
		}
	}()
	acl, err := auth.NewACL(h.opts.ACL)
	if err != nil {
		return fmt.Errorf("acl: %w", err)
	}
	h.acl.Store(acl)

	tlsConf, err := h.tlsConfig()
	if err != nil {
		return err
	}

	// Bind first: a port in use is the most common start-up failure and
	// should be reported before anything else is touched.
	for _, l := range []struct{ name, addr string }{
		{"mqtt", h.opts.MQTT.Addr},
		{"ws", h.opts.WebSocket.Addr},
		{"tls", tlsAddr(h.opts.TLS, tlsConf)},
		{"http", h.opts.HTTP.Addr},
	} {
		if l.addr == "" && h.opts.Inherited[l.name] == nil {
			continue
		}
		nl, err := listener.Bind(l.name, l.addr, h.opts.Inherited)
		if err != nil {
			return err
		}
		h.bound[l.name] = nl
	}

	if err := os.MkdirAll(h.opts.DataDir, 0o750); err != nil {
		return fmt.Errorf("data dir %s: %w", h.opts.DataDir, err)
	}
	dbPath := filepath.Join(h.opts.DataDir, DatabaseFile)
	if h.DB, err = sqlite.Open(ctx, dbPath, h.log); err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	h.Users = auth.NewStore(h.DB)
	if err := h.Users.Migrate(ctx); err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	if err := persist.Migrate(ctx, h.DB); err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	if err := h.openDevices(ctx); err != nil {
		return err
	}

	if err := h.startBroker(ctx, tlsConf); err != nil {
		return err
	}
	if err := h.startDevices(); err != nil {
		return err
	}
	if err := h.attachListeners(tlsConf); err != nil {
		return err
	}
	h.startHTTP()
	h.ready.Store(true)
	h.log.Info("hub ready", "data_dir", h.opts.DataDir, "listeners", h.addrs())
	return nil
}

func tlsAddr(o TLSOptions, conf *tls.Config) string {
	if conf == nil {
		return ""
	}
	return o.Addr
}

func (h *Hub) tlsConfig() (*tls.Config, error) {
	o := h.opts.TLS
	if o.CertFile == "" || o.KeyFile == "" {
		if h.opts.Inherited["tls"] != nil {
			return nil, errors.New("tls: a listener was passed in but no cert_file/key_file is configured")
		}
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: load %s and %s: %w", o.CertFile, o.KeyFile, err)
	}
	conf := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if o.ClientCAFile != "" {
		pem, err := os.ReadFile(o.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("tls: client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls: client CA %s: no PEM certificate found", o.ClientCAFile)
		}
		conf.ClientCAs = pool
		conf.ClientAuth = tls.VerifyClientCertIfGiven
		if o.RequireClientCert {
			conf.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	return conf, nil
}

func (h *Hub) startBroker(ctx context.Context, tlsConf *tls.Config) error {
	caps := mqtt.NewDefaultServerCapabilities()
	// Retained messages (discovery configs among them) live until replaced
	// or until their own expiry; mochi's default 24 h cap must not apply.
	caps.MaximumMessageExpiryInterval = 0
	caps.MaximumPacketSize = h.opts.MQTT.MaxPacketSize
	if h.opts.MQTT.MaxQueuedMessages > 0 {
		caps.MaximumInflight = h.opts.MQTT.MaxQueuedMessages
	}
	if h.opts.MQTT.MaxInflight > 0 {
		caps.ReceiveMaximum = h.opts.MQTT.MaxInflight
	}
	srv := mqtt.New(&mqtt.Options{
		Capabilities:           caps,
		Logger:                 h.log.With("component", "broker"),
		InlineClient:           true,
		SysTopicResendInterval: int64(h.opts.MQTT.SysInterval / time.Second),
	})
	srv.Info.Version = h.opts.Version
	h.Broker = srv
	h.policy = &policyHook{maxKeepAlive: h.opts.MQTT.MaxKeepAlive}

	hooks := []struct {
		hook mqtt.Hook
		conf any
	}{
		{h.policy, nil},
		{auth.NewHook(auth.HookOptions{
			Users:          h.Users,
			ACL:            h.acl.Load,
			AllowAnonymous: h.opts.MQTT.AllowAnonymous,
			CNAsUsername:   h.opts.TLS.CNAsUsername,
			Server:         srv,
			Logger:         h.log.With("component", "auth"),
			Grants:         h.grants(),
		}), nil},
	}
	hooks = append(hooks, struct {
		hook mqtt.Hook
		conf any
	}{newHandoverHook(srv, h.log.With("component", "broker")), nil})
	for _, hk := range h.deviceHooks() {
		hooks = append(hooks, struct {
			hook mqtt.Hook
			conf any
		}{hk, nil})
	}
	// The storage hook goes last: it must only see publishes that every
	// other hook let through.
	h.persist = &persist.Hook{}
	hooks = append(hooks, struct {
		hook mqtt.Hook
		conf any
	}{h.persist, &persist.Options{DB: h.DB, CommitInterval: h.opts.MQTT.CommitInterval}})
	for _, hk := range hooks {
		if err := srv.AddHook(hk.hook, hk.conf); err != nil {
			return fmt.Errorf("broker hook %s: %w", hk.hook.ID(), err)
		}
	}

	if err := srv.Serve(); err != nil { // restores sessions and subscriptions
		return fmt.Errorf("start broker: %w", err)
	}
	if err := h.persist.Restore(ctx, srv); err != nil {
		return fmt.Errorf("restore broker state: %w", err)
	}
	if err := srv.Subscribe(watchdogTopic, 1, h.onEcho); err != nil {
		return fmt.Errorf("watchdog subscription: %w", err)
	}

	return nil
}

// attachListeners lets clients in: the last step of Open, once every part
// of the hub that clients can reach is running.
func (h *Hub) attachListeners(tlsConf *tls.Config) error {
	srv := h.Broker
	var ls []listeners.Listener
	if l := h.bound["mqtt"]; l != nil {
		ls = append(ls, listener.NewNet("mqtt", "tcp", l))
	}
	if l := h.bound["tls"]; l != nil {
		ls = append(ls, listener.NewNet("tls", "tls", tls.NewListener(l, tlsConf)))
	}
	if l := h.bound["ws"]; l != nil {
		ls = append(ls, listener.NewWebSocket("ws", l, listener.WebSocketOptions{
			Path:           h.opts.WebSocket.Path,
			AllowedOrigins: h.opts.WebSocket.AllowedOrigins,
			Logger:         h.log.With("component", "websocket"),
		}))
	}
	for _, l := range ls {
		if err := srv.AddListener(l); err != nil {
			return fmt.Errorf("listener %s: %w", l.ID(), err)
		}
		srv.Listeners.Serve(l.ID(), srv.EstablishConnection)
	}
	return nil
}

func (h *Hub) onEcho(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
	select {
	case h.echo <- string(pk.Payload):
	default:
	}
}

func (h *Hub) startHTTP() {
	l := h.bound["http"]
	if l == nil {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", h.handleHealth)
	mux.Handle("/", h.apiHandler())
	h.httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() {
		if err := h.httpSrv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			h.log.Error("http server stopped", "error", err)
		}
	}()
}

func (h *Hub) handleHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if !h.ready.Load() {
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	if err := h.Check(ctx); err != nil {
		http.Error(w, "unhealthy: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// Check proves the hub works end to end: the database answers a read, the
// broker's storage writer commits, and a message published through the
// broker comes back through its own subscription.
func (h *Hub) Check(ctx context.Context) error {
	if !h.ready.Load() {
		return errors.New("not ready")
	}
	if err := h.DB.Ping(ctx); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	if err := h.persist.Flush(ctx); err != nil {
		return fmt.Errorf("storage writer: %w", err)
	}
	h.checkMu.Lock()
	defer h.checkMu.Unlock()
	h.checkSeq++
	want := strconv.FormatUint(h.checkSeq, 10)
	if err := h.Broker.Publish(watchdogTopic, []byte(want), false, 0); err != nil {
		return fmt.Errorf("broker: publish: %w", err)
	}
	for {
		select {
		case got := <-h.echo:
			if got == want {
				return nil
			}
		case <-ctx.Done():
			return fmt.Errorf("broker: no echo: %w", ctx.Err())
		}
	}
}

// SetACL replaces the access rules without a restart.
func (h *Hub) SetACL(rules []auth.Rule) error {
	acl, err := auth.NewACL(rules)
	if err != nil {
		return err
	}
	h.acl.Store(acl)
	h.log.Info("access rules reloaded", "rules", len(rules))
	return nil
}

// Addr returns the address a listener ("mqtt", "ws", "tls", "http") is
// bound to, or nil if it is disabled.
func (h *Hub) Addr(name string) net.Addr {
	if l := h.bound[name]; l != nil {
		return l.Addr()
	}
	return nil
}

func (h *Hub) addrs() map[string]string {
	out := map[string]string{}
	for n, l := range h.bound {
		out[n] = l.Addr().String()
	}
	return out
}

// Close stops the hub gracefully: no new connections, no Will messages for
// this clean shutdown, sessions and queued messages committed, database
// closed. It returns the first error met.
func (h *Hub) Close() error {
	h.closeOnce.Do(func() { h.closeErr = h.close() })
	return h.closeErr
}

func (h *Hub) close() error {
	h.ready.Store(false)
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	if h.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		keep(h.httpSrv.Shutdown(ctx))
		cancel()
	}
	h.closeDevices()
	if h.Broker != nil {
		// A clean server shutdown sends no Will messages (MQTT 5, 3.1.2.5).
		h.policy.stopping.Store(true)
		keep(h.Broker.Close())
		waitTimeout(&h.Broker.Listeners.ClientsWg, 5*time.Second)
	}
	for _, l := range h.bound {
		l.Close() // those the broker served are closed already: no harm
	}
	if h.persist != nil {
		h.persist.Close()
	}
	if h.DB != nil {
		keep(h.DB.Close())
	}
	return first
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}
