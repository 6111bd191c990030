// Package listener adapts already-open network listeners to the broker, so
// that binding happens up front and systemd socket activation works.
//
// mochi-mqtt's own listeners bind inside Init, so a port already in use is
// reported late, and they cannot take a socket systemd opened for us. Here the
// caller opens every listener first (Bind, Activated) and then hands the open
// net.Listener to NewNet or NewWebSocket, which implement mochi's
// listeners.Listener.
package listener

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
)

// Bind opens the listener for one named endpoint ("mqtt", "ws", "tls",
// "http"). If inherited[name] is non-nil it is returned as is (socket
// activation: the unit's address wins over addr); otherwise Bind listens on
// TCP addr. Errors name the endpoint and the address, as in
// `listen mqtt on ":1883": address already in use`, and wrap the cause, so
// errors.Is(err, syscall.EADDRINUSE) works.
func Bind(name, addr string, inherited map[string]net.Listener) (net.Listener, error) {
	if l := inherited[name]; l != nil {
		return l, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s on %q: %w", name, addr, listenCause(err))
	}
	return l, nil
}

// listenCause strips the "listen tcp :1883: bind:" prefixes net.Listen puts
// on its errors, which Bind's own message already says better.
func listenCause(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		err = op.Err
	}
	var sc *os.SyscallError
	if errors.As(err, &sc) && sc.Err != nil {
		err = sc.Err
	}
	return err
}

// connSet tracks the connections a listener has handed to the broker. mochi's
// closeClients only reaches clients that have completed CONNECT, so without
// this a connection that never sends CONNECT would survive Close and keep the
// broker's shutdown waiting on it.
type connSet struct {
	mu     sync.Mutex
	closed bool
	m      map[net.Conn]struct{}
}

// add records c. It reports false, and records nothing, once closeAll has
// run; the caller must then close c itself.
func (s *connSet) add(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.m == nil {
		s.m = make(map[net.Conn]struct{})
	}
	s.m[c] = struct{}{}
	return true
}

// remove forgets c.
func (s *connSet) remove(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, c)
}

// closeAll closes every recorded connection and makes later adds fail.
func (s *connSet) closeAll() {
	s.mu.Lock()
	s.closed = true
	conns := make([]net.Conn, 0, len(s.m))
	for c := range s.m {
		conns = append(conns, c)
	}
	s.m = nil
	s.mu.Unlock()

	for _, c := range conns {
		_ = c.Close()
	}
}
