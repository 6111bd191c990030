package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"
)

// connectPacket returns an MQTT 3.1.1 CONNECT without credentials.
func connectPacket(clientID string, clean bool) []byte {
	var flags byte
	if clean {
		flags = 0x02
	}
	vh := []byte{0, 4, 'M', 'Q', 'T', 'T', 4, flags, 0, 60} // keep-alive 60 s
	rem := len(vh) + 2 + len(clientID)
	pk := []byte{0x10}
	for {
		b := byte(rem % 128)
		rem /= 128
		if rem > 0 {
			b |= 0x80
		}
		pk = append(pk, b)
		if rem == 0 {
			break
		}
	}
	pk = append(pk, vh...)
	pk = append(pk, byte(len(clientID)>>8), byte(len(clientID)))
	return append(pk, clientID...)
}

// probeConnect opens one MQTT connection to addr with a hand-written
// CONNECT, so that timing it involves no client library, and reports the
// CONNACK's session-present flag. It fails unless the CONNACK accepts the
// connection. It then disconnects.
func probeConnect(addr, clientID string, clean bool, timeout time.Duration) (sessionPresent bool, err error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	if _, err := conn.Write(connectPacket(clientID, clean)); err != nil {
		return false, err
	}
	var ack [4]byte
	if _, err := io.ReadFull(conn, ack[:]); err != nil {
		return false, fmt.Errorf("read CONNACK: %w", err)
	}
	if ack[0] != 0x20 || ack[1] != 2 {
		return false, fmt.Errorf("not a CONNACK: % x", ack)
	}
	if ack[3] != 0 {
		return false, fmt.Errorf("CONNACK refused the connection: return code %d", ack[3])
	}
	conn.Write([]byte{0xe0, 0}) // DISCONNECT
	return ack[2]&1 == 1, nil
}

// waitAccepting probes addr until a CONNECT is accepted and returns the
// time from start until then.
func waitAccepting(ctx context.Context, addr string, start time.Time, limit time.Duration) (time.Duration, error) {
	deadline := start.Add(limit)
	var last error
	for time.Now().Before(deadline) {
		if _, err := probeConnect(addr, "hubbench-probe", true, time.Until(deadline)); err == nil {
			return time.Since(start), nil
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	return 0, fmt.Errorf("%s accepted no connection within %v: %v", addr, limit, last)
}
