package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// LoadConfig describes one publish/subscribe run: Pubs publishers each
// send up to Count messages to their own topic Prefix/<index>, and Subs
// subscribers receive them through Filter.
type LoadConfig struct {
	// Broker is the broker's host:port; it must be a loopback address.
	Broker string
	// Prefix starts every topic of the run; make it unique per run.
	Prefix string
	// ClientPrefix starts every client id of the run.
	ClientPrefix string
	Pubs, Subs   int
	// QoS is used for publishing and subscribing.
	QoS byte
	// Size is the payload size in bytes (at least 20).
	Size int
	// Count bounds the messages each publisher sends.
	Count int
	// Duration bounds the time publishers send (0: no bound).
	Duration time.Duration
	// Window bounds each publisher's publishes awaiting completion (the
	// broker's acknowledgement at QoS 1/2, the socket write at QoS 0).
	Window int
	// Flow bounds each publisher's messages published but not yet
	// delivered to every subscriber (0: no bound). Without it a QoS 0
	// flood measures how brokers drop, not how fast they deliver.
	Flow int
	// Retain publishes retained messages.
	Retain bool
	// Spread sends each message to a topic of its own, PREFIX/<index>/<seq>
	// (so that retained messages accumulate); subscribers then need "#".
	Spread bool
	// Filter is what subscribers subscribe to, relative to Prefix: "+"
	// (one level: every publisher's topic) or "#".
	Filter string
	// PersistentSubs connects subscribers with a session that outlives the
	// connection (clean session false).
	PersistentSubs bool
	// Settle is how long to wait for a missing delivery once publishing
	// has ended and deliveries stopped coming.
	Settle time.Duration
	// Parallel bounds connections being set up at once.
	Parallel int
}

func (c *LoadConfig) defaults() error {
	if c.Pubs < 1 || c.Subs < 0 || c.Count < 1 {
		return fmt.Errorf("need pubs >= 1, subs >= 0, count >= 1 (got %d, %d, %d)", c.Pubs, c.Subs, c.Count)
	}
	if c.QoS > 2 {
		return fmt.Errorf("qos %d: want 0, 1 or 2", c.QoS)
	}
	if c.Size < minPayload {
		return fmt.Errorf("size %d: at least %d bytes carry the timestamp", c.Size, minPayload)
	}
	if c.Window < 1 {
		c.Window = 1
	}
	if c.Filter == "" {
		c.Filter = "+"
	}
	if c.Settle <= 0 {
		c.Settle = 3 * time.Second
	}
	if c.Parallel < 1 {
		c.Parallel = 32
	}
	if c.ClientPrefix == "" {
		c.ClientPrefix = "hubbench"
	}
	if c.Prefix == "" {
		c.Prefix = "bench/" + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	return checkLoopback(c.Broker)
}

// LoadResult is what a run measured.
type LoadResult struct {
	// Sent counts messages published (acknowledged, at QoS 1/2).
	Sent int64
	// Expected counts deliveries due: Sent for every subscriber.
	Expected int64
	// Received counts distinct deliveries; Lost the missing ones; Dups
	// the extra copies.
	Received, Lost, Dups int64
	// SendRate is messages published per second, from the first publish
	// to the last completion.
	SendRate float64
	// RecvRate is distinct deliveries per second, from the first publish
	// to the last delivery.
	RecvRate float64
	// Latency is the end-to-end latency of first deliveries.
	Latency Percentiles
	// ConnectRate is connections set up per second (CONNECT to CONNACK,
	// with Parallel at once), over every client of the run.
	ConnectRate float64
	// SendTime and RecvTime are the spans SendRate and RecvRate use.
	SendTime, RecvTime time.Duration
}

// String summarises r on one line.
func (r LoadResult) String() string {
	return fmt.Sprintf("sent %d (%.0f msgs/s), received %d of %d (%.0f msgs/s), lost %d, dups %d, latency p50/p90/p99/max %s, connects %.0f/s",
		r.Sent, r.SendRate, r.Received, r.Expected, r.RecvRate, r.Lost, r.Dups, r.Latency, r.ConnectRate)
}

// checkLoopback refuses a broker address that is not on this machine's
// loopback interface.
func checkLoopback(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("broker address %q: %w", hostport, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("broker address %q: only loopback addresses (127.0.0.0/8, ::1, localhost) are allowed", hostport)
	}
	return nil
}

// clientOptions returns the options every benchmark client uses: MQTT
// 3.1.1, no automatic reconnect, bounded timeouts.
func clientOptions(broker, id string, clean bool, keepAlive time.Duration) *paho.ClientOptions {
	return paho.NewClientOptions().
		AddBroker("tcp://" + broker).
		SetClientID(id).
		SetCleanSession(clean).
		SetProtocolVersion(4).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetKeepAlive(keepAlive).
		SetPingTimeout(10 * time.Second).
		SetConnectTimeout(30 * time.Second).
		SetWriteTimeout(10 * time.Second).
		SetOrderMatters(true)
}

// tokenTimeout bounds the wait for any one acknowledgement.
const tokenTimeout = 30 * time.Second

func wait(tok paho.Token, what string) error {
	if !tok.WaitTimeout(tokenTimeout) {
		return fmt.Errorf("%s: no answer within %v", what, tokenTimeout)
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// connectAll connects one client per options, parallel at a time, and
// returns them with the time it took. On error it disconnects those it
// connected.
func connectAll(ctx context.Context, opts []*paho.ClientOptions, parallel int) ([]paho.Client, time.Duration, error) {
	clients, took, _, err := connectAllMax(ctx, opts, parallel)
	return clients, took, err
}

// connectAllMax is connectAll that also returns the longest time one
// client took from CONNECT to CONNACK.
func connectAllMax(ctx context.Context, opts []*paho.ClientOptions, parallel int) ([]paho.Client, time.Duration, time.Duration, error) {
	clients := make([]paho.Client, len(opts))
	errs := make([]error, len(opts))
	took := make([]time.Duration, len(opts))
	sem := make(chan struct{}, max(parallel, 1))
	var wg sync.WaitGroup
	start := time.Now()
	for i, o := range opts {
		if ctx.Err() != nil {
			errs[i] = ctx.Err()
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			c := paho.NewClient(o)
			t0 := time.Now()
			if err := wait(c.Connect(), "connect "+o.ClientID); err != nil {
				errs[i] = err
				return
			}
			took[i] = time.Since(t0)
			clients[i] = c
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		disconnectAll(clients)
		return nil, elapsed, 0, err
	}
	return clients, elapsed, slices.Max(append(took, 0)), nil
}

// disconnectAll disconnects every non-nil client, in parallel.
func disconnectAll(clients []paho.Client) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, c := range clients {
		if c == nil {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			c.Disconnect(50)
		}()
	}
	wg.Wait()
}

// subscribe subscribes c to filter and checks that the broker granted it.
func subscribe(c paho.Client, filter string, qos byte, h paho.MessageHandler) error {
	tok := c.Subscribe(filter, qos, h)
	if err := wait(tok, "subscribe "+filter); err != nil {
		return err
	}
	if st, ok := tok.(*paho.SubscribeToken); ok {
		for f, granted := range st.Result() {
			if granted > 2 {
				return fmt.Errorf("subscribe %s: refused (return code %#x)", f, granted)
			}
		}
	}
	return nil
}

// flow is end-to-end flow control: a publisher waits while window of its
// messages are published but not yet delivered to every subscriber. A
// wait that sees no delivery for stall gives up (the missing messages are
// presumably lost, which is possible at QoS 0) and publishing goes on.
type flow struct {
	window int64
	stall  time.Duration
	recv   []*Receiver
	gates  []chan struct{} // one per publisher, signalled on its deliveries
}

func newFlow(window, pubs int, recv []*Receiver) *flow {
	if window <= 0 || len(recv) == 0 {
		return nil
	}
	f := &flow{window: int64(window), stall: 100 * time.Millisecond, recv: recv, gates: make([]chan struct{}, pubs)}
	for i := range f.gates {
		f.gates[i] = make(chan struct{}, 1)
	}
	for _, r := range recv {
		r.progress = func(pub uint32) {
			select {
			case f.gates[pub] <- struct{}{}:
			default:
			}
		}
	}
	return f
}

// delivered returns how many of publisher p's messages every subscriber
// has.
func (f *flow) delivered(p uint32) int64 {
	least := int64(-1)
	for _, r := range f.recv {
		if n := r.gotBy[p].Load(); least < 0 || n < least {
			least = n
		}
	}
	return least
}

// wait blocks while publisher p, having published sent messages, has a
// full window.
func (f *flow) wait(ctx context.Context, p uint32, sent int64) {
	if f == nil {
		return
	}
	var timer *time.Timer
	for sent-f.delivered(p) >= f.window {
		if timer == nil {
			timer = time.NewTimer(f.stall)
			defer timer.Stop()
		} else {
			timer.Reset(f.stall)
		}
		select {
		case <-f.gates[p]:
		case <-timer.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// pubJob is one publisher's share of a run.
type pubJob struct {
	c      paho.Client
	idx    uint32
	topic  string
	spread bool // topic/<seq> for each message
	qos    byte
	retain bool
	size   int
	count  int
	// window bounds publishes awaiting completion; flow, if set, bounds
	// messages not yet delivered.
	window   int
	flow     *flow
	deadline time.Time // zero: none
}

// run sends up to count messages, stopping at the deadline. It returns
// how many were published; any failed publish is an error.
func (j pubJob) run(ctx context.Context) (int64, error) {
	sem := make(chan struct{}, max(j.window, 1))
	toks := make(chan paho.Token, max(j.window, 1))
	var werr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		for tok := range toks {
			if werr == nil {
				werr = wait(tok, "publish")
			}
			<-sem
		}
	}()
	n := 0
	for ; n < j.count; n++ {
		if ctx.Err() != nil || (!j.deadline.IsZero() && n%8 == 0 && time.Now().After(j.deadline)) {
			break
		}
		j.flow.wait(ctx, j.idx, int64(n))
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		payload := make([]byte, j.size)
		encodePayload(payload, j.idx, uint64(n), now())
		topic := j.topic
		if j.spread {
			topic += "/" + strconv.Itoa(n)
		}
		toks <- j.c.Publish(topic, j.qos, j.retain, payload)
	}
	close(toks)
	<-done
	if werr != nil {
		return int64(n), fmt.Errorf("publisher %d: %w", j.idx, werr)
	}
	return int64(n), nil
}

// RunLoad runs one publish/subscribe load as cfg describes.
func RunLoad(ctx context.Context, cfg LoadConfig) (LoadResult, error) {
	var res LoadResult
	if err := cfg.defaults(); err != nil {
		return res, err
	}
	keepAlive := 30 * time.Second

	// Subscribers first, so that nothing published is missed.
	subOpts := make([]*paho.ClientOptions, cfg.Subs)
	for i := range subOpts {
		subOpts[i] = clientOptions(cfg.Broker, fmt.Sprintf("%s-sub-%d", cfg.ClientPrefix, i), !cfg.PersistentSubs, keepAlive).
			SetMessageChannelDepth(1000)
	}
	pubOpts := make([]*paho.ClientOptions, cfg.Pubs)
	for i := range pubOpts {
		pubOpts[i] = clientOptions(cfg.Broker, fmt.Sprintf("%s-pub-%d", cfg.ClientPrefix, i), true, keepAlive)
	}
	subs, subTime, err := connectAll(ctx, subOpts, cfg.Parallel)
	if err != nil {
		return res, err
	}
	defer disconnectAll(subs)
	recv := make([]*Receiver, len(subs))
	for i, c := range subs {
		r := NewReceiver(cfg.Pubs, cfg.Count)
		recv[i] = r
		if err := subscribe(c, cfg.Prefix+"/"+cfg.Filter, cfg.QoS, func(_ paho.Client, m paho.Message) {
			r.Record(m.Payload(), now())
		}); err != nil {
			return res, err
		}
	}
	pubs, pubTime, err := connectAll(ctx, pubOpts, cfg.Parallel)
	if err != nil {
		return res, err
	}
	defer disconnectAll(pubs)
	res.ConnectRate = float64(len(subs)+len(pubs)) / (subTime + pubTime).Seconds()

	// Publish.
	fl := newFlow(cfg.Flow, len(pubs), recv)
	start := now()
	var deadline time.Time
	if cfg.Duration > 0 {
		deadline = time.Now().Add(cfg.Duration)
	}
	sent := make([]int64, len(pubs))
	errs := make([]error, len(pubs))
	var wg sync.WaitGroup
	for i, c := range pubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent[i], errs[i] = pubJob{c: c, idx: uint32(i), topic: fmt.Sprintf("%s/%d", cfg.Prefix, i),
				spread: cfg.Spread, qos: cfg.QoS, retain: cfg.Retain, size: cfg.Size, count: cfg.Count,
				window: cfg.Window, flow: fl, deadline: deadline}.run(ctx)
		}()
	}
	wg.Wait()
	sendEnd := now()
	if err := errors.Join(errs...); err != nil {
		return res, err
	}
	for _, n := range sent {
		res.Sent += n
	}
	res.Expected = res.Sent * int64(len(subs))

	// Wait for the deliveries: until all arrived, or none came for Settle.
	waitDeliveries(ctx, recv, res.Sent, cfg.Settle)
	if cfg.QoS == 2 {
		time.Sleep(100 * time.Millisecond) // a late duplicate would show now
	}

	var lat []int64
	last := sendEnd
	for _, r := range recv {
		lost, dups := r.Count(sent)
		res.Lost += lost
		res.Dups += dups
		r.mu.Lock()
		res.Received += r.unique
		lat = append(lat, r.latencies...)
		if r.last > last {
			last = r.last
		}
		r.mu.Unlock()
	}
	res.Latency = percentiles(lat)
	res.SendTime = time.Duration(sendEnd - start)
	res.RecvTime = time.Duration(last - start)
	if res.SendTime > 0 {
		res.SendRate = float64(res.Sent) / res.SendTime.Seconds()
	}
	if res.RecvTime > 0 && len(subs) > 0 {
		res.RecvRate = float64(res.Received) / res.RecvTime.Seconds()
	}
	return res, nil
}

// waitDeliveries returns once every receiver has want distinct messages,
// or when none of them made progress for settle, or when ctx ends.
func waitDeliveries(ctx context.Context, recv []*Receiver, want int64, settle time.Duration) {
	progress := time.Now()
	var prev int64 = -1
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		var got int64
		done := true
		for _, r := range recv {
			n := r.Unique()
			got += n
			if n < want {
				done = false
			}
		}
		if done {
			return
		}
		if got != prev {
			prev, progress = got, time.Now()
		} else if time.Since(progress) > settle {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
