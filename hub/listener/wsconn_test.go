package listener

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestWSConn(t *testing.T) {
	t.Run("ReadSpansMessages", func(t *testing.T) {
		c, peer := MustWSPair(t)
		for _, msg := range []string{"ab", "", "cde", "fgh"} {
			if err := peer.WriteMessage(websocket.BinaryMessage, []byte(msg)); err != nil {
				t.Fatal(err)
			}
		}

		// One read across "ab", the empty message and part of "cde".
		p := make([]byte, 4)
		if _, err := io.ReadFull(c, p); err != nil {
			t.Fatal(err)
		}
		if got, want := string(p), "abcd"; got != want {
			t.Fatalf("ReadFull = %q, want %q", got, want)
		}

		// The rest of "cde" in a small buffer.
		n, err := c.Read(make([]byte, 1))
		if err != nil || n != 1 {
			t.Fatalf("Read = %d, %v; want 1, nil", n, err)
		}

		// "cde" is used up: the next Read moves on to "fgh" rather than
		// returning nothing.
		p = make([]byte, 10)
		n, err = c.Read(p)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := string(p[:n]), "fgh"; got != want {
			t.Fatalf("Read = %q, want %q", got, want)
		}
	})

	t.Run("ReadPartialMessage", func(t *testing.T) {
		c, peer := MustWSPair(t)
		if err := peer.WriteMessage(websocket.BinaryMessage, []byte("hello")); err != nil {
			t.Fatal(err)
		}
		var got []string
		p := make([]byte, 2)
		for range 3 {
			n, err := c.Read(p)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, string(p[:n]))
		}
		if got, want := strings.Join(got, "|"), "he|ll|o"; got != want {
			t.Fatalf("reads = %q, want %q", got, want)
		}
	})

	t.Run("Write", func(t *testing.T) {
		c, peer := MustWSPair(t)
		for _, s := range []string{"xyz", "12"} {
			if n, err := c.Write([]byte(s)); err != nil || n != len(s) {
				t.Fatalf("Write(%q) = %d, %v", s, n, err)
			}
		}
		for _, want := range []string{"xyz", "12"} {
			typ, p, err := peer.ReadMessage()
			if err != nil {
				t.Fatal(err)
			}
			if typ != websocket.BinaryMessage || string(p) != want {
				t.Fatalf("message = %d %q, want binary %q", typ, p, want)
			}
		}
	})

	t.Run("ConcurrentWrites", func(t *testing.T) {
		c, peer := MustWSPair(t)
		const writers, each = 8, 50
		var wg sync.WaitGroup
		for i := range writers {
			wg.Go(func() {
				for j := range each {
					if _, err := c.Write(fmt.Appendf(nil, "%d-%d", i, j)); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		seen := make(map[string]bool)
		for range writers * each {
			_, p, err := peer.ReadMessage()
			if err != nil {
				t.Fatal(err)
			}
			seen[string(p)] = true
		}
		wg.Wait()
		if got, want := len(seen), writers*each; got != want {
			t.Fatalf("%d distinct messages, want %d", got, want)
		}
	})

	t.Run("ErrTextMessage", func(t *testing.T) {
		c, peer := MustWSPair(t)
		if err := peer.WriteMessage(websocket.TextMessage, []byte("hi")); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Read(make([]byte, 8)); !errors.Is(err, errNotBinary) {
			t.Fatalf("Read = %v, want %v", err, errNotBinary)
		}
	})

	t.Run("EOFOnPeerClose", func(t *testing.T) {
		c, peer := MustWSPair(t)
		msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
		if err := peer.WriteMessage(websocket.CloseMessage, msg); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Read(make([]byte, 8)); err != io.EOF {
			t.Fatalf("Read = %v, want io.EOF", err)
		}
	})

	t.Run("Close", func(t *testing.T) {
		c, peer := MustWSPair(t)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatalf("second Close = %v", err)
		}
		if _, _, err := peer.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
			t.Fatalf("peer read = %v, want a normal close", err)
		}
	})

	t.Run("ReadDeadline", func(t *testing.T) {
		c, _ := MustWSPair(t)
		if err := c.SetDeadline(time.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Read(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Read = %v, want %v", err, os.ErrDeadlineExceeded)
		}
	})

	t.Run("WriteDeadline", func(t *testing.T) {
		c, _ := MustWSPair(t)
		if err := c.SetWriteDeadline(time.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Write = %v, want %v", err, os.ErrDeadlineExceeded)
		}
	})

	t.Run("Addrs", func(t *testing.T) {
		c, peer := MustWSPair(t)
		if got, want := c.RemoteAddr().String(), peer.LocalAddr().String(); got != want {
			t.Fatalf("RemoteAddr() = %q, want %q", got, want)
		}
		if got, want := c.LocalAddr().String(), peer.RemoteAddr().String(); got != want {
			t.Fatalf("LocalAddr() = %q, want %q", got, want)
		}
	})
}

// MustWSPair returns both ends of a WebSocket connection over loopback TCP:
// the server end adapted by wsConn, and the client end as gorilla gives it.
func MustWSPair(tb testing.TB) (*wsConn, *websocket.Conn) {
	tb.Helper()
	upgraded := make(chan *websocket.Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			tb.Error(err)
			return
		}
		upgraded <- ws
	}))
	tb.Cleanup(srv.Close)

	peer, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { peer.Close() })

	c := newWSConn(MustReceiveValue(tb, upgraded))
	tb.Cleanup(func() { c.Close() })
	return c, peer
}
