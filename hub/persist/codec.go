package persist

import (
	"bytes"
	"fmt"

	"github.com/mochi-mqtt/server/v2/packets"
)

// encodePublish returns pk as an MQTT 5 PUBLISH on the wire, which keeps
// every property mochi knows. Created, Expiry, Origin and the packet id
// live in their own columns.
func encodePublish(pk packets.Packet) ([]byte, error) {
	out := pk
	out.ProtocolVersion = 5
	out.Mods = packets.Mods{AllowResponseInfo: true} // keep response topic and correlation data
	out.FixedHeader.Type = packets.Publish
	out.Properties.TopicAlias = 0
	out.Properties.TopicAliasFlag = false
	if out.FixedHeader.Qos > 0 && out.PacketID == 0 {
		out.PacketID = 1 // placeholder; the real id (if any) is in a column
	}
	var buf bytes.Buffer
	if err := out.PublishEncode(&buf); err != nil {
		return nil, fmt.Errorf("encode publish %q: %w", pk.TopicName, err)
	}
	return buf.Bytes(), nil
}

// decodePublish reverses encodePublish.
func decodePublish(b []byte) (packets.Packet, error) {
	var pk packets.Packet
	if len(b) < 2 {
		return pk, fmt.Errorf("decode publish: %d bytes is too short", len(b))
	}
	if err := pk.FixedHeader.Decode(b[0]); err != nil {
		return pk, fmt.Errorf("decode publish header: %w", err)
	}
	n, bu, err := packets.DecodeLength(bytes.NewReader(b[1:]))
	if err != nil {
		return pk, fmt.Errorf("decode publish length: %w", err)
	}
	body := b[1+bu:]
	if n != len(body) {
		return pk, fmt.Errorf("decode publish: length %d, have %d bytes", n, len(body))
	}
	pk.FixedHeader.Remaining = n
	pk.ProtocolVersion = 5
	if err := pk.PublishDecode(body); err != nil {
		return pk, fmt.Errorf("decode publish: %w", err)
	}
	return pk, nil
}
