package listener

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

func TestNet(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		l := MustListen(t)
		n := NewNet("t1", "tcp", l)
		MustServe(t, n)

		if got, want := n.ID(), "t1"; got != want {
			t.Fatalf("ID() = %q, want %q", got, want)
		}
		if got, want := n.Protocol(), "tcp"; got != want {
			t.Fatalf("Protocol() = %q, want %q", got, want)
		}
		if got, want := n.Address(), l.Addr().String(); got != want {
			t.Fatalf("Address() = %q, want %q", got, want)
		}

		conn, err := net.Dial("tcp", n.Address())
		if err != nil {
			t.Fatal(err)
		}
		MustPubSubV5(t, conn)
	})

	// A connection that never sends CONNECT is unknown to the broker, so
	// closeClients cannot reach it; Close must end it anyway, or the
	// broker's Close would wait for it forever.
	t.Run("CloseEndsConnectionBeforeConnect", func(t *testing.T) {
		n := NewNet("t1", "tcp", MustListen(t))

		established := make(chan struct{})
		ended := make(chan error, 1)
		served := make(chan struct{})
		go func() {
			defer close(served)
			n.Serve(func(id string, c net.Conn) error {
				close(established)
				_, err := c.Read(make([]byte, 1))
				ended <- err
				return err
			})
		}()

		client, err := net.Dial("tcp", n.Address())
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		MustReceive(t, established)

		var closedID string
		n.Close(func(id string) { closedID = id })

		MustReceive(t, served)
		if err := MustReceiveValue(t, ended); err == nil {
			t.Fatal("read on the server side returned no error after Close")
		}
		if got, want := closedID, "t1"; got != want {
			t.Fatalf("closeClients got %q, want %q", got, want)
		}
		MustEOF(t, client)
		if c, err := net.Dial("tcp", n.Address()); err == nil {
			c.Close()
			t.Fatal("dial after Close succeeded")
		}
	})

	t.Run("BrokerCloseWithIdleConnection", func(t *testing.T) {
		n := NewNet("t1", "tcp", MustListen(t))
		closeBroker := MustServe(t, n)

		client, err := net.Dial("tcp", n.Address())
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()

		closed := make(chan struct{})
		go func() {
			defer close(closed)
			closeBroker()
		}()
		MustReceive(t, closed)
		MustEOF(t, client)
	})

	t.Run("CloseBeforeServe", func(t *testing.T) {
		n := NewNet("t1", "tcp", MustListen(t))
		n.Close(func(string) {})
		served := make(chan struct{})
		go func() {
			defer close(served)
			n.Serve(func(string, net.Conn) error {
				t.Error("establish called after Close")
				return nil
			})
		}()
		MustReceive(t, served)
	})
}

// MustPubSubV5 connects an MQTT 5 client over conn, subscribes, publishes
// and waits for its own message to come back.
func MustPubSubV5(tb testing.TB, conn net.Conn) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	got := make(chan []byte, 1)
	c := paho.NewClient(paho.ClientConfig{
		Conn: conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){
			func(pr paho.PublishReceived) (bool, error) {
				select {
				case got <- pr.Packet.Payload:
				default:
				}
				return true, nil
			},
		},
	})
	if _, err := c.Connect(ctx, &paho.Connect{ClientID: "v5-client", KeepAlive: 30, CleanStart: true}); err != nil {
		tb.Fatal(err)
	}
	defer c.Disconnect(&paho.Disconnect{})

	if _, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "hubd/test", QoS: 1}}}); err != nil {
		tb.Fatal(err)
	}
	if _, err := c.Publish(ctx, &paho.Publish{Topic: "hubd/test", QoS: 1, Payload: []byte("hello")}); err != nil {
		tb.Fatal(err)
	}
	select {
	case p := <-got:
		if got, want := string(p), "hello"; got != want {
			tb.Fatalf("payload = %q, want %q", got, want)
		}
	case <-ctx.Done():
		tb.Fatal("message not received")
	}
}

// MustReceive waits for ch to be closed or to deliver.
func MustReceive[T any](tb testing.TB, ch <-chan T) {
	tb.Helper()
	MustReceiveValue(tb, ch)
}

// MustReceiveValue waits for a value from ch.
func MustReceiveValue[T any](tb testing.TB, ch <-chan T) T {
	tb.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(timeout):
		tb.Fatal("timed out waiting")
	}
	panic("unreachable")
}

// MustEOF checks that the server has closed c.
func MustEOF(tb testing.TB, c net.Conn) {
	tb.Helper()
	if err := c.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		tb.Fatal(err)
	}
	// A reset, rather than EOF, is how a close looks when the server had
	// unread data from us.
	if n, err := io.Copy(io.Discard, c); err != nil && !errors.Is(err, syscall.ECONNRESET) {
		tb.Fatalf("read after server close: %d bytes, %v; want EOF", n, err)
	}
}
