package hub_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	mpackets "github.com/mochi-mqtt/server/v2/packets"
)

// rawClient speaks MQTT 5 packet by packet, to do what client libraries
// will not: resend a QoS 2 PUBLISH with DUP.
type rawClient struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dialRaw(t *testing.T, addr, id, user, pass string) *rawClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(waitTimeout))
	c := &rawClient{t: t, conn: conn, r: bufio.NewReader(conn)}
	c.send(mpackets.Packet{FixedHeader: mpackets.FixedHeader{Type: mpackets.Connect}, ProtocolVersion: 5,
		Connect: mpackets.ConnectParams{ProtocolName: []byte("MQTT"), Clean: true, Keepalive: 30,
			ClientIdentifier: id, UsernameFlag: true, Username: []byte(user), PasswordFlag: true, Password: []byte(pass)}})
	if pk := c.read(); pk.FixedHeader.Type != mpackets.Connack || pk.ReasonCode != 0 {
		t.Fatalf("CONNACK: %+v", pk)
	}
	return c
}

func (c *rawClient) send(pk mpackets.Packet) {
	c.t.Helper()
	var b bytes.Buffer
	var err error
	switch pk.FixedHeader.Type {
	case mpackets.Connect:
		err = pk.ConnectEncode(&b)
	case mpackets.Publish:
		err = pk.PublishEncode(&b)
	case mpackets.Pubrel:
		err = pk.PubrelEncode(&b)
	}
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.conn.Write(b.Bytes()); err != nil {
		c.t.Fatal(err)
	}
}

func (c *rawClient) read() mpackets.Packet {
	c.t.Helper()
	pk := mpackets.Packet{ProtocolVersion: 5}
	hb, err := c.r.ReadByte()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	if err := pk.FixedHeader.Decode(hb); err != nil {
		c.t.Fatal(err)
	}
	n, _, err := mpackets.DecodeLength(c.r)
	if err != nil {
		c.t.Fatal(err)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c.r, body); err != nil {
		c.t.Fatal(err)
	}
	pk.FixedHeader.Remaining = n
	switch pk.FixedHeader.Type {
	case mpackets.Connack:
		err = pk.ConnackDecode(body)
	case mpackets.Pubrec:
		err = pk.PubrecDecode(body)
	case mpackets.Pubcomp:
		err = pk.PubcompDecode(body)
	}
	if err != nil {
		c.t.Fatal(err)
	}
	return pk
}

// TestQoS2ResentPublishAcknowledgedOnce: a publisher that did not see
// PUBREC resends its QoS 2 PUBLISH with DUP. The broker answers PUBREC
// success again (mochi alone answers 0x91, a failure to an MQTT 5
// client) and delivers the message once.
func TestQoS2ResentPublishAcknowledgedOnce(t *testing.T) {
	th := startHub(t)
	sub := mustConnect5(t, th.mqttAddr(), connect5("dup-sub", adminUser, adminPass))
	sub.mustSubscribe(t, "dup/#", 2)

	pub := dialRaw(t, th.mqttAddr(), "dup-pub", adminUser, adminPass)
	msg := mpackets.Packet{FixedHeader: mpackets.FixedHeader{Type: mpackets.Publish, Qos: 2}, ProtocolVersion: 5,
		PacketID: 7, TopicName: "dup/t", Payload: []byte("once")}
	pub.send(msg)
	if rec := pub.read(); rec.FixedHeader.Type != mpackets.Pubrec || rec.PacketID != 7 || rec.ReasonCode >= 0x80 {
		t.Fatalf("first PUBREC: %+v", rec)
	}
	msg.FixedHeader.Dup = true
	pub.send(msg) // as if the PUBREC had been lost
	if rec := pub.read(); rec.FixedHeader.Type != mpackets.Pubrec || rec.PacketID != 7 || rec.ReasonCode >= 0x80 {
		t.Fatalf("PUBREC for the resent PUBLISH: type %d id %d reason %#x, want success", rec.FixedHeader.Type, rec.PacketID, rec.ReasonCode)
	}
	pub.send(mpackets.Packet{FixedHeader: mpackets.FixedHeader{Type: mpackets.Pubrel, Qos: 1}, ProtocolVersion: 5, PacketID: 7})
	if comp := pub.read(); comp.FixedHeader.Type != mpackets.Pubcomp || comp.ReasonCode >= 0x80 {
		t.Fatalf("PUBCOMP: %+v", comp)
	}

	if m := sub.expect(t, "dup/t"); string(m.Payload) != "once" {
		t.Fatalf("got %q", m.Payload)
	}
	sub.mustPublish(t, "dup/marker", "", 1, false)
	if extra := sub.until(t, "dup/marker"); len(extra) != 0 {
		t.Fatalf("delivered again: %v", topicsOf(extra))
	}
}
