//go:build !hubdevices

package hub

import (
	"context"
	"net/http"

	mqtt "github.com/mochi-mqtt/server/v2"

	"hubd/hub/auth"
)

// devicesPart is empty until the device side is built in.
type devicesPart struct{}

func (h *Hub) grants() auth.Grants                   { return nil }
func (h *Hub) deviceHooks() []mqtt.Hook              { return nil }
func (h *Hub) apiHandler() http.Handler              { return http.NotFoundHandler() }
func (h *Hub) closeDevices()                         {}
func (h *Hub) openDevices(ctx context.Context) error { return nil }
func (h *Hub) startDevices() error                   { return nil }
