package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// QueueConfig describes the offline-session run: a subscriber with a
// persistent session subscribes and goes away, Pubs publishers send Total
// QoS 1 messages that the broker must queue for it, and the subscriber
// comes back and drains them.
type QueueConfig struct {
	Broker       string
	Prefix       string
	ClientPrefix string
	Pubs         int
	// Total is the number of messages queued, split over the publishers.
	Total  int
	Size   int
	Window int
	// Settle is how long the drain may stall before it is given up.
	Settle time.Duration
	// ReconnectDelay is the pause between the last acknowledgement of the
	// fill and the subscriber's return.
	ReconnectDelay time.Duration
}

// QueueResult is what the offline-session run measured.
type QueueResult struct {
	// Queued counts messages the broker acknowledged while the subscriber
	// was away; FillRate is their rate.
	Queued   int64
	FillRate float64
	// Drained counts distinct messages received after reconnecting;
	// DrainTime runs from CONNECT to the last of them.
	Drained   int64
	DrainTime time.Duration
	Lost      int64
	Dups      int64
	// SessionPresent is the CONNACK flag of the reconnection.
	SessionPresent bool
	// Missing names some lost messages as "publisher/sequence".
	Missing []string
}

// String summarises r on one line.
func (r QueueResult) String() string {
	s := fmt.Sprintf("queued %d (%.0f msgs/s), drained %d in %v (session present %v), lost %d, dups %d",
		r.Queued, r.FillRate, r.Drained, r.DrainTime.Round(time.Millisecond), r.SessionPresent, r.Lost, r.Dups)
	if len(r.Missing) > 0 {
		s += fmt.Sprintf(" (missing, as publisher/seq: %s)", strings.Join(r.Missing, " "))
	}
	return s
}

// RunQueue runs the offline-session scenario.
func RunQueue(ctx context.Context, cfg QueueConfig) (QueueResult, error) {
	var res QueueResult
	if cfg.Pubs < 1 || cfg.Total < cfg.Pubs {
		return res, fmt.Errorf("need pubs >= 1 and total >= pubs (got %d, %d)", cfg.Pubs, cfg.Total)
	}
	if cfg.Size < minPayload {
		return res, fmt.Errorf("size %d: at least %d bytes carry the timestamp", cfg.Size, minPayload)
	}
	if err := checkLoopback(cfg.Broker); err != nil {
		return res, err
	}
	if cfg.Settle <= 0 {
		cfg.Settle = 10 * time.Second
	}
	cfg.Window = max(cfg.Window, 1)
	perPub := (cfg.Total + cfg.Pubs - 1) / cfg.Pubs
	subID := cfg.ClientPrefix + "-queue-sub"
	filter := cfg.Prefix + "/+"

	// 1. Subscribe with a persistent session, then leave.
	recv := NewReceiver(cfg.Pubs, perPub)
	handler := func(_ paho.Client, m paho.Message) { recv.Record(m.Payload(), now()) }
	subOpts := clientOptions(cfg.Broker, subID, false, 60*time.Second).
		SetDefaultPublishHandler(handler).SetMessageChannelDepth(1000)
	sub := paho.NewClient(subOpts)
	if err := wait(sub.Connect(), "connect "+subID); err != nil {
		return res, err
	}
	if err := subscribe(sub, filter, 1, handler); err != nil {
		sub.Disconnect(0)
		return res, err
	}
	sub.Disconnect(100)
	time.Sleep(200 * time.Millisecond) // let the broker see it go

	// 2. Fill the queue.
	opts := make([]*paho.ClientOptions, cfg.Pubs)
	for i := range opts {
		opts[i] = clientOptions(cfg.Broker, fmt.Sprintf("%s-qpub-%d", cfg.ClientPrefix, i), true, 30*time.Second)
	}
	pubs, _, err := connectAll(ctx, opts, 32)
	if err != nil {
		return res, err
	}
	sent := make([]int64, len(pubs))
	errs := make([]error, len(pubs))
	var wg sync.WaitGroup
	start := time.Now()
	left := cfg.Total
	for i, c := range pubs {
		n := min(perPub, left)
		left -= n
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent[i], errs[i] = pubJob{c: c, idx: uint32(i), topic: fmt.Sprintf("%s/%d", cfg.Prefix, i),
				qos: 1, size: cfg.Size, count: n, window: cfg.Window}.run(ctx)
		}()
	}
	wg.Wait()
	fill := time.Since(start)
	disconnectAll(pubs)
	if err := errors.Join(errs...); err != nil {
		return res, err
	}
	for _, n := range sent {
		res.Queued += n
	}
	res.FillRate = float64(res.Queued) / fill.Seconds()
	if got := recv.Unique(); got > 0 {
		return res, fmt.Errorf("the subscriber received %d messages while it was offline", got)
	}

	// 3. Come back and drain.
	time.Sleep(cfg.ReconnectDelay)
	sub = paho.NewClient(subOpts)
	t0 := now()
	tok := sub.Connect()
	if err := wait(tok, "reconnect "+subID); err != nil {
		return res, err
	}
	defer sub.Disconnect(50)
	if ct, ok := tok.(*paho.ConnectToken); ok {
		res.SessionPresent = ct.SessionPresent()
	}
	waitDeliveries(ctx, []*Receiver{recv}, res.Queued, cfg.Settle)
	time.Sleep(50 * time.Millisecond)
	res.Lost, res.Dups = recv.Count(sent)
	if res.Lost > 0 {
		res.Missing = recv.Missing(sent, 10)
	}
	recv.mu.Lock()
	res.Drained = recv.unique
	if recv.last > t0 {
		res.DrainTime = time.Duration(recv.last - t0)
	}
	recv.mu.Unlock()
	return res, nil
}

// IdleConfig describes the idle-clients run: clients connect with a
// keep-alive and stay idle; after each step the broker's memory is read.
type IdleConfig struct {
	Broker       string
	ClientPrefix string
	// Steps are the cumulative client counts, e.g. 1000 then 5000.
	Steps     []int
	KeepAlive time.Duration
	Parallel  int
	// Settle is the pause after a step's last CONNACK before Sample.
	Settle time.Duration
	// Sample is called after each step with the number of clients
	// connected; it may be nil.
	Sample func(clients int) error
}

// IdleStep is what one step of the idle run measured.
type IdleStep struct {
	Clients     int
	ConnectRate float64 // new connections per second in this step
	// MaxConnect is the longest CONNECT to CONNACK of the step.
	MaxConnect time.Duration
}

// RunIdle runs the idle-clients scenario. Its clients are disconnected
// when it returns.
func RunIdle(ctx context.Context, cfg IdleConfig) ([]IdleStep, error) {
	if err := checkLoopback(cfg.Broker); err != nil {
		return nil, err
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = 60 * time.Second
	}
	var all []paho.Client
	defer func() { disconnectAll(all) }()
	var steps []IdleStep
	for _, n := range cfg.Steps {
		if n <= len(all) {
			return steps, fmt.Errorf("idle steps must grow: %v", cfg.Steps)
		}
		opts := make([]*paho.ClientOptions, n-len(all))
		for i := range opts {
			opts[i] = clientOptions(cfg.Broker, fmt.Sprintf("%s-idle-%d", cfg.ClientPrefix, len(all)+i), true, cfg.KeepAlive)
		}
		cs, took, slowest, err := connectAllMax(ctx, opts, cfg.Parallel)
		if err != nil {
			return steps, err
		}
		all = append(all, cs...)
		steps = append(steps, IdleStep{Clients: n, ConnectRate: float64(len(cs)) / took.Seconds(), MaxConnect: slowest})
		select {
		case <-time.After(cfg.Settle):
		case <-ctx.Done():
			return steps, ctx.Err()
		}
		if cfg.Sample != nil {
			if err := cfg.Sample(n); err != nil {
				return steps, err
			}
		}
	}
	return steps, nil
}

// SeedSessions leaves n persistent sessions on the broker, each subscribed
// at QoS 1 to a topic of its own below prefix, with client ids
// <clientPrefix>-sess-<i>.
func SeedSessions(ctx context.Context, broker, clientPrefix, prefix string, n, parallel int) error {
	if err := checkLoopback(broker); err != nil {
		return err
	}
	opts := make([]*paho.ClientOptions, n)
	for i := range opts {
		opts[i] = clientOptions(broker, sessionID(clientPrefix, i), false, 60*time.Second)
	}
	clients, _, err := connectAll(ctx, opts, parallel)
	if err != nil {
		return err
	}
	defer disconnectAll(clients)
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(parallel, 1))
	for i, c := range clients {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = subscribe(c, fmt.Sprintf("%s/%d", prefix, i), 1, func(paho.Client, paho.Message) {})
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func sessionID(clientPrefix string, i int) string { return fmt.Sprintf("%s-sess-%d", clientPrefix, i) }

// CountRetained subscribes to filter with a fresh clean session and counts
// the retained messages the broker sends, waiting until want arrived or
// none came for settle.
func CountRetained(ctx context.Context, broker, clientID, filter string, want int, settle time.Duration) (int, error) {
	if err := checkLoopback(broker); err != nil {
		return 0, err
	}
	var mu sync.Mutex
	got := map[string]bool{}
	c := paho.NewClient(clientOptions(broker, clientID, true, 30*time.Second))
	if err := wait(c.Connect(), "connect "+clientID); err != nil {
		return 0, err
	}
	defer c.Disconnect(50)
	if err := subscribe(c, filter, 1, func(_ paho.Client, m paho.Message) {
		if m.Retained() {
			mu.Lock()
			got[m.Topic()] = true
			mu.Unlock()
		}
	}); err != nil {
		return 0, err
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }
	last, progress := -1, time.Now()
	for {
		n := count()
		if n >= want {
			return n, nil
		}
		if n != last {
			last, progress = n, time.Now()
		} else if time.Since(progress) > settle {
			return n, nil
		}
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}
