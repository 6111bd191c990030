package listener

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mochi-mqtt/server/v2/listeners"
)

// Accept retries after a temporary error (out of file descriptors, say)
// start at minAcceptDelay and double up to maxAcceptDelay.
const (
	minAcceptDelay = 5 * time.Millisecond
	maxAcceptDelay = time.Second
)

var _ listeners.Listener = (*Net)(nil)

// Net serves MQTT on an already-open net.Listener (plain TCP, or TLS when the
// caller wrapped it with tls.NewListener). It implements mochi's
// listeners.Listener. Each accepted connection is handed to the broker in its
// own goroutine; for TLS the handshake therefore happens there, on the
// broker's first read, and never holds up Accept.
type Net struct {
	id       string
	protocol string
	l        net.Listener
	logger   atomic.Pointer[slog.Logger]

	conns     connSet
	done      chan struct{} // closed by Close
	closeOnce sync.Once
}

// NewNet returns a listener with the given id that serves MQTT on l and
// reports protocol ("tcp" or "tls") to the broker. The Net owns l from now
// on: Close closes it.
func NewNet(id string, protocol string, l net.Listener) *Net {
	n := &Net{id: id, protocol: protocol, l: l, done: make(chan struct{})}
	n.logger.Store(slog.Default())
	return n
}

// ID returns the listener id given to NewNet.
func (n *Net) ID() string { return n.id }

// Address returns the address l is bound to, such as "127.0.0.1:1883".
func (n *Net) Address() string { return n.l.Addr().String() }

// Protocol returns the protocol given to NewNet.
func (n *Net) Protocol() string { return n.protocol }

// Init keeps the broker's logger. It opens nothing: l is already open.
func (n *Net) Init(log *slog.Logger) error {
	if log != nil {
		n.logger.Store(log)
	}
	return nil
}

// Serve accepts connections until Close and calls establish(id, conn) for
// each in a new goroutine. Temporary accept errors (such as running out of
// file descriptors) are logged and retried with back-off; any other error
// ends Serve with an error log.
func (n *Net) Serve(establish listeners.EstablishFn) {
	var delay time.Duration
	for {
		c, err := n.l.Accept()
		if err != nil {
			if n.closing() || errors.Is(err, net.ErrClosed) {
				return
			}
			if !temporaryAcceptError(err) {
				n.log().Error("listener stopped", "address", n.Address(), "error", err)
				return
			}
			delay = min(max(2*delay, minAcceptDelay), maxAcceptDelay)
			n.log().Warn("accept failed; retrying", "address", n.Address(), "error", err, "retry_in", delay)
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-n.done:
				t.Stop()
				return
			}
			continue
		}
		delay = 0

		if !n.conns.add(c) {
			_ = c.Close()
			return
		}
		go n.handle(establish, c)
	}
}

// handle runs one connection through the broker; establish returns when the
// client is gone.
func (n *Net) handle(establish listeners.EstablishFn, c net.Conn) {
	defer n.conns.remove(c)
	defer c.Close()
	if err := establish(n.id, c); err != nil {
		logEstablishError(n.log(), n.closing(), c, err)
	}
}

// Close closes l, so Serve returns, then calls closeClients(id) so the
// broker disconnects this listener's clients, and finally closes any
// connection the broker had not yet accepted as a client (one still before
// CONNECT, for instance).
func (n *Net) Close(closeClients listeners.CloseFn) {
	n.closeOnce.Do(func() { close(n.done) })
	_ = n.l.Close()
	closeClients(n.id)
	n.conns.closeAll()
}

// closing reports whether Close has been called.
func (n *Net) closing() bool {
	select {
	case <-n.done:
		return true
	default:
		return false
	}
}

// log returns the logger from Init, or slog.Default() before Init.
func (n *Net) log() *slog.Logger { return n.logger.Load() }

// temporaryAcceptError reports whether Accept may succeed if tried again.
func temporaryAcceptError(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.EINTR} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// logEstablishError logs why the broker dropped a connection. During
// shutdown every connection ends in an error, so those are only debug.
func logEstablishError(log *slog.Logger, closing bool, c net.Conn, err error) {
	level := slog.LevelWarn
	if closing {
		level = slog.LevelDebug
	}
	log.Log(context.Background(), level, "connection ended", "remote", c.RemoteAddr().String(), "error", err)
}
