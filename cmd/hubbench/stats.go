package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// minPayload is the smallest payload that holds a message's header:
// publisher index (4 bytes), sequence number (8) and send time (8).
const minPayload = 20

// clock gives every timestamp of one process a common monotonic origin, so
// that latency is measured with the monotonic clock even across goroutines.
var clock = time.Now()

// now returns the time since clock, in nanoseconds.
func now() int64 { return int64(time.Since(clock)) }

// encodePayload fills buf (at least minPayload bytes) with the header of
// message seq from publisher pub, stamped sent.
func encodePayload(buf []byte, pub uint32, seq uint64, sent int64) {
	binary.BigEndian.PutUint32(buf[0:4], pub)
	binary.BigEndian.PutUint64(buf[4:12], seq)
	binary.BigEndian.PutUint64(buf[12:20], uint64(sent))
}

// errShortPayload is returned for a message too short to carry a header.
var errShortPayload = errors.New("payload shorter than the 20-byte header")

// decodePayload reads the header encodePayload wrote.
func decodePayload(b []byte) (pub uint32, seq uint64, sent int64, err error) {
	if len(b) < minPayload {
		return 0, 0, 0, errShortPayload
	}
	return binary.BigEndian.Uint32(b[0:4]), binary.BigEndian.Uint64(b[4:12]),
		int64(binary.BigEndian.Uint64(b[12:20])), nil
}

// Receiver accounts for what one subscriber received: which (publisher,
// sequence) pairs arrived, how many times, and each first arrival's
// latency. It is safe for concurrent use.
type Receiver struct {
	mu sync.Mutex
	// seen[p][s] counts the arrivals of publisher p's message s
	// (saturating at 255).
	seen      [][]uint8
	total     int64 // every arrival, duplicates included
	unique    int64
	dups      int64
	foreign   int64 // arrivals that are not ours (bad header or index)
	latencies []int64
	first     int64 // time of the first and last arrival (ns since clock)
	last      int64
	// gotBy[p] counts distinct arrivals from publisher p; progress, if
	// set, is called after each.
	gotBy    []atomic.Int64
	progress func(pub uint32)
}

// NewReceiver returns a Receiver for pubs publishers that each send at
// most perPub messages.
func NewReceiver(pubs, perPub int) *Receiver {
	r := &Receiver{seen: make([][]uint8, pubs), gotBy: make([]atomic.Int64, pubs)}
	for i := range r.seen {
		r.seen[i] = make([]uint8, perPub)
	}
	return r
}

// Record accounts for one arrival of payload b at time at.
func (r *Receiver) Record(b []byte, at int64) {
	pub, seq, sent, err := decodePayload(b)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.total++
	if err != nil || int(pub) >= len(r.seen) || seq >= uint64(len(r.seen[pub])) {
		r.foreign++
		return
	}
	if r.first == 0 {
		r.first = at
	}
	r.last = at
	c := &r.seen[pub][seq]
	if *c < math.MaxUint8 {
		*c++
	}
	if *c > 1 {
		r.dups++
		return
	}
	r.unique++
	r.latencies = append(r.latencies, at-sent)
	r.gotBy[pub].Add(1)
	if r.progress != nil {
		r.progress(pub)
	}
}

// Unique returns how many distinct messages arrived.
func (r *Receiver) Unique() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.unique
}

// Count reports, for publishers whose index is in sent (sent[p] messages
// from publisher p, numbered from 0), how many were lost (never arrived)
// and how many extra copies arrived.
func (r *Receiver) Count(sent []int64) (lost, dups int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for p, n := range sent {
		if p >= len(r.seen) {
			lost += n
			continue
		}
		for s := int64(0); s < n && s < int64(len(r.seen[p])); s++ {
			if r.seen[p][s] == 0 {
				lost++
			}
		}
	}
	return lost, r.dups
}

// Missing lists up to limit messages (as "publisher/sequence") that
// never arrived, of those sent.
func (r *Receiver) Missing(sent []int64, limit int) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for p, n := range sent {
		for s := int64(0); s < n && len(out) < limit; s++ {
			if p >= len(r.seen) || s >= int64(len(r.seen[p])) || r.seen[p][s] == 0 {
				out = append(out, fmt.Sprintf("%d/%d", p, s))
			}
		}
	}
	return out
}

// Percentiles summarises a latency distribution.
type Percentiles struct {
	N   int
	P50 time.Duration
	P90 time.Duration
	P99 time.Duration
	Max time.Duration
}

// String returns "p50/p90/p99/max" in milliseconds.
func (p Percentiles) String() string {
	if p.N == 0 {
		return "-"
	}
	return fmt.Sprintf("%s/%s/%s/%s ms", fmtMS(p.P50), fmtMS(p.P90), fmtMS(p.P99), fmtMS(p.Max))
}

func fmtMS(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	case v < 100:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

// percentiles computes the nearest-rank percentiles of samples (in ns),
// sorting samples in place.
func percentiles(samples []int64) Percentiles {
	if len(samples) == 0 {
		return Percentiles{}
	}
	slices.Sort(samples)
	rank := func(q float64) time.Duration {
		i := int(math.Ceil(q*float64(len(samples)))) - 1
		i = max(0, min(i, len(samples)-1))
		return time.Duration(samples[i])
	}
	return Percentiles{
		N:   len(samples),
		P50: rank(0.50),
		P90: rank(0.90),
		P99: rank(0.99),
		Max: time.Duration(samples[len(samples)-1]),
	}
}

// median returns the median of xs (the mean of the middle two for an even
// count), or NaN for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
