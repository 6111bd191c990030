package main

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// connectV3 connects an MQTT 3.1.1 client to addr and fails the test if
// it cannot.
func connectV3(t testing.TB, addr, id, user, pass string, clean bool, onMsg paho.MessageHandler) paho.Client {
	t.Helper()
	o := paho.NewClientOptions().
		AddBroker("tcp://" + addr).
		SetClientID(id).
		SetUsername(user).
		SetPassword(pass).
		SetCleanSession(clean).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetOrderMatters(true). // handlers see messages in arrival order

		SetProtocolVersion(4).
		SetMessageChannelDepth(4096)
	if onMsg != nil {
		o.SetDefaultPublishHandler(onMsg)
	}
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s to %s: %v", id, addr, tok.Error())
	}
	return c
}

// waitToken waits for an MQTT operation to complete.
func waitToken(t testing.TB, what string, tok paho.Token) {
	t.Helper()
	if !tok.WaitTimeout(30 * time.Second) {
		t.Fatalf("%s: timed out", what)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// collector counts messages per topic and signals when a topic arrives.
type collector struct {
	mu       sync.Mutex
	count    map[string]int
	payload  map[string]string
	qos      map[string]byte
	arrived  chan struct{}
	expected int
}

func newCollector(expected int) *collector {
	return &collector{count: map[string]int{}, payload: map[string]string{}, qos: map[string]byte{},
		arrived: make(chan struct{}), expected: expected}
}

func (c *collector) handle(_ paho.Client, m paho.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count[m.Topic()]++
	c.payload[m.Topic()] = string(m.Payload())
	c.qos[m.Topic()] = m.Qos()
	if len(c.count) == c.expected {
		close(c.arrived)
	}
}

func (c *collector) wait(t testing.TB, timeout time.Duration) {
	t.Helper()
	select {
	case <-c.arrived:
	case <-time.After(timeout):
		c.mu.Lock()
		defer c.mu.Unlock()
		t.Fatalf("received %d distinct topics, want %d", len(c.count), c.expected)
	}
}

// TestDurabilityKill9 is the foundation's promise: whatever hubd has
// acknowledged survives SIGKILL. 500 QoS 1 and 500 QoS 2 messages queued
// for an offline persistent session and 200 retained topics all come back
// after a kill -9 and restart, and no QoS 2 message arrives twice.
func TestDurabilityKill9(t *testing.T) {
	dataDir := t.TempDir()
	addUser(t, dataDir, "tester", "admin", "s3cret-pass")
	p := startHubd(t, nil, "--data-dir", dataDir)
	addr := p.Addr["mqtt"]

	// The subscriber registers a persistent session, then goes offline.
	sub := connectV3(t, addr, "durable-sub", "tester", "s3cret-pass", false, nil)
	waitToken(t, "subscribe", sub.Subscribe("durable/#", 2, nil))
	sub.Disconnect(250)

	pub := connectV3(t, addr, "durable-pub", "tester", "s3cret-pass", true, nil)
	const window = 50 // stay under the broker's receive maximum
	var toks []paho.Token
	flush := func() {
		for _, tok := range toks {
			waitToken(t, "publish", tok)
		}
		toks = toks[:0]
	}
	for i := 0; i < 500; i++ {
		toks = append(toks,
			pub.Publish(fmt.Sprintf("durable/q1/%03d", i), 1, false, fmt.Sprintf("one-%d", i)),
			pub.Publish(fmt.Sprintf("durable/q2/%03d", i), 2, false, fmt.Sprintf("two-%d", i)))
		if len(toks) >= window {
			flush()
		}
	}
	for i := 0; i < 200; i++ {
		toks = append(toks, pub.Publish(fmt.Sprintf("retained/%03d", i), 1, true, fmt.Sprintf("value-%d", i)))
		if len(toks) >= window {
			flush()
		}
	}
	flush() // every PUBACK and PUBCOMP is in: the broker owes us all of it

	p.kill() // SIGKILL: no chance to flush anything
	pub.Disconnect(0)

	p = startHubd(t, nil, "--data-dir", dataDir)
	addr = p.Addr["mqtt"]

	// Every retained value is back.
	ret := newCollector(200)
	reader := connectV3(t, addr, "retained-reader", "tester", "s3cret-pass", true, ret.handle)
	waitToken(t, "subscribe retained", reader.Subscribe("retained/#", 1, nil))
	ret.wait(t, 30*time.Second)
	for i := 0; i < 200; i++ {
		topic := fmt.Sprintf("retained/%03d", i)
		if got, want := ret.payload[topic], fmt.Sprintf("value-%d", i); got != want {
			t.Errorf("%s = %q, want %q", topic, got, want)
		}
	}
	reader.Disconnect(250)

	// The subscriber comes back and gets its 1,000 queued messages. They
	// are all re-sent at once on reconnect, so once a marker published
	// after them has arrived too, any duplicate would have shown.
	got := newCollector(1000)
	sub = connectV3(t, addr, "durable-sub", "tester", "s3cret-pass", false, got.handle)
	defer sub.Disconnect(250)
	got.wait(t, 60*time.Second)
	got.mu.Lock()
	got.expected, got.arrived = 1001, make(chan struct{})
	got.mu.Unlock()
	marker := connectV3(t, addr, "marker", "tester", "s3cret-pass", true, nil)
	waitToken(t, "publish marker", marker.Publish("durable/zz-marker", 2, false, "end"))
	marker.Disconnect(250)
	got.wait(t, 30*time.Second)
	if got.count["durable/zz-marker"] != 1 {
		t.Errorf("marker received %d times, want 1", got.count["durable/zz-marker"])
	}

	got.mu.Lock()
	defer got.mu.Unlock()
	for i := 0; i < 500; i++ {
		for _, k := range []struct {
			topic, payload string
			qos            byte
		}{
			{fmt.Sprintf("durable/q1/%03d", i), fmt.Sprintf("one-%d", i), 1},
			{fmt.Sprintf("durable/q2/%03d", i), fmt.Sprintf("two-%d", i), 2},
		} {
			if got.count[k.topic] == 0 {
				t.Errorf("%s: lost", k.topic)
				continue
			}
			if got.payload[k.topic] != k.payload || got.qos[k.topic] != k.qos {
				t.Errorf("%s: got %q at QoS %d, want %q at QoS %d", k.topic, got.payload[k.topic], got.qos[k.topic], k.payload, k.qos)
			}
			if k.qos == 2 && got.count[k.topic] != 1 {
				t.Errorf("%s: QoS 2 message delivered %d times", k.topic, got.count[k.topic])
			}
		}
	}
	for topic, n := range got.count {
		if !strings.HasPrefix(topic, "durable/") {
			t.Errorf("unexpected topic %s (%d times)", topic, n)
		}
	}
}
