package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"hubd/hub"
	"hubd/hub/auth"
)

// runSelftest proves that this binary works on this machine: it opens a
// SQLite database in a temporary directory, starts the broker on a
// loopback port, and sends one QoS 1 message through it to itself over
// TCP. Packaging runs it under emulation for every target.
func runSelftest(ctx context.Context, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	dir, err := os.MkdirTemp("", "hubd-selftest-")
	if err != nil {
		return fmt.Errorf("selftest: %w", err)
	}
	defer os.RemoveAll(dir)

	h := hub.New(hub.Options{DataDir: dir, Version: Version(), MQTT: hub.MQTTOptions{Addr: "127.0.0.1:0"}})
	if err := h.Open(ctx); err != nil {
		return fmt.Errorf("selftest: start hub: %w", err)
	}
	defer h.Close()
	pw, err := auth.GeneratePassword()
	if err != nil {
		return fmt.Errorf("selftest: %w", err)
	}
	if _, err := h.Users.Add(ctx, "selftest", auth.RoleAdmin, pw); err != nil {
		return fmt.Errorf("selftest: add user: %w", err)
	}
	if err := selftestRoundTrip(ctx, h.Addr("mqtt").String(), pw); err != nil {
		return fmt.Errorf("selftest: %w", err)
	}
	if err := h.Check(ctx); err != nil {
		return fmt.Errorf("selftest: health check: %w", err)
	}
	fmt.Fprintf(stdout, "selftest OK: hubd %s, SQLite in %s, MQTT on %s\n", Version(), dir, h.Addr("mqtt"))
	return nil
}

// selftestRoundTrip connects with a minimal MQTT 3.1.1 client built from
// the broker's own packet codec, subscribes, publishes at QoS 1 and waits
// for the message to come back.
func selftestRoundTrip(ctx context.Context, addr, password string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("dial %s: %w", addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	r := bufio.NewReader(conn)
	send := func(encode func(*bytes.Buffer) error) error {
		var buf bytes.Buffer
		if err := encode(&buf); err != nil {
			return err
		}
		_, err := conn.Write(buf.Bytes())
		return err
	}
	const topic, payload = "selftest/echo", "hello from hubd selftest"

	connect := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 4,
		Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), Clean: true, Keepalive: 30,
			ClientIdentifier: "hubd-selftest", UsernameFlag: true, Username: []byte("selftest"),
			PasswordFlag: true, Password: []byte(password)}}
	if err := send(connect.ConnectEncode); err != nil {
		return fmt.Errorf("send CONNECT: %w", err)
	}
	if pk, err := readPacket(r); err != nil || pk.FixedHeader.Type != packets.Connack || pk.ReasonCode != 0 {
		return fmt.Errorf("CONNACK: %v (packet type %d, code %#x)", err, pk.FixedHeader.Type, pk.ReasonCode)
	}
	sub := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, ProtocolVersion: 4,
		PacketID: 1, Filters: packets.Subscriptions{{Filter: topic, Qos: 1}}}
	if err := send(sub.SubscribeEncode); err != nil {
		return fmt.Errorf("send SUBSCRIBE: %w", err)
	}
	if pk, err := readPacket(r); err != nil || pk.FixedHeader.Type != packets.Suback || len(pk.ReasonCodes) != 1 || pk.ReasonCodes[0] != 1 {
		return fmt.Errorf("SUBACK: %v (%+v)", err, pk.ReasonCodes)
	}
	pub := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, ProtocolVersion: 4,
		PacketID: 2, TopicName: topic, Payload: []byte(payload)}
	if err := send(pub.PublishEncode); err != nil {
		return fmt.Errorf("send PUBLISH: %w", err)
	}
	var acked, received bool
	for !acked || !received {
		pk, err := readPacket(r)
		if err != nil {
			return fmt.Errorf("wait for the message: %w", err)
		}
		switch pk.FixedHeader.Type {
		case packets.Puback:
			acked = pk.PacketID == 2
		case packets.Publish:
			if pk.TopicName != topic || string(pk.Payload) != payload {
				return fmt.Errorf("received %q on %s, want %q on %s", pk.Payload, pk.TopicName, payload, topic)
			}
			received = true
			ack := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, ProtocolVersion: 4, PacketID: pk.PacketID}
			if err := send(ack.PubackEncode); err != nil {
				return fmt.Errorf("send PUBACK: %w", err)
			}
		}
	}
	disc := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}, ProtocolVersion: 4}
	return send(disc.DisconnectEncode)
}

// readPacket reads one MQTT 3.1.1 packet.
func readPacket(r *bufio.Reader) (packets.Packet, error) {
	var pk packets.Packet
	pk.ProtocolVersion = 4
	b, err := r.ReadByte()
	if err != nil {
		return pk, err
	}
	if err := pk.FixedHeader.Decode(b); err != nil {
		return pk, err
	}
	n, _, err := packets.DecodeLength(r)
	if err != nil {
		return pk, err
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return pk, err
	}
	pk.FixedHeader.Remaining = n
	switch pk.FixedHeader.Type {
	case packets.Connack:
		err = pk.ConnackDecode(body)
	case packets.Suback:
		err = pk.SubackDecode(body)
	case packets.Puback:
		err = pk.PubackDecode(body)
	case packets.Publish:
		err = pk.PublishDecode(body)
	}
	return pk, err
}
