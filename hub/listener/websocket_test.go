package listener

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	paho3 "github.com/eclipse/paho.mqtt.golang"
	"github.com/gorilla/websocket"
)

func TestWebSocket(t *testing.T) {
	opts := WebSocketOptions{Path: "/mqtt", AllowedOrigins: []string{"http://hub.local", "https://hub.example:8443"}}

	t.Run("OK", func(t *testing.T) {
		l := MustListen(t)
		w := NewWebSocket("ws1", l, opts)
		MustServe(t, w)

		if got, want := w.ID(), "ws1"; got != want {
			t.Fatalf("ID() = %q, want %q", got, want)
		}
		if got, want := w.Protocol(), "ws"; got != want {
			t.Fatalf("Protocol() = %q, want %q", got, want)
		}
		if got, want := w.Address(), l.Addr().String(); got != want {
			t.Fatalf("Address() = %q, want %q", got, want)
		}
		MustPubSubV3(t, "ws://"+w.Address()+"/mqtt", http.Header{"Origin": {"https://hub.example:8443"}})
	})

	t.Run("NoOrigin", func(t *testing.T) {
		w := NewWebSocket("ws1", MustListen(t), opts)
		MustServe(t, w)
		MustPubSubV3(t, "ws://"+w.Address()+"/mqtt", nil)
	})

	t.Run("ErrForeignOrigin", func(t *testing.T) {
		var logs logBuffer
		o := opts
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		w := NewWebSocket("ws1", MustListen(t), o)
		MustServe(t, w)

		var local string
		d := websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := new(net.Dialer).DialContext(ctx, network, addr)
			if err == nil {
				local = c.LocalAddr().String()
			}
			return c, err
		}}
		ws, resp, err := d.Dial("ws://"+w.Address()+"/mqtt", http.Header{"Origin": {"http://evil.example"}})
		if err == nil {
			ws.Close()
			t.Fatal("upgrade from a foreign origin succeeded")
		}
		if !errors.Is(err, websocket.ErrBadHandshake) {
			t.Fatalf("dial error = %v, want %v", err, websocket.ErrBadHandshake)
		}
		resp.Body.Close()
		if got, want := resp.StatusCode, http.StatusForbidden; got != want {
			t.Fatalf("status = %d, want %d", got, want)
		}

		line := `level=INFO msg="websocket origin refused" origin=http://evil.example remote=` + local
		if got := logs.String(); !strings.Contains(got, line) {
			t.Fatalf("logs = %q, want a line containing %q", got, line)
		}
	})

	t.Run("AnyOrigin", func(t *testing.T) {
		w := NewWebSocket("ws1", MustListen(t), WebSocketOptions{AllowedOrigins: []string{"*"}})
		MustServe(t, w)
		// Empty Path means "/mqtt".
		MustPubSubV3(t, "ws://"+w.Address()+"/mqtt", http.Header{"Origin": {"http://evil.example"}})
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		w := NewWebSocket("ws1", MustListen(t), opts)
		MustServe(t, w)

		ws, resp, err := websocket.DefaultDialer.Dial("ws://"+w.Address()+"/", nil)
		if err == nil {
			ws.Close()
			t.Fatal("upgrade on another path succeeded")
		}
		resp.Body.Close()
		if got, want := resp.StatusCode, http.StatusNotFound; got != want {
			t.Fatalf("status = %d, want %d", got, want)
		}
	})

	// A CONNECT split over three messages, the last also carrying a
	// PINGREQ, gets CONNACK and PINGRESP.
	t.Run("PacketsSpanMessages", func(t *testing.T) {
		w := NewWebSocket("ws1", MustListen(t), opts)
		MustServe(t, w)

		d := websocket.Dialer{Subprotocols: []string{"mqtt"}}
		ws, resp, err := d.Dial("ws://"+w.Address()+"/mqtt", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		if got, want := resp.Header.Get("Sec-WebSocket-Protocol"), "mqtt"; got != want {
			t.Fatalf("subprotocol = %q, want %q", got, want)
		}

		connect := []byte{0x10, 0x0f, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3c, 0x00, 0x03, 'a', 'b', 'c'}
		pingreq := []byte{0xc0, 0x00}
		for _, msg := range [][]byte{connect[:5], connect[5:15], append(connect[15:], pingreq...)} {
			if err := ws.WriteMessage(websocket.BinaryMessage, msg); err != nil {
				t.Fatal(err)
			}
		}

		var got []byte
		want := []byte{0x20, 0x02, 0x00, 0x00, 0xd0, 0x00} // CONNACK accepted, PINGRESP
		for len(got) < len(want) {
			typ, p, err := ws.ReadMessage()
			if err != nil {
				t.Fatalf("after %x: %v", got, err)
			}
			if typ != websocket.BinaryMessage {
				t.Fatalf("message type %d, want binary", typ)
			}
			got = append(got, p...)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("received %x, want %x", got, want)
		}
	})

	t.Run("SubprotocolMQTTv31", func(t *testing.T) {
		w := NewWebSocket("ws1", MustListen(t), opts)
		MustServe(t, w)

		d := websocket.Dialer{Subprotocols: []string{"mqttv3.1"}}
		ws, resp, err := d.Dial("ws://"+w.Address()+"/mqtt", nil)
		if err != nil {
			t.Fatal(err)
		}
		ws.Close()
		if got, want := resp.Header.Get("Sec-WebSocket-Protocol"), "mqttv3.1"; got != want {
			t.Fatalf("subprotocol = %q, want %q", got, want)
		}
	})

	t.Run("ErrTextMessage", func(t *testing.T) {
		w := NewWebSocket("ws1", MustListen(t), opts)
		MustServe(t, w)

		ws, _, err := websocket.DefaultDialer.Dial("ws://"+w.Address()+"/mqtt", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		if err := ws.WriteMessage(websocket.TextMessage, []byte{0x10}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := ws.ReadMessage(); err == nil {
			t.Fatal("connection still open after a text message")
		}
	})

	t.Run("BrokerCloseWithIdleConnection", func(t *testing.T) {
		w := NewWebSocket("ws1", MustListen(t), opts)
		closeBroker := MustServe(t, w)

		ws, _, err := websocket.DefaultDialer.Dial("ws://"+w.Address()+"/mqtt", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()

		closed := make(chan struct{})
		go func() {
			defer close(closed)
			closeBroker()
		}()
		MustReceive(t, closed)
		if _, _, err := ws.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
			t.Fatalf("read after broker close: %v, want a normal close", err)
		}
		if c, err := net.Dial("tcp", w.Address()); err == nil {
			c.Close()
			t.Fatal("dial after Close succeeded")
		}
	})

	t.Run("CloseBeforeServe", func(t *testing.T) {
		l := MustListen(t)
		w := NewWebSocket("ws1", l, opts)
		var closedID string
		w.Close(func(id string) { closedID = id })
		if got, want := closedID, "ws1"; got != want {
			t.Fatalf("closeClients got %q, want %q", got, want)
		}
		served := make(chan struct{})
		go func() {
			defer close(served)
			w.Serve(func(string, net.Conn) error {
				t.Error("establish called after Close")
				return nil
			})
		}()
		MustReceive(t, served)
		if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after Close: %v, want %v", err, net.ErrClosed)
		}
	})
}

func TestWebSocket_checkOrigin(t *testing.T) {
	for _, tt := range []struct {
		name    string
		allowed []string
		origin  string
		want    bool
	}{
		{"NoOrigin", nil, "", true},
		{"NoOriginWithList", []string{"http://hub.local"}, "", true},
		{"Exact", []string{"http://hub.local"}, "http://hub.local", true},
		{"Case", []string{"http://Hub.Local"}, "http://hub.local", true},
		{"WithPort", []string{"http://hub.local:8080"}, "http://hub.local:8080", true},
		{"ErrOtherPort", []string{"http://hub.local:8080"}, "http://hub.local", false},
		{"ErrOtherScheme", []string{"http://hub.local"}, "https://hub.local", false},
		{"ErrSuffix", []string{"http://hub.local"}, "http://hub.local.evil.example", false},
		{"ErrNull", []string{"http://hub.local"}, "null", false},
		{"ErrEmptyList", nil, "http://hub.local", false},
		{"Any", []string{"*"}, "http://evil.example", true},
		{"AnyAmongOthers", []string{"http://hub.local", "*"}, "null", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := NewWebSocket("ws1", nil, WebSocketOptions{AllowedOrigins: tt.allowed, Logger: slog.New(slog.DiscardHandler)})
			r, err := http.NewRequest(http.MethodGet, "http://hub.local/mqtt", nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			if got, want := w.checkOrigin(r), tt.want; got != want {
				t.Fatalf("checkOrigin(%q) with %q = %v, want %v", tt.origin, tt.allowed, got, want)
			}
		})
	}
}

// MustPubSubV3 connects an MQTT 3.1.1 client to broker (a ws:// URL),
// sending header with the upgrade request, subscribes, publishes and waits
// for its own message to come back.
func MustPubSubV3(tb testing.TB, broker string, header http.Header) {
	tb.Helper()
	opts := paho3.NewClientOptions().
		AddBroker(broker).
		SetClientID("v3-client").
		SetAutoReconnect(false).
		SetConnectTimeout(timeout)
	if header != nil {
		opts.SetHTTPHeaders(header)
	}
	c := paho3.NewClient(opts)
	MustToken(tb, c.Connect())
	defer c.Disconnect(0)

	got := make(chan []byte, 1)
	MustToken(tb, c.Subscribe("hubd/test", 1, func(_ paho3.Client, m paho3.Message) {
		select {
		case got <- m.Payload():
		default:
		}
	}))
	MustToken(tb, c.Publish("hubd/test", 1, false, "hello"))
	if got, want := string(MustReceiveValue(tb, got)), "hello"; got != want {
		tb.Fatalf("payload = %q, want %q", got, want)
	}
}

// MustToken waits for a paho token and fails on its error.
func MustToken(tb testing.TB, tok paho3.Token) {
	tb.Helper()
	if !tok.WaitTimeout(timeout) {
		tb.Fatal("timed out waiting for the broker")
	}
	if err := tok.Error(); err != nil {
		tb.Fatal(err)
	}
}
