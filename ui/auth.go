package ui

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"hubd/devices"
)

// Principal is who made a request.
type Principal struct {
	// Name is the user's or the token's name.
	Name string
	// Role is "admin", "service" or "device"; only admin and service
	// may use the API.
	Role string
	// Kind is KindUser or KindToken. The Server sets it from the
	// scheme used, whatever the Authenticator returned.
	Kind string
}

// Principal kinds.
const (
	KindUser  = "user"  // authenticated with a user name and password
	KindToken = "token" // authenticated with an API token
)

// Authenticator checks API credentials. hub/auth's Store satisfies it
// through a small adapter the hub writes.
//
// Wrong credentials (an unknown user or token, a wrong password) must be
// reported as a *devices.Error with code EUNAUTHORIZED; the API answers
// 401 without saying which part was wrong. Any other error means the
// credentials could not be checked: the API logs it and answers 500.
type Authenticator interface {
	AuthenticateBasic(ctx context.Context, user, password string) (Principal, error)
	AuthenticateToken(ctx context.Context, token string) (Principal, error)
}

// maxLoggedName bounds a user name in the log of a failed attempt.
const maxLoggedName = 64

// authenticate lets through only requests that carry the credentials of
// an admin or service principal, and puts the principal in the context.
// It logs every failed attempt with the name tried and the remote
// address, never the password or token.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.principal(r)
		if err != nil {
			Error(w, r, err)
			return
		}
		if p.Role != "admin" && p.Role != "service" {
			logger(r).Warn("http: API access refused", "name", p.Name, "kind", p.Kind, "role", p.Role, "remote_addr", r.RemoteAddr)
			Error(w, r, devices.Errorf(eForbidden, "Role %q may not use the API.", p.Role))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// principal checks the request's credentials. A failure to authenticate
// is an EUNAUTHORIZED *devices.Error.
func (s *Server) principal(r *http.Request) (Principal, error) {
	log := logger(r)
	header := r.Header.Get("Authorization")
	if header == "" {
		log.Debug("http: no credentials", "remote_addr", r.RemoteAddr, "path", r.URL.Path)
		return Principal{}, devices.Errorf(devices.EUNAUTHORIZED, "Authentication required.")
	}
	if s.Auth == nil {
		return Principal{}, errors.New("ui: Server.Auth is not set")
	}

	scheme, cred, _ := strings.Cut(header, " ")
	scheme = strings.ToLower(scheme)
	var p Principal
	var err error
	var name, reason string
	switch scheme {
	case "basic":
		var password string
		var ok bool
		if name, password, ok = r.BasicAuth(); !ok {
			reason = "malformed Basic credentials"
			break
		}
		if p, err = s.Auth.AuthenticateBasic(r.Context(), name, password); err != nil {
			reason = "wrong user name or password"
		}
		p.Kind = KindUser
	case "bearer":
		token := strings.TrimSpace(cred)
		if token == "" {
			reason = "empty Bearer token"
			break
		}
		if p, err = s.Auth.AuthenticateToken(r.Context(), token); err != nil {
			reason = "unknown token"
		}
		p.Kind = KindToken
	default:
		// Whatever else the header holds may be a secret: not logged.
		scheme, reason = "other", "unsupported scheme"
	}
	if reason == "" {
		return p, nil
	}
	if err != nil && devices.ErrorCode(err) != devices.EUNAUTHORIZED {
		return Principal{}, err // the credentials could not be checked
	}
	if len(name) > maxLoggedName {
		name = strings.ToValidUTF8(name[:maxLoggedName], "") + "…"
	}
	log.Warn("http: authentication failed", "scheme", scheme, "name", name,
		"remote_addr", r.RemoteAddr, "reason", reason)
	return Principal{}, devices.Errorf(devices.EUNAUTHORIZED, "Invalid credentials.")
}

type principalKey struct{}

// principalFrom returns the request's authenticated principal.
func principalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
