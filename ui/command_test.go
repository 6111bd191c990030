package ui_test

import (
	"context"
	"net/http"
	"testing"

	"hubd/devices"
)

func TestCommandView(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		s := MustOpenServer(t)
		s.Commands.FindCommandFn = func(_ context.Context, id string) (devices.Command, error) {
			return devices.Command{ID: id, EntityID: "light.x", Status: devices.CommandConfirmed}, nil
		}
		var got devices.Command
		MustDecode(t, s.Call(t, "GET", "/api/commands/c1", ""), http.StatusOK, &got)
		if got.ID != "c1" || got.Status != devices.CommandConfirmed {
			t.Errorf("command = %+v", got)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		s := MustOpenServer(t)
		s.Commands.FindCommandFn = func(context.Context, string) (devices.Command, error) {
			return devices.Command{}, devices.Errorf(devices.ENOTFOUND, "Command not found.")
		}
		MustError(t, s.Call(t, "GET", "/api/commands/nope", ""), http.StatusNotFound, devices.ENOTFOUND)
	})
}
