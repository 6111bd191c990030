package persist

import (
	"reflect"
	"testing"

	"github.com/mochi-mqtt/server/v2/packets"
)

func TestPublishCodec(t *testing.T) {
	for _, tc := range []struct {
		name string
		pk   packets.Packet
	}{
		{"QoS0", packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish}, TopicName: "a/b", Payload: []byte("x")}},
		{"QoS1Retained", packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1, Retain: true}, PacketID: 7, TopicName: "a", Payload: []byte("v")}},
		{"EmptyPayload", packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 2}, PacketID: 65535, TopicName: "t"}},
		{"Properties", packets.Packet{
			FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 2},
			PacketID:    9,
			TopicName:   "home/kitchen/light/set",
			Payload:     []byte(`{"state":"ON"}`),
			Properties: packets.Properties{
				PayloadFormat: 1, PayloadFormatFlag: true,
				MessageExpiryInterval: 60,
				ContentType:           "application/json",
				ResponseTopic:         "reply/here",
				CorrelationData:       []byte{1, 2, 3},
				User:                  []packets.UserProperty{{Key: "k", Val: "v"}, {Key: "k", Val: "w"}},
			},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := encodePublish(tc.pk)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodePublish(b)
			if err != nil {
				t.Fatal(err)
			}
			if got.PacketID == 1 && tc.pk.PacketID == 0 {
				got.PacketID = 0 // the placeholder
			}
			if got.TopicName != tc.pk.TopicName || string(got.Payload) != string(tc.pk.Payload) ||
				got.FixedHeader.Qos != tc.pk.FixedHeader.Qos || got.FixedHeader.Retain != tc.pk.FixedHeader.Retain ||
				got.PacketID != tc.pk.PacketID {
				t.Errorf("got %+v, want %+v", got, tc.pk)
			}
			want := tc.pk.Properties
			if !reflect.DeepEqual(got.Properties.User, want.User) || got.Properties.ContentType != want.ContentType ||
				got.Properties.ResponseTopic != want.ResponseTopic || string(got.Properties.CorrelationData) != string(want.CorrelationData) ||
				got.Properties.MessageExpiryInterval != want.MessageExpiryInterval || got.Properties.PayloadFormat != want.PayloadFormat {
				t.Errorf("properties: got %+v, want %+v", got.Properties, want)
			}
		})
	}
}

func TestDecodePublishRejectsGarbage(t *testing.T) {
	for _, b := range [][]byte{nil, {0x30}, {0x30, 0x05, 0x00}, {0xff, 0xff}} {
		if _, err := decodePublish(b); err == nil {
			t.Errorf("decodePublish(%x): no error", b)
		}
	}
}
