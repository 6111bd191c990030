package listener

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mochi-mqtt/server/v2/listeners"
)

const (
	// defaultPath is the URL path that upgrades to MQTT when
	// WebSocketOptions.Path is empty.
	defaultPath = "/mqtt"
	// handshakeTimeout bounds reading the upgrade request's headers and
	// writing the 101 response.
	handshakeTimeout = 10 * time.Second
	// idleTimeout closes HTTP keep-alive connections that did not upgrade.
	idleTimeout = time.Minute
	// shutdownTimeout bounds how long Close waits for HTTP requests still
	// in flight (handshakes, 404s) before cutting them off.
	shutdownTimeout = 2 * time.Second
)

var _ listeners.Listener = (*WebSocket)(nil)

// WebSocketOptions configures a WebSocket listener.
type WebSocketOptions struct {
	// Path is the URL path that upgrades to MQTT, such as "/mqtt"; requests
	// for any other path get 404. Empty means "/mqtt".
	Path string

	// AllowedOrigins lists the browser origins (scheme://host[:port], as
	// browsers send them in the Origin header) that may connect, compared
	// exactly but for ASCII case. "*" allows every origin. A request
	// without an Origin header is allowed: it does not come from a browser
	// page, and the check exists to stop other sites' pages from using a
	// visitor's browser to reach the hub. Refused requests get 403.
	AllowedOrigins []string

	// Logger receives the listener's own logs (refused origins, ended
	// connections). Nil means the logger the broker passes to Init.
	Logger *slog.Logger
}

// WebSocket serves MQTT over WebSocket on an already-open net.Listener. It
// implements mochi's listeners.Listener. It accepts the "mqtt" and
// "mqttv3.1" subprotocols and, leniently, clients that offer none. Each
// binary WebSocket message carries part of the MQTT byte stream; a text
// message ends the connection, as MQTT requires [MQTT-6.0.0-1].
type WebSocket struct {
	id       string
	l        net.Listener
	path     string
	anyOK    bool
	origins  map[string]bool // lower-cased allowed origins
	logger   atomic.Pointer[slog.Logger]
	ownLog   bool // logger came from WebSocketOptions; Init keeps it
	upgrader websocket.Upgrader

	mu        sync.Mutex
	srv       *http.Server // set by Serve
	closed    bool
	establish listeners.EstablishFn // set by Serve before any request is served

	conns connSet
}

// NewWebSocket returns a listener with the given id that serves MQTT over
// WebSocket on l as o describes. The WebSocket owns l from now on: Close
// closes it.
func NewWebSocket(id string, l net.Listener, o WebSocketOptions) *WebSocket {
	w := &WebSocket{
		id:      id,
		l:       l,
		path:    o.Path,
		origins: make(map[string]bool, len(o.AllowedOrigins)),
	}
	if w.path == "" {
		w.path = defaultPath
	}
	for _, origin := range o.AllowedOrigins {
		if origin == "*" {
			w.anyOK = true
		}
		w.origins[strings.ToLower(origin)] = true
	}
	if o.Logger != nil {
		w.logger.Store(o.Logger)
		w.ownLog = true
	} else {
		w.logger.Store(slog.Default())
	}
	w.upgrader = websocket.Upgrader{
		HandshakeTimeout: handshakeTimeout,
		Subprotocols:     []string{"mqtt", "mqttv3.1"},
		CheckOrigin:      w.checkOrigin,
	}
	return w
}

// ID returns the listener id given to NewWebSocket.
func (w *WebSocket) ID() string { return w.id }

// Address returns the address l is bound to, such as "127.0.0.1:1882".
func (w *WebSocket) Address() string { return w.l.Addr().String() }

// Protocol returns "ws".
func (w *WebSocket) Protocol() string { return "ws" }

// Init keeps the broker's logger unless WebSocketOptions.Logger was set. It
// opens nothing: l is already open.
func (w *WebSocket) Init(log *slog.Logger) error {
	if log != nil && !w.ownLog {
		w.logger.Store(log)
	}
	return nil
}

// Serve runs an HTTP server on l until Close, upgrading requests for the
// path to WebSocket and calling establish(id, conn) for each, in the
// request's goroutine. It is called once.
func (w *WebSocket) Serve(establish listeners.EstablishFn) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.establish = establish
	w.srv = &http.Server{
		Handler:           http.HandlerFunc(w.serveHTTP),
		ReadHeaderTimeout: handshakeTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(w.log().Handler(), slog.LevelWarn),
	}
	srv := w.srv
	w.mu.Unlock()

	if err := srv.Serve(w.l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		w.log().Error("websocket listener stopped", "address", w.Address(), "error", err)
	}
}

// Close shuts the HTTP server down, waiting briefly for requests in flight,
// and closes l; then it calls closeClients(id) so the broker disconnects
// this listener's clients, and finally closes any upgraded connection the
// broker had not yet accepted as a client.
func (w *WebSocket) Close(closeClients listeners.CloseFn) {
	w.mu.Lock()
	w.closed = true
	srv := w.srv
	w.mu.Unlock()

	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		if err := srv.Shutdown(ctx); err != nil {
			_ = srv.Close()
		}
		cancel()
	}
	_ = w.l.Close() // Shutdown closed it if Serve ran; if not, we must.
	closeClients(w.id)
	w.conns.closeAll()
}

// serveHTTP upgrades a request for the path and runs the connection through
// the broker until the client is gone.
func (w *WebSocket) serveHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.URL.Path != w.path {
		http.NotFound(rw, r)
		return
	}
	ws, err := w.upgrader.Upgrade(rw, r, nil)
	if err != nil {
		// The upgrader has answered with the status; refused origins
		// were logged by checkOrigin.
		w.log().Debug("websocket upgrade failed", "remote", r.RemoteAddr, "error", err)
		return
	}

	c := newWSConn(ws)
	if !w.conns.add(c) {
		_ = c.Close()
		return
	}
	defer w.conns.remove(c)
	defer c.Close()

	if err := w.establish(w.id, c); err != nil {
		logEstablishError(w.log(), w.closing(), c, err)
	}
}

// closing reports whether Close has been called.
func (w *WebSocket) closing() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closed
}

// checkOrigin is the upgrader's CheckOrigin: no Origin header, or one
// allowed by WebSocketOptions.AllowedOrigins, passes; anything else is
// logged and refused (the upgrader answers 403).
func (w *WebSocket) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || w.anyOK || w.origins[strings.ToLower(origin)] {
		return true
	}
	w.log().Info("websocket origin refused", "origin", origin, "remote", r.RemoteAddr)
	return false
}

// log returns the listener's logger.
func (w *WebSocket) log() *slog.Logger { return w.logger.Load() }
