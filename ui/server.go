// Package ui serves hubd's HTTP API (and, later, its web UI).
//
// Every request must authenticate, with a user's password (HTTP Basic) or
// an API token (Authorization: Bearer), as an admin or service principal.
// Every response is JSON, errors included: {"error": "…", "code": "…"}.
package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"slices"
	"strings"

	"hubd/devices"
)

// Server serves the API from the services it holds. Set its fields, then
// mount Handler; do not change them afterwards. A nil Logger discards; a
// service left nil makes its routes fail with an internal error (logged),
// and so does every request with credentials if Auth is nil.
type Server struct {
	Devices  devices.DeviceService  // /api/devices
	Entities devices.EntityService  // /api/entities
	Commands devices.CommandService // /api/entities/{id}/command, /api/commands
	Network  devices.NetworkService // /api/network
	Pairing  PairingWindow          // /api/pairing
	// Auth checks every request's credentials.
	Auth Authenticator
	// Logger receives failed authentications, changes made through the
	// API (with who made them) and internal errors.
	Logger *slog.Logger
}

// maxBodyBytes bounds a request body.
const maxBodyBytes = 64 << 10

// Handler returns the handler for every path but the hub's own (/healthz).
//
// Requests pass, in order: the common response headers; a refusal (403)
// of cross-origin browser requests with unsafe methods, so that a web page
// cannot use a browser's remembered Basic credentials (CSRF);
// authentication (401, or 403 for a device); and the routes, where an
// unknown path is a 404 and a known path with another method a 405.
func (s *Server) Handler() http.Handler {
	log := s.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	mux := http.NewServeMux()
	allowed := map[string][]string{} // path pattern -> methods
	handle := func(method, pattern string, h http.HandlerFunc) {
		mux.HandleFunc(method+" "+pattern, h)
		allowed[pattern] = append(allowed[pattern], method)
	}
	devs := need(s.Devices != nil, "Devices")
	ents := need(s.Entities != nil, "Entities")
	cmds := need(s.Commands != nil, "Commands")
	netw := need(s.Network != nil, "Network")
	pair := need(s.Pairing != nil, "Pairing")

	handle("GET", "/api/devices", devs(s.handleDeviceList))
	handle("GET", "/api/devices/{id}", devs(s.handleDeviceView))
	handle("POST", "/api/devices/{id}/pair", devs(s.handleDevicePair))
	handle("POST", "/api/devices/{id}/unpair", devs(s.handleDeviceUnpair))
	handle("POST", "/api/devices/{id}/ignore", devs(s.handleDeviceIgnore))
	handle("DELETE", "/api/devices/{id}", devs(s.handleDeviceDelete))
	handle("GET", "/api/entities", ents(s.handleEntityList))
	handle("GET", "/api/entities/{id}", ents(s.handleEntityView))
	handle("POST", "/api/entities/{id}/command", cmds(s.handleEntityCommand))
	handle("GET", "/api/commands/{id}", cmds(s.handleCommandView))
	handle("GET", "/api/network", netw(s.handleNetwork))
	handle("POST", "/api/pairing", pair(s.handlePairing))

	// A pattern without a method is less specific than the same one with
	// a method, so these catch only the methods not registered above.
	for pattern, methods := range allowed {
		if slices.Contains(methods, "GET") {
			methods = append(methods, "HEAD")
		}
		mux.Handle(pattern, methodNotAllowed(strings.Join(methods, ", ")))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		Error(w, r, devices.Errorf(devices.ENOTFOUND, "No such endpoint."))
	})

	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		Error(w, r, devices.Errorf(eForbidden, "Cross-origin request refused."))
	}))

	var h http.Handler = routeClean(mux)
	h = s.authenticate(h)
	h = csrf.Handler(h)
	return commonHeaders(log, h)
}

// need wraps the handlers of a service so that, if the service is not
// set, they fail with an internal error that names it.
func need(ok bool, field string) func(http.HandlerFunc) http.HandlerFunc {
	return func(h http.HandlerFunc) http.HandlerFunc {
		if ok {
			return h
		}
		return func(w http.ResponseWriter, r *http.Request) {
			Error(w, r, fmt.Errorf("ui: Server.%s is not set", field))
		}
	}
}

func methodNotAllowed(allow string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		Error(w, r, devices.Errorf(eMethodNotAllowed, "Method %s is not allowed here (allowed: %s).", r.Method, allow))
	})
}

// routeClean answers 404 for a path that is not in canonical form
// ("//", ".", "..", a trailing slash), which ServeMux would otherwise
// redirect with an HTML body.
func routeClean(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; p == "" || path.Clean(p) != p {
			Error(w, r, devices.Errorf(devices.ENOTFOUND, "No such endpoint."))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// commonHeaders sets the headers every response carries and makes log
// the request's logger.
func commonHeaders(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), loggerKey{}, log)))
	})
}

type loggerKey struct{}

// logger returns the request's logger: the Server's, or slog's default
// outside a Server.
func logger(r *http.Request) *slog.Logger {
	if l, ok := r.Context().Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

// writeJSON answers with v as JSON. json.Encoder escapes "<", ">" and "&"
// in strings, so text from discovery payloads cannot turn into markup even
// if a client mistakes the response for HTML. v is encoded before anything
// is sent, so that a value that cannot be encoded gives a clean 500.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		logger(r).Error("http: encode response", "method", r.Method, "path", r.URL.Path, "error", err)
		buf.Reset()
		status = http.StatusInternalServerError
		_ = json.NewEncoder(&buf).Encode(errorResponse{Error: internalMessage, Code: devices.EINTERNAL})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// audit logs a change made through the API and who made it.
func audit(r *http.Request, msg string, args ...any) {
	p, _ := principalFrom(r.Context())
	logger(r).Info(msg, append(args, "by", p.Name, "by_kind", p.Kind)...)
}
