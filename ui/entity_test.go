package ui_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"hubd/devices"
)

func testEntity(id string) devices.EntityView {
	changed := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	return devices.EntityView{
		Entity: devices.Entity{
			ID: id, Component: "light", Name: "Ceiling", DeviceID: "plug_1",
			DiscoveryTopic: "homeassistant/light/ceiling/config",
			Config:         map[string]any{"command_topic": "zigbee2mqtt/ceiling/set"},
		},
		State: "ON", Attributes: map[string]any{"brightness": 200.0}, Available: true, LastChanged: &changed,
	}
}

func TestEntityList(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		s := MustOpenServer(t)
		s.Entities.FindEntitiesFn = func(context.Context) ([]devices.EntityView, error) {
			return []devices.EntityView{testEntity("light.ceiling"), testEntity("light.desk")}, nil
		}
		var got []devices.EntityView
		MustDecode(t, s.Call(t, "GET", "/api/entities", ""), http.StatusOK, &got)
		if len(got) != 2 || got[0].ID != "light.ceiling" || got[0].State != "ON" || got[0].Attributes["brightness"] != 200.0 {
			t.Errorf("entities = %+v", got)
		}
	})

	t.Run("OKEmpty", func(t *testing.T) {
		s := MustOpenServer(t)
		s.Entities.FindEntitiesFn = func(context.Context) ([]devices.EntityView, error) { return nil, nil }
		if resp := s.Call(t, "GET", "/api/entities", ""); strings.TrimSpace(string(resp.Body)) != "[]" {
			t.Errorf("body %s, want []", resp.Body)
		}
	})
}

func TestEntityView(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		s := MustOpenServer(t)
		s.Entities.FindEntityFn = func(_ context.Context, id string) (devices.EntityView, error) { return testEntity(id), nil }
		var got devices.EntityView
		MustDecode(t, s.Call(t, "GET", "/api/entities/light.ceiling", ""), http.StatusOK, &got)
		if got.ID != "light.ceiling" || got.LastChanged == nil || got.Config["command_topic"] != "zigbee2mqtt/ceiling/set" {
			t.Errorf("entity = %+v", got)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		s := MustOpenServer(t)
		s.Entities.FindEntityFn = func(context.Context, string) (devices.EntityView, error) {
			return devices.EntityView{}, devices.Errorf(devices.ENOTFOUND, "Entity not found.")
		}
		MustError(t, s.Call(t, "GET", "/api/entities/light.nope", ""), http.StatusNotFound, devices.ENOTFOUND)
	})
}

func TestEntityCommand(t *testing.T) {
	// sendOK makes Send record the request it got and accept it.
	sendOK := func(s *TestServer, got *devices.CommandRequest) {
		s.Commands.SendFn = func(_ context.Context, entityID string, req devices.CommandRequest) (devices.Command, error) {
			*got = req
			return devices.Command{
				ID: "c/1 x", EntityID: entityID, Request: req, Topic: "zigbee2mqtt/ceiling/set",
				Payload: `{"state":"ON"}`, Status: devices.CommandPending,
			}, nil
		}
	}

	t.Run("OK", func(t *testing.T) {
		s := MustOpenServer(t)
		var got devices.CommandRequest
		sendOK(s, &got)
		resp := s.Call(t, "POST", "/api/entities/light.ceiling/command", `{"state":"ON","brightness":128}`)
		var cmd devices.Command
		MustDecode(t, resp, http.StatusAccepted, &cmd)
		if cmd.ID != "c/1 x" || cmd.EntityID != "light.ceiling" || cmd.Status != devices.CommandPending {
			t.Errorf("command = %+v", cmd)
		}
		if !strings.Contains(string(resp.Body), `"id":"c/1 x"`) {
			t.Errorf("body has no id: %s", resp.Body)
		}
		if got.State == nil || *got.State != "ON" || got.Brightness == nil || *got.Brightness != 128 || got.Position != nil {
			t.Errorf("request = %s", got)
		}
		if got, want := resp.Header.Get("Location"), "/api/commands/c%2F1%20x"; got != want {
			t.Errorf("Location = %q, want %q", got, want)
		}
		if logs := s.Logs.String(); !strings.Contains(logs, "command sent") || !strings.Contains(logs, "entity=light.ceiling") {
			t.Errorf("command not audited:\n%s", logs)
		}
	})

	t.Run("OKAtLimit", func(t *testing.T) {
		s := MustOpenServer(t)
		var got devices.CommandRequest
		sendOK(s, &got)
		body := `{"press":true}`
		body += strings.Repeat(" ", 64<<10-len(body))
		var cmd devices.Command
		MustDecode(t, s.Call(t, "POST", "/api/entities/button.x/command", body), http.StatusAccepted, &cmd)
		if !got.Press {
			t.Errorf("request = %+v", got)
		}
	})

	// Bodies refused before the service is reached (SendFn is unset).
	for _, tc := range []struct {
		name, body string
		status     int
		code       string
		msg        string // part of the message
	}{
		{"ErrUnknownField", `{"state":"ON","colour":"red"}`, http.StatusBadRequest, devices.EINVALID, `"colour"`},
		{"ErrUnknownFieldCase", `{"State":"ON","payload":"raw"}`, http.StatusBadRequest, devices.EINVALID, `"payload"`},
		{"ErrEmpty", ``, http.StatusBadRequest, devices.EINVALID, "empty"},
		{"ErrWhiteSpace", " \n", http.StatusBadRequest, devices.EINVALID, "empty"},
		{"ErrSyntax", `{"state":`, http.StatusBadRequest, devices.EINVALID, ""},
		{"ErrNotObject", `["ON"]`, http.StatusBadRequest, devices.EINVALID, ""},
		{"ErrWrongType", `{"brightness":"high"}`, http.StatusBadRequest, devices.EINVALID, "brightness"},
		{"ErrTwoValues", `{"state":"ON"} {"state":"OFF"}`, http.StatusBadRequest, devices.EINVALID, "more than one"},
		{"ErrTrailing", `{"state":"ON"}x`, http.StatusBadRequest, devices.EINVALID, ""},
		{"ErrTooLarge", `{"state":"ON"}` + strings.Repeat(" ", 64<<10), http.StatusRequestEntityTooLarge, "too_large", "65536"},
		{"ErrTooLargeValue", `{"option":"` + strings.Repeat("x", 64<<10) + `"}`, http.StatusRequestEntityTooLarge, "too_large", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := MustOpenServer(t)
			msg := MustError(t, s.Call(t, "POST", "/api/entities/light.x/command", tc.body), tc.status, tc.code)
			if !strings.Contains(msg, tc.msg) {
				t.Errorf("message %q does not mention %q", msg, tc.msg)
			}
		})
	}

	t.Run("ErrTooLargeChunked", func(t *testing.T) {
		// No Content-Length: the limit applies while reading.
		s := MustOpenServer(t)
		req := s.Request(t, "POST", "/api/entities/light.x/command", "")
		req.Body = chunked(`{"option":"` + strings.Repeat("x", 100<<10) + `"}`)
		req.ContentLength = -1
		MustError(t, s.Do(t, req), http.StatusRequestEntityTooLarge, "too_large")
	})

	// Errors from the service.
	for _, tc := range []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"ErrNotFound", devices.Errorf(devices.ENOTFOUND, "Entity not found."), http.StatusNotFound, devices.ENOTFOUND},
		{"ErrInvalid", devices.Errorf(devices.EINVALID, "A sensor takes no commands."), http.StatusBadRequest, devices.EINVALID},
		{"ErrConflict", devices.Errorf(devices.ECONFLICT, "The device is not paired."), http.StatusConflict, devices.ECONFLICT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := MustOpenServer(t)
			s.Commands.SendFn = func(context.Context, string, devices.CommandRequest) (devices.Command, error) {
				return devices.Command{}, tc.err
			}
			MustError(t, s.Call(t, "POST", "/api/entities/light.x/command", `{"state":"TOGGLE"}`), tc.status, tc.code)
		})
	}
}

// chunkedBody hides its length from net/http, which then sends it chunked.
type chunkedBody struct{ *strings.Reader }

func (chunkedBody) Close() error { return nil }

func chunked(s string) chunkedBody { return chunkedBody{strings.NewReader(s)} }
