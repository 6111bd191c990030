package hub

import (
	"bytes"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// keepAliveHook caps the keep-alive interval a client may ask for, and
// tells MQTT 5 clients the value the server chose.
type keepAliveHook struct {
	mqtt.HookBase
	max uint16
}

func (k *keepAliveHook) ID() string { return "hubd-keepalive" }

func (k *keepAliveHook) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnConnect}, []byte{b})
}

func (k *keepAliveHook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	if k.max == 0 {
		return nil
	}
	if ka := cl.State.Keepalive; ka == 0 || ka > k.max {
		cl.State.Keepalive = k.max
		cl.State.ServerKeepalive = true
	}
	return nil
}
