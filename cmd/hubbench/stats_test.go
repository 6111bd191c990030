package main

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func payload(pub uint32, seq uint64, sent int64) []byte {
	b := make([]byte, 64)
	encodePayload(b, pub, seq, sent)
	return b
}

func TestPayload(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		pub, seq, sent, err := decodePayload(payload(7, 123456789, 42))
		if err != nil {
			t.Fatal(err)
		}
		if pub != 7 || seq != 123456789 || sent != 42 {
			t.Fatalf("got %d %d %d, want 7 123456789 42", pub, seq, sent)
		}
	})
	t.Run("ErrShort", func(t *testing.T) {
		if _, _, _, err := decodePayload(make([]byte, minPayload-1)); err != errShortPayload {
			t.Fatalf("got %v, want errShortPayload", err)
		}
	})
}

func TestReceiver(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		r := NewReceiver(2, 5)
		for seq := uint64(0); seq < 5; seq++ {
			r.Record(payload(0, seq, 100), 100+int64(seq+1)*1000)
			r.Record(payload(1, seq, 100), 100+int64(seq+1)*1000)
		}
		lost, dups := r.Count([]int64{5, 5})
		if lost != 0 || dups != 0 {
			t.Fatalf("lost %d dups %d, want 0 0", lost, dups)
		}
		if got, want := r.Unique(), int64(10); got != want {
			t.Fatalf("unique %d, want %d", got, want)
		}
		if got, want := percentiles(r.latencies).Max, 5000*time.Nanosecond; got != want {
			t.Fatalf("max latency %v, want %v", got, want)
		}
	})
	t.Run("LossAndDuplicates", func(t *testing.T) {
		r := NewReceiver(2, 10)
		for _, seq := range []uint64{0, 1, 1, 1, 3} { // 2 and 4 missing; 1 twice extra
			r.Record(payload(0, seq, 0), 1)
		}
		r.Record(payload(1, 0, 0), 1)
		// Publisher 1 sent 3: 1 and 2 missing. Messages never sent do not
		// count as lost.
		lost, dups := r.Count([]int64{5, 3})
		if lost != 4 || dups != 2 {
			t.Fatalf("lost %d dups %d, want 4 2", lost, dups)
		}
		if got, want := r.Missing([]int64{5, 3}, 10), []string{"0/2", "0/4", "1/1", "1/2"}; !slices.Equal(got, want) {
			t.Fatalf("missing %v, want %v", got, want)
		}
		if got, want := len(r.latencies), 4; got != want {
			t.Fatalf("%d latency samples, want %d (duplicates excluded)", got, want)
		}
	})
	t.Run("Foreign", func(t *testing.T) {
		r := NewReceiver(1, 2)
		r.Record([]byte("short"), 1)
		r.Record(payload(5, 0, 0), 1) // unknown publisher
		r.Record(payload(0, 9, 0), 1) // beyond the count
		if r.foreign != 3 || r.unique != 0 {
			t.Fatalf("foreign %d unique %d, want 3 0", r.foreign, r.unique)
		}
	})
	t.Run("ProgressPerPublisher", func(t *testing.T) {
		r := NewReceiver(2, 4)
		var calls []uint32
		r.progress = func(p uint32) { calls = append(calls, p) }
		r.Record(payload(1, 0, 0), 1)
		r.Record(payload(1, 0, 0), 1) // a duplicate is no progress
		r.Record(payload(0, 2, 0), 1)
		if got, want := calls, []uint32{1, 0}; !slices.Equal(got, want) {
			t.Fatalf("progress calls %v, want %v", got, want)
		}
		if got, want := r.gotBy[1].Load(), int64(1); got != want {
			t.Fatalf("gotBy[1] = %d, want %d", got, want)
		}
	})
}

func TestPercentiles(t *testing.T) {
	for _, tt := range []struct {
		name    string
		samples []int64
		want    Percentiles
	}{
		{"Empty", nil, Percentiles{}},
		{"One", []int64{7}, Percentiles{N: 1, P50: 7, P90: 7, P99: 7, Max: 7}},
		// Nearest rank: p50 of 1..100 is the 50th value, p90 the 90th.
		{"Hundred", seq(100), Percentiles{N: 100, P50: 50, P90: 90, P99: 99, Max: 100}},
		{"Ten", []int64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, Percentiles{N: 10, P50: 5, P90: 9, P99: 10, Max: 10}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentiles(tt.samples); got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func seq(n int) []int64 {
	s := make([]int64, n)
	for i := range s {
		s[i] = int64(n - i) // reversed, to check sorting
	}
	return s
}

func TestMedian(t *testing.T) {
	for _, tt := range []struct {
		xs   []float64
		want float64
	}{
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{5}, 5},
	} {
		if got := median(tt.xs); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.xs, got, tt.want)
		}
	}
	if got := median(nil); !math.IsNaN(got) {
		t.Errorf("median(nil) = %v, want NaN", got)
	}
}

func TestLossCheck(t *testing.T) {
	for _, tt := range []struct {
		qos        byte
		lost, dups int64
		fail       bool
	}{
		{0, 5, 5, false}, // QoS 0 may lose and is not checked
		{1, 0, 3, false}, // QoS 1 may duplicate
		{1, 1, 0, true},
		{2, 0, 1, true},
		{2, 1, 0, true},
		{2, 0, 0, false},
	} {
		if err := lossCheck(tt.qos, tt.lost, tt.dups); (err != nil) != tt.fail {
			t.Errorf("lossCheck(%d, %d, %d) = %v, want failure %v", tt.qos, tt.lost, tt.dups, err, tt.fail)
		}
	}
}

func TestCheckLoopback(t *testing.T) {
	for _, tt := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:1883", true},
		{"127.1.2.3:1883", true},
		{"[::1]:1883", true},
		{"localhost:1883", true},
		{"192.168.1.10:1883", false},
		{"10.0.0.1:1883", false},
		{"example.com:1883", false},
		{"127.0.0.1", false},
	} {
		if err := checkLoopback(tt.addr); (err == nil) != tt.ok {
			t.Errorf("checkLoopback(%q) = %v, want ok %v", tt.addr, err, tt.ok)
		}
	}
}

func TestConnectPacket(t *testing.T) {
	got := connectPacket("ab", true)
	want := []byte{0x10, 14, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 2, 'a', 'b'}
	if !bytes.Equal(got, want) {
		t.Fatalf("got % x, want % x", got, want)
	}
	// A remaining length over 127 takes two bytes.
	long := connectPacket(strings.Repeat("x", 200), false)
	if long[1] != 0x80|(212%128) || long[2] != 212/128 || long[9+1] != 0 {
		t.Fatalf("long CONNECT header % x", long[:12])
	}
}

func TestAddSnapshot(t *testing.T) {
	text := `goroutine profile: total 14

10 @ 0x1 0x2
#	0x1	runtime.gopark+0x1	x.go:1
#	0x2	hubd/hub/persist.(*writer).sync+0x1	writer.go:1
#	0x3	github.com/mochi-mqtt/server/v2.(*Client).Read+0x1	clients.go:1

2 @ 0x1
#	0x1	github.com/mochi-mqtt/server/v2.(*Client).Read+0x1	clients.go:1

1 @ 0x1
#	0x1	time.Sleep+0x1	sleep.go:1
#	0x2	hubd/hub/persist.(*writer).loop+0x1	writer.go:1

1 @ 0x1
#	0x1	hubd/hub/persist.(*writer).loop+0x1	writer.go:1
`
	var pr profileResult
	pr.addSnapshot(text)
	if pr.Snapshots != 1 || pr.Readers != 12 || pr.Waiting != 10 || pr.WriterSleeping != 1 || pr.WriterIdle != 1 {
		t.Fatalf("got %+v", pr)
	}
}

func TestHuman(t *testing.T) {
	for _, tt := range []struct {
		v    float64
		want string
	}{
		{0, "0"}, {0.5, "0.5"}, {1.5, "1.5"}, {12.34, "12.3"}, {937, "937"}, {44392, "44.4k"}, {2500000, "2.5M"},
	} {
		if got := human(tt.v); got != tt.want {
			t.Errorf("human(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}
