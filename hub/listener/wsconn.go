package listener

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// closeFrameTimeout bounds how long Close waits to send the WebSocket close
// frame; it only matters when the peer has stopped reading.
const closeFrameTimeout = 100 * time.Millisecond

// errNotBinary is returned by wsConn.Read for a text message, which MQTT
// over WebSocket forbids [MQTT-6.0.0-1].
var errNotBinary = errors.New("websocket: MQTT needs binary messages, got a text message")

var _ net.Conn = (*wsConn)(nil)

// wsConn adapts a WebSocket connection to the byte stream net.Conn the broker
// reads MQTT from. The payloads of consecutive binary messages form the
// stream, so one MQTT packet may span several messages and one message may
// hold several packets or part of one; Reads return a message in as many
// pieces as the caller's buffers need. A Read never waits for a further
// message once it has data, since the next message may only come after the
// broker has answered. Each Write sends one binary message.
//
// Like any net.Conn it is safe for concurrent use. gorilla allows one reader
// and one writer at a time, so reads and writes each take their own lock.
type wsConn struct {
	ws *websocket.Conn

	rmu sync.Mutex
	r   io.Reader // the message being read; nil between messages

	wmu       sync.Mutex
	dmu       sync.Mutex
	wDeadline time.Time // guarded by dmu; applied to each Write

	closeOnce sync.Once
	closeErr  error
}

// newWSConn wraps an upgraded connection.
func newWSConn(ws *websocket.Conn) *wsConn { return &wsConn{ws: ws} }

// Read reads stream bytes from the current binary message, moving on to the
// next message (skipping empty ones) when the current one is used up. A
// normal close from the peer reads as io.EOF, a text message as
// errNotBinary.
func (c *wsConn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if c.r == nil {
			typ, r, err := c.ws.NextReader()
			if err != nil {
				return 0, streamError(err)
			}
			if typ != websocket.BinaryMessage {
				return 0, errNotBinary
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if errors.Is(err, io.EOF) {
			c.r = nil // end of this message, not of the stream
			err = nil
		}
		if n > 0 || err != nil {
			return n, streamError(err)
		}
	}
}

// Write sends p as one binary message.
func (c *wsConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if len(p) == 0 {
		return 0, nil
	}
	c.dmu.Lock()
	d := c.wDeadline
	c.dmu.Unlock()
	// gorilla applies its own write deadline to the socket on every frame,
	// so ours must go through it; it is only safe to set while writing.
	_ = c.ws.SetWriteDeadline(d)
	if err := c.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, streamError(err)
	}
	return len(p), nil
}

// Close sends a normal-closure close frame, waiting at most
// closeFrameTimeout, and closes the connection. Later calls return the
// first call's result.
func (c *wsConn) Close() error {
	c.closeOnce.Do(func() {
		msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
		_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(closeFrameTimeout))
		c.closeErr = c.ws.Close()
	})
	return c.closeErr
}

// LocalAddr returns the local network address.
func (c *wsConn) LocalAddr() net.Addr { return c.ws.LocalAddr() }

// RemoteAddr returns the peer's network address.
func (c *wsConn) RemoteAddr() net.Addr { return c.ws.RemoteAddr() }

// SetDeadline sets both the read and the write deadline.
func (c *wsConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

// SetReadDeadline sets the read deadline. As with gorilla, a Read that times
// out leaves the connection unusable.
func (c *wsConn) SetReadDeadline(t time.Time) error { return c.ws.SetReadDeadline(t) }

// SetWriteDeadline sets the deadline for future Writes and for one that is
// blocked now.
func (c *wsConn) SetWriteDeadline(t time.Time) error {
	c.dmu.Lock()
	c.wDeadline = t
	c.dmu.Unlock()
	return c.ws.UnderlyingConn().SetWriteDeadline(t)
}

// streamError turns gorilla's errors into what a net.Conn user expects: the
// peer's close frame reads as io.EOF for a normal close and
// io.ErrUnexpectedEOF for a dropped connection, and a deadline error wraps
// os.ErrDeadlineExceeded again (gorilla hides it). Other errors pass through.
func streamError(err error) error {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		switch ce.Code {
		case websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived:
			return io.EOF
		case websocket.CloseAbnormalClosure:
			return io.ErrUnexpectedEOF
		}
		return err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() && !errors.Is(err, os.ErrDeadlineExceeded) {
		return deadlineError{err}
	}
	return err
}

// deadlineError is a timeout that gorilla reported without its cause.
type deadlineError struct{ err error }

func (e deadlineError) Error() string   { return e.err.Error() }
func (e deadlineError) Unwrap() error   { return os.ErrDeadlineExceeded }
func (e deadlineError) Timeout() bool   { return true }
func (e deadlineError) Temporary() bool { return true }
