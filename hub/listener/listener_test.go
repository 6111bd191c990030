package listener

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// timeout bounds every wait in these tests; reaching it is a failure.
const timeout = 10 * time.Second

func TestBind(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		l, err := Bind("mqtt", "127.0.0.1:0", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if got, want := l.Addr().Network(), "tcp"; got != want {
			t.Fatalf("network = %q, want %q", got, want)
		}
	})

	t.Run("Inherited", func(t *testing.T) {
		inherited := MustListen(t)
		// The address is not used when a listener was inherited.
		l, err := Bind("ws", "no such address", map[string]net.Listener{"ws": inherited})
		if err != nil {
			t.Fatal(err)
		}
		if l != inherited {
			t.Fatalf("Bind returned %v, want the inherited listener %v", l.Addr(), inherited.Addr())
		}
	})

	t.Run("OtherNameInherited", func(t *testing.T) {
		inherited := MustListen(t)
		l, err := Bind("mqtt", "127.0.0.1:0", map[string]net.Listener{"ws": inherited})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if l == inherited {
			t.Fatal("Bind returned the listener inherited for another name")
		}
	})

	t.Run("ErrAddressInUse", func(t *testing.T) {
		taken := MustListen(t)
		addr := taken.Addr().String()

		l, err := Bind("mqtt", addr, nil)
		if err == nil {
			l.Close()
			t.Fatalf("Bind on %s in use: no error", addr)
		}
		if got, want := err.Error(), fmt.Sprintf("listen mqtt on %q: address already in use", addr); got != want {
			t.Fatalf("error = %q, want %q", got, want)
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			t.Fatalf("error %v does not wrap EADDRINUSE", err)
		}
	})
}

// MustListen opens a TCP listener on a free loopback port, closed at the end
// of the test.
func MustListen(tb testing.TB) net.Listener {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	return l
}

// MustServe starts a mochi broker that lets every client in, serving on ls.
// It returns a function that closes the broker, which is also called at the
// end of the test.
func MustServe(tb testing.TB, ls ...listeners.Listener) (closeBroker func()) {
	tb.Helper()
	s := mqtt.New(&mqtt.Options{InlineClient: true, Logger: slog.New(slog.DiscardHandler)})
	if err := s.AddHook(new(auth.AllowHook), nil); err != nil {
		tb.Fatal(err)
	}
	for _, l := range ls {
		if err := s.AddListener(l); err != nil {
			tb.Fatal(err)
		}
	}
	if err := s.Serve(); err != nil {
		tb.Fatal(err)
	}
	closeBroker = sync.OnceFunc(func() { s.Close() })
	tb.Cleanup(closeBroker)
	return closeBroker
}

// logBuffer collects log output; it is safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
