package hub

import (
	"bytes"
	"strings"
	"sync"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"hubd/hub/auth"
)

// deniedTopic is where publishes to $SYS are steered so that the normal
// ACL refusal answers them, and discardedWillTopic where Wills go during a
// clean shutdown. Nobody can read topics under auth.PrivatePrefix.
const (
	deniedTopic        = auth.PrivatePrefix + "denied"
	discardedWillTopic = auth.PrivatePrefix + "discarded-will"
)

// policyHook holds the hub's broker policies that mochi has no option for:
//   - it caps the keep-alive a client may ask for (and tells MQTT 5
//     clients the value chosen);
//   - a QoS 1/2 publish to $SYS gets the same answer as any refused
//     publish (PUBACK/PUBREC 0x87 for MQTT 5, a disconnect for 3.1.1),
//     where mochi would drop it without an acknowledgement and leave the
//     client waiting forever;
//   - during a clean shutdown no Will is published (MQTT 5, 3.1.2.5);
//   - a QoS 2 PUBLISH resent with DUP for a packet id the broker has
//     already answered with PUBREC is acknowledged again and not delivered
//     twice ([MQTT-4.3.3-10]), where mochi answers 0x91 "packet identifier
//     in use", which an MQTT 5 client takes for a failure.
type policyHook struct {
	mqtt.HookBase
	maxKeepAlive uint16
	stopping     atomic.Bool
	resent       sync.Map // resentKey → struct{}: DUP publishes to acknowledge without delivering
}

type resentKey struct {
	cl *mqtt.Client
	id uint16
}

func (p *policyHook) ID() string { return "hubd-policy" }

func (p *policyHook) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnConnect, mqtt.OnPacketRead, mqtt.OnPublish, mqtt.OnWill}, []byte{b})
}

func (p *policyHook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	if p.maxKeepAlive == 0 {
		return nil
	}
	if ka := cl.State.Keepalive; ka == 0 || ka > p.maxKeepAlive {
		cl.State.Keepalive = p.maxKeepAlive
		cl.State.ServerKeepalive = true
	}
	return nil
}

func (p *policyHook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Type != packets.Publish {
		return pk, nil
	}
	if len(pk.TopicName) >= 4 && strings.EqualFold(pk.TopicName[:4], "$SYS") {
		pk.TopicName = deniedTopic
	}
	if pk.FixedHeader.Qos == 2 && pk.FixedHeader.Dup {
		if held, ok := cl.State.Inflight.Get(pk.PacketID); ok && held.FixedHeader.Type == packets.Pubrec {
			// Already received and fanned out: let mochi acknowledge it
			// afresh (OnPublish marks it ignored, so it is not delivered).
			cl.State.Inflight.Delete(pk.PacketID)
			p.resent.Store(resentKey{cl, pk.PacketID}, struct{}{})
		}
	}
	return pk, nil
}

// OnPublish stops a resent QoS 2 publish found in OnPacketRead: the
// other hooks do not see it, mochi answers PUBREC success and delivers
// nothing.
func (p *policyHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if _, ok := p.resent.LoadAndDelete(resentKey{cl, pk.PacketID}); ok && pk.FixedHeader.Dup {
		return pk, packets.CodeSuccessIgnore
	}
	return pk, nil
}

func (p *policyHook) OnWill(cl *mqtt.Client, will mqtt.Will) (mqtt.Will, error) {
	if p.stopping.Load() {
		will.TopicName, will.Payload, will.Retain, will.User = discardedWillTopic, nil, false, nil
	}
	return will, nil
}
