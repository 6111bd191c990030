package persist_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// BenchmarkQoS1ToOfflineSession measures QoS 1 publishes per second from
// four publishers to a persistent session that is offline (so every
// message is queued), with the SQLite storage hook and without it, and
// reports the storage writer's commits per second.
func BenchmarkQoS1ToOfflineSession(b *testing.B) {
	for _, persistent := range []bool{true, false} {
		name := "persistence=off"
		if persistent {
			name = "persistence=on"
		}
		b.Run(name, func(b *testing.B) {
			tb := startBroker(b, persistent)
			hook, addr := tb.hook, tb.addr

			sub := benchClient(b, addr, "offline-sub", false)
			if tok := sub.Subscribe("bench/#", 1, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				b.Fatalf("subscribe: %v", tok.Error())
			}
			sub.Disconnect(100)

			const publishers = 4
			pubs := make([]paho.Client, publishers)
			for i := range pubs {
				pubs[i] = benchClient(b, addr, fmt.Sprintf("pub-%d", i), true)
				defer pubs[i].Disconnect(0)
			}
			var c0 int64
			if hook != nil {
				c0, _ = hook.Stats()
			}
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for i, p := range pubs {
				n := b.N / publishers
				if i == 0 {
					n += b.N % publishers
				}
				wg.Add(1)
				go func(p paho.Client, n int) {
					defer wg.Done()
					for j := 0; j < n; j++ {
						tok := p.Publish("bench/t", 1, false, "0123456789abcdef0123456789abcdef")
						if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
							b.Errorf("publish: %v", tok.Error())
							return
						}
					}
				}(p, n)
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
			if hook != nil {
				c1, _ := hook.Stats()
				b.ReportMetric(float64(c1-c0)/elapsed.Seconds(), "commits/s")
			}
		})
	}
}

func benchClient(b *testing.B, addr, id string, clean bool) paho.Client {
	b.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).
		SetCleanSession(clean).SetAutoReconnect(false).SetProtocolVersion(4))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatalf("connect %s: %v", id, tok.Error())
	}
	return c
}
