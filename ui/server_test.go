package ui_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"hubd/devices"
	"hubd/ui"
)

// Credentials the test server's Authenticator accepts.
const (
	adminUser      = "alice"
	adminPassword  = "alice-Password-Canary"
	deviceUser     = "plug1"
	devicePassword = "plug1-Password-Canary"
	serviceToken   = "hubd_service-Token-Canary"
	deviceToken    = "hubd_device-Token-Canary"
)

// TestServer is a ui.Server behind a real HTTP listener on 127.0.0.1:0,
// with mock services and a log to inspect.
type TestServer struct {
	*httptest.Server
	Devices  DeviceService
	Entities EntityService
	Commands CommandService
	Network  NetworkService
	Pairing  PairingWindow
	Auth     Authenticator
	Logs     *lockedBuffer
}

// MustOpenServer starts a TestServer whose Authenticator knows an admin
// user, a device user, a service token and a device token. Tests set the
// service mocks they expect to be called.
func MustOpenServer(tb testing.TB) *TestServer {
	tb.Helper()
	s := &TestServer{Logs: &lockedBuffer{}}
	s.Auth.AuthenticateBasicFn = func(_ context.Context, user, password string) (ui.Principal, error) {
		switch {
		case user == adminUser && password == adminPassword:
			return ui.Principal{Name: user, Role: "admin", Kind: ui.KindUser}, nil
		case user == deviceUser && password == devicePassword:
			return ui.Principal{Name: user, Role: "device", Kind: ui.KindUser}, nil
		}
		return ui.Principal{}, devices.Errorf(devices.EUNAUTHORIZED, "Bad credentials.")
	}
	s.Auth.AuthenticateTokenFn = func(_ context.Context, token string) (ui.Principal, error) {
		switch token {
		case serviceToken:
			return ui.Principal{Name: "ci", Role: "service", Kind: ui.KindToken}, nil
		case deviceToken:
			return ui.Principal{Name: "odd", Role: "device", Kind: ui.KindToken}, nil
		}
		return ui.Principal{}, devices.Errorf(devices.EUNAUTHORIZED, "Bad credentials.")
	}
	srv := &ui.Server{
		Devices:  &s.Devices,
		Entities: &s.Entities,
		Commands: &s.Commands,
		Network:  &s.Network,
		Pairing:  &s.Pairing,
		Auth:     &s.Auth,
		Logger:   slog.New(slog.NewTextHandler(s.Logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	s.Server = httptest.NewServer(srv.Handler())
	tb.Cleanup(s.Close)
	return s
}

// Request returns a request to the server authenticated as the admin user.
func (s *TestServer) Request(tb testing.TB, method, path, body string) *http.Request {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	req.SetBasicAuth(adminUser, adminPassword)
	return req
}

// Response is an answer with its body read.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends req and reads the answer, checking the headers that every
// response must carry.
func (s *TestServer) Do(tb testing.TB, req *http.Request) Response {
	tb.Helper()
	resp, err := s.Client().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	r := Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
	if got, want := r.Header.Get("Cache-Control"), "no-store"; got != want {
		tb.Errorf("%s %s: Cache-Control = %q, want %q", req.Method, req.URL.Path, got, want)
	}
	if got, want := r.Header.Get("X-Content-Type-Options"), "nosniff"; got != want {
		tb.Errorf("%s %s: X-Content-Type-Options = %q, want %q", req.Method, req.URL.Path, got, want)
	}
	if len(body) > 0 {
		if got, want := r.Header.Get("Content-Type"), "application/json"; got != want {
			tb.Errorf("%s %s: Content-Type = %q, want %q", req.Method, req.URL.Path, got, want)
		}
	}
	return r
}

// Call is Do(Request(…)).
func (s *TestServer) Call(tb testing.TB, method, path, body string) Response {
	tb.Helper()
	return s.Do(tb, s.Request(tb, method, path, body))
}

// MustDecode checks the status and decodes the body into v.
func MustDecode(tb testing.TB, r Response, status int, v any) {
	tb.Helper()
	if r.Status != status {
		tb.Fatalf("status %d, want %d; body %s", r.Status, status, r.Body)
	}
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		tb.Fatalf("decode %s: %v", r.Body, err)
	}
}

// MustError checks that r is the error response of a status and code, and
// returns its message.
func MustError(tb testing.TB, r Response, status int, code string) string {
	tb.Helper()
	var body struct {
		Error string `json:"error"`
		Code  string `json:"code"`
	}
	MustDecode(tb, r, status, &body)
	if body.Code != code {
		tb.Errorf("code %q, want %q (message %q)", body.Code, code, body.Error)
	}
	if body.Error == "" {
		tb.Error("empty error message")
	}
	return body.Error
}

// lockedBuffer is a log sink that the server and the test share.
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

func TestAuth(t *testing.T) {
	okDevices := func(s *TestServer) {
		s.Devices.FindDevicesFn = func(context.Context, devices.DeviceFilter) ([]devices.Device, error) {
			return nil, nil
		}
	}

	for _, tc := range []struct {
		name string
		set  func(*http.Request)
	}{
		{"OKBasic", func(r *http.Request) {}},
		{"OKBasicSchemeCase", func(r *http.Request) {
			r.SetBasicAuth(adminUser, adminPassword)
			r.Header.Set("Authorization", "BASIC "+strings.TrimPrefix(r.Header.Get("Authorization"), "Basic "))
		}},
		{"OKBearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+serviceToken) }},
		{"OKBearerSchemeCase", func(r *http.Request) { r.Header.Set("Authorization", "bearer "+serviceToken) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := MustOpenServer(t)
			okDevices(s)
			req := s.Request(t, "GET", "/api/devices", "")
			tc.set(req)
			var got []devices.Device
			MustDecode(t, s.Do(t, req), http.StatusOK, &got)
		})
	}

	// Each failure answers 401, asks for Basic credentials and, past a
	// missing header, logs the attempt without its secret.
	for _, tc := range []struct {
		name    string
		set     func(*http.Request)
		logName string // the name the log must show; "" if none
		secret  string // what the log must not show
	}{
		{"ErrNoCredentials", func(r *http.Request) { r.Header.Del("Authorization") }, "", ""},
		{"ErrWrongPassword", func(r *http.Request) { r.SetBasicAuth(adminUser, "wrong-Canary") }, adminUser, "wrong-Canary"},
		{"ErrUnknownUser", func(r *http.Request) { r.SetBasicAuth("mallory", adminPassword) }, "mallory", adminPassword},
		{"ErrEmptyUser", func(r *http.Request) { r.SetBasicAuth("", "pw-Canary") }, "", "pw-Canary"},
		{"ErrMalformedBasic", func(r *http.Request) { r.Header.Set("Authorization", "Basic !!not-base64-Canary") }, "", "not-base64-Canary"},
		{"ErrWrongToken", func(r *http.Request) { r.Header.Set("Authorization", "Bearer hubd_wrong-Canary") }, "", "wrong-Canary"},
		{"ErrEmptyBearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer ") }, "", ""},
		{"ErrTokenAsBasic", func(r *http.Request) { r.SetBasicAuth("token", serviceToken) }, "token", serviceToken},
		{"ErrOtherScheme", func(r *http.Request) { r.Header.Set("Authorization", "Digest secret-Canary") }, "", "secret-Canary"},
		{"ErrNoScheme", func(r *http.Request) { r.Header.Set("Authorization", serviceToken) }, "", serviceToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := MustOpenServer(t) // no service mocks: reaching one fails
			req := s.Request(t, "GET", "/api/devices", "")
			tc.set(req)
			resp := s.Do(t, req)
			MustError(t, resp, http.StatusUnauthorized, devices.EUNAUTHORIZED)
			if got, want := resp.Header.Get("WWW-Authenticate"), `Basic realm="hubd"`; got != want {
				t.Errorf("WWW-Authenticate = %q, want %q", got, want)
			}
			logs := s.Logs.String()
			if tc.name == "ErrNoCredentials" {
				return
			}
			if !strings.Contains(logs, "authentication failed") || !strings.Contains(logs, "remote_addr=127.0.0.1:") {
				t.Errorf("failed attempt not logged with its address:\n%s", logs)
			}
			if tc.logName != "" && !strings.Contains(logs, "name="+tc.logName) {
				t.Errorf("log does not name %q:\n%s", tc.logName, logs)
			}
			if strings.Contains(logs, "Canary") || (tc.secret != "" && strings.Contains(logs, tc.secret)) {
				t.Errorf("log holds the secret:\n%s", logs)
			}
		})
	}

	t.Run("ErrLongNameClipped", func(t *testing.T) {
		s := MustOpenServer(t)
		req := s.Request(t, "GET", "/api/devices", "")
		req.SetBasicAuth(strings.Repeat("x", 5000), "pw")
		MustError(t, s.Do(t, req), http.StatusUnauthorized, devices.EUNAUTHORIZED)
		if logs := s.Logs.String(); strings.Contains(logs, strings.Repeat("x", 65)) {
			t.Errorf("log holds the whole name: %d bytes", len(logs))
		}
	})

	for _, tc := range []struct {
		name string
		set  func(*http.Request)
	}{
		{"ErrDeviceRoleBasic", func(r *http.Request) { r.SetBasicAuth(deviceUser, devicePassword) }},
		{"ErrDeviceRoleBearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+deviceToken) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := MustOpenServer(t)
			req := s.Request(t, "GET", "/api/devices", "")
			tc.set(req)
			resp := s.Do(t, req)
			MustError(t, resp, http.StatusForbidden, "forbidden")
			if got := resp.Header.Get("WWW-Authenticate"); got != "" {
				t.Errorf("WWW-Authenticate = %q on a 403", got)
			}
			if logs := s.Logs.String(); !strings.Contains(logs, "access refused") || strings.Contains(logs, "Canary") {
				t.Errorf("log:\n%s", logs)
			}
		})
	}

	t.Run("ErrAuthenticatorInternal", func(t *testing.T) {
		// A database that cannot be read is not a wrong password.
		s := MustOpenServer(t)
		s.Auth.AuthenticateBasicFn = func(context.Context, string, string) (ui.Principal, error) {
			return ui.Principal{}, errors.New("users table: disk I/O error")
		}
		resp := s.Call(t, "GET", "/api/devices", "")
		if got, want := MustError(t, resp, http.StatusInternalServerError, devices.EINTERNAL), "Internal error."; got != want {
			t.Errorf("message %q, want %q", got, want)
		}
		if logs := s.Logs.String(); !strings.Contains(logs, "disk I/O error") {
			t.Errorf("internal error not logged:\n%s", logs)
		}
	})

	t.Run("ErrNoAuthenticator", func(t *testing.T) {
		srv := httptest.NewServer((&ui.Server{Devices: &DeviceService{}}).Handler())
		defer srv.Close()
		ts := &TestServer{Server: srv}
		MustError(t, ts.Call(t, "GET", "/api/devices", ""), http.StatusInternalServerError, devices.EINTERNAL)
	})
}

// TestError checks the one table from error codes to statuses, through a
// service that fails.
func TestError(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		status int
		code   string
		msg    string
	}{
		{"Invalid", devices.Errorf(devices.EINVALID, "Bad id."), http.StatusBadRequest, devices.EINVALID, "Bad id."},
		{"Unauthorized", devices.Errorf(devices.EUNAUTHORIZED, "Not you."), http.StatusUnauthorized, devices.EUNAUTHORIZED, "Not you."},
		{"NotFound", devices.Errorf(devices.ENOTFOUND, "No device %q.", "x"), http.StatusNotFound, devices.ENOTFOUND, `No device "x".`},
		{"Conflict", devices.Errorf(devices.ECONFLICT, "Not paired."), http.StatusConflict, devices.ECONFLICT, "Not paired."},
		{"Internal", devices.Errorf(devices.EINTERNAL, "db: secret detail"), http.StatusInternalServerError, devices.EINTERNAL, "Internal error."},
		{"Plain", errors.New("db: secret detail"), http.StatusInternalServerError, devices.EINTERNAL, "Internal error."},
		{"Wrapped", wrap(devices.Errorf(devices.ENOTFOUND, "Gone.")), http.StatusNotFound, devices.ENOTFOUND, "Gone."},
		{"UnknownCode", devices.Errorf("weird", "secret detail"), http.StatusInternalServerError, devices.EINTERNAL, "Internal error."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := MustOpenServer(t)
			s.Devices.FindDeviceFn = func(context.Context, string) (devices.Device, error) { return devices.Device{}, tc.err }
			resp := s.Call(t, "GET", "/api/devices/x", "")
			if got := MustError(t, resp, tc.status, tc.code); got != tc.msg {
				t.Errorf("message %q, want %q", got, tc.msg)
			}
			if strings.Contains(string(resp.Body), "secret detail") {
				t.Errorf("body shows the internal error: %s", resp.Body)
			}
			logged := strings.Contains(s.Logs.String(), "secret detail")
			if internal := tc.status == http.StatusInternalServerError; logged != internal {
				t.Errorf("internal error logged: %v, want %v", logged, internal)
			}
			if got, want := resp.Header.Get("WWW-Authenticate") != "", tc.status == http.StatusUnauthorized; got != want {
				t.Errorf("WWW-Authenticate set: %v, want %v", got, want)
			}
		})
	}
}

type wrapped struct{ err error }

func (w wrapped) Error() string { return "wrapped: " + w.err.Error() }
func (w wrapped) Unwrap() error { return w.err }

func wrap(err error) error { return wrapped{err} }

func TestNotFound(t *testing.T) {
	s := MustOpenServer(t)
	for _, path := range []string{
		"/",
		"/index.html",
		"/api",
		"/api/",
		"/api/nope",
		"/api/devices/",
		"/api/devices/x/y",
		"/api/devices/x/pair/more",
		"/api//devices",
		"/api/entities/../devices",
		"/api/commands",
	} {
		t.Run(path, func(t *testing.T) {
			MustError(t, s.Call(t, "GET", path, ""), http.StatusNotFound, devices.ENOTFOUND)
		})
	}
	t.Run("ErrUnauthenticatedFirst", func(t *testing.T) {
		req := s.Request(t, "GET", "/api/nope", "")
		req.Header.Del("Authorization")
		MustError(t, s.Do(t, req), http.StatusUnauthorized, devices.EUNAUTHORIZED)
	})
}

func TestMethodNotAllowed(t *testing.T) {
	s := MustOpenServer(t)
	for _, tc := range []struct {
		method, path, allow string
	}{
		{"POST", "/api/devices", "GET, HEAD"},
		{"DELETE", "/api/devices", "GET, HEAD"},
		{"PUT", "/api/devices/x", "GET, DELETE, HEAD"},
		{"PATCH", "/api/devices/x", "GET, DELETE, HEAD"},
		{"GET", "/api/devices/x/pair", "POST"},
		{"GET", "/api/devices/x/unpair", "POST"},
		{"DELETE", "/api/devices/x/ignore", "POST"},
		{"POST", "/api/entities", "GET, HEAD"},
		{"DELETE", "/api/entities/light.x", "GET, HEAD"},
		{"GET", "/api/entities/light.x/command", "POST"},
		{"POST", "/api/commands/c1", "GET, HEAD"},
		{"POST", "/api/network", "GET, HEAD"},
		{"OPTIONS", "/api/network", "GET, HEAD"},
	} {
		t.Run(tc.method+tc.path, func(t *testing.T) {
			resp := s.Call(t, tc.method, tc.path, "")
			MustError(t, resp, http.StatusMethodNotAllowed, "method_not_allowed")
			if got := resp.Header.Get("Allow"); got != tc.allow {
				t.Errorf("Allow = %q, want %q", got, tc.allow)
			}
		})
	}
	t.Run("ErrUnauthenticatedFirst", func(t *testing.T) {
		req := s.Request(t, "POST", "/api/devices", "")
		req.Header.Del("Authorization")
		MustError(t, s.Do(t, req), http.StatusUnauthorized, devices.EUNAUTHORIZED)
	})
}

// TestCrossOrigin checks that a web page elsewhere cannot make a browser
// change anything with remembered Basic credentials.
func TestCrossOrigin(t *testing.T) {
	s := MustOpenServer(t)
	paired := 0
	s.Devices.PairFn = func(context.Context, string) (devices.Device, error) {
		paired++
		return devices.Device{ID: "x", Status: devices.StatusPaired}, nil
	}
	s.Devices.FindDevicesFn = func(context.Context, devices.DeviceFilter) ([]devices.Device, error) { return nil, nil }

	req := s.Request(t, "POST", "/api/devices/x/pair", "")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	MustError(t, s.Do(t, req), http.StatusForbidden, "forbidden")
	req = s.Request(t, "POST", "/api/devices/x/pair", "")
	req.Header.Set("Origin", "https://evil.example")
	MustError(t, s.Do(t, req), http.StatusForbidden, "forbidden")
	if paired != 0 {
		t.Fatalf("cross-origin request paired the device")
	}

	req = s.Request(t, "POST", "/api/devices/x/pair", "")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	var d devices.Device
	MustDecode(t, s.Do(t, req), http.StatusOK, &d)
	req = s.Request(t, "GET", "/api/devices", "") // safe methods pass
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	var list []devices.Device
	MustDecode(t, s.Do(t, req), http.StatusOK, &list)
}

// TestHTMLEscaped checks that strings from discovery payloads cannot
// become markup: they are JSON-encoded with <, > and & escaped.
func TestHTMLEscaped(t *testing.T) {
	const name = `<script>alert(1)</script> & co`
	s := MustOpenServer(t)
	s.Devices.FindDevicesFn = func(context.Context, devices.DeviceFilter) ([]devices.Device, error) {
		return []devices.Device{{ID: "evil", Name: name, Model: `"},{"id":"injected`}}, nil
	}
	resp := s.Call(t, "GET", "/api/devices", "")
	var got []devices.Device
	MustDecode(t, resp, http.StatusOK, &got)
	if len(got) != 1 || got[0].Name != name || got[0].Model != `"},{"id":"injected` {
		t.Errorf("devices = %+v", got)
	}
	body := string(resp.Body)
	if !strings.Contains(body, `\u003cscript\u003ealert(1)\u003c/script\u003e \u0026 co`) {
		t.Errorf("name not escaped: %s", body)
	}
	if strings.ContainsAny(body, "<>&") {
		t.Errorf("body holds raw <, > or &: %s", body)
	}

	// Text reflected in an error message too.
	resp = s.Call(t, "GET", "/api/devices?status=%3Cscript%3E", "")
	MustError(t, resp, http.StatusBadRequest, devices.EINVALID)
	if strings.ContainsAny(string(resp.Body), "<>") {
		t.Errorf("error body holds raw < or >: %s", resp.Body)
	}
}

// TestUnencodable checks that a value JSON cannot hold gives a clean 500,
// not a truncated 200.
func TestUnencodable(t *testing.T) {
	s := MustOpenServer(t)
	s.Entities.FindEntityFn = func(context.Context, string) (devices.EntityView, error) {
		return devices.EntityView{Entity: devices.Entity{ID: "sensor.x"}, Attributes: map[string]any{"v": math.NaN()}}, nil
	}
	MustError(t, s.Call(t, "GET", "/api/entities/sensor.x", ""), http.StatusInternalServerError, devices.EINTERNAL)
	if logs := s.Logs.String(); !strings.Contains(logs, "encode response") {
		t.Errorf("encoding error not logged:\n%s", logs)
	}
}

// TestNilService checks that a service left unset fails loudly on its own
// routes only.
func TestNilService(t *testing.T) {
	logs := &lockedBuffer{}
	auth := &Authenticator{AuthenticateBasicFn: func(_ context.Context, user, _ string) (ui.Principal, error) {
		return ui.Principal{Name: user, Role: "admin", Kind: ui.KindUser}, nil
	}}
	network := &NetworkService{CandidatesFn: func(context.Context) ([]devices.Candidate, error) { return nil, nil }}
	srv := httptest.NewServer((&ui.Server{Network: network, Auth: auth, Logger: slog.New(slog.NewTextHandler(logs, nil))}).Handler())
	defer srv.Close()
	s := &TestServer{Server: srv}

	MustError(t, s.Call(t, "GET", "/api/devices", ""), http.StatusInternalServerError, devices.EINTERNAL)
	MustError(t, s.Call(t, "GET", "/api/entities", ""), http.StatusInternalServerError, devices.EINTERNAL)
	MustError(t, s.Call(t, "POST", "/api/entities/light.x/command", `{"state":"ON"}`), http.StatusInternalServerError, devices.EINTERNAL)
	if got := logs.String(); !strings.Contains(got, "Server.Devices is not set") || !strings.Contains(got, "Server.Commands is not set") {
		t.Errorf("log does not name the missing services:\n%s", got)
	}
	var list []devices.Candidate
	MustDecode(t, s.Call(t, "GET", "/api/network", ""), http.StatusOK, &list)
}

func TestHead(t *testing.T) {
	s := MustOpenServer(t)
	s.Network.CandidatesFn = func(context.Context) ([]devices.Candidate, error) { return nil, nil }
	resp := s.Call(t, "HEAD", "/api/network", "")
	if resp.Status != http.StatusOK || len(resp.Body) != 0 {
		t.Errorf("HEAD: status %d, body %q", resp.Status, resp.Body)
	}
}
