package auth

import (
	"fmt"
	"log/slog"
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
)

// The benchmarks below price the access checks the broker makes: one per
// publish (CanPublish), one per delivery to each subscriber (CanRead) and
// one per subscription (CanSubscribe), alone and through the hook, as
// hubbench's hubd configuration exercises them (anonymous clients granted
// bench/# by one rule). Sub-benchmark names are key=value pairs, so that
// benchstat can compare them across runs:
//
//	go test -run '^$' -bench . -count 10 ./hub/auth > new.txt
//	benchstat old.txt new.txt

// benchRules returns n rules: n-1 device rules that do not match the
// benchmark's anonymous client, then the one that grants it bench/#, so
// that a check walks every rule before it finds its grant.
func benchRules(n int) []Rule {
	rules := make([]Rule, 0, n)
	for i := 0; i < n-1; i++ {
		rules = append(rules, Rule{Role: RoleDevice, Topic: fmt.Sprintf("devices/%%u/room%d/+", i), Access: AccessReadWrite})
	}
	return append(rules, Rule{Role: RoleAnonymous, Topic: "bench/#", Access: AccessReadWrite})
}

func benchACL(b *testing.B, n int) *ACL {
	b.Helper()
	a, err := NewACL(benchRules(n))
	if err != nil {
		b.Fatal(err)
	}
	return a
}

var benchSink bool

func BenchmarkACL(b *testing.B) {
	anonymous := Subject{Role: RoleAnonymous, ClientID: "hubbench-pub-3"}
	admin := Subject{Username: "root", Role: RoleAdmin, ClientID: "root-1"}
	const topic, filter = "bench/qos1-fanin/0/3", "bench/qos1-fanin/0/+"
	for _, n := range []int{1, 10, 100} {
		a := benchACL(b, n)
		for _, s := range []struct {
			role string
			sub  Subject
		}{{"anonymous", anonymous}, {"admin", admin}} {
			name := func(op string) string { return fmt.Sprintf("op=%s/role=%s/rules=%d", op, s.role, n) }
			b.Run(name("CanPublish"), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					benchSink = a.CanPublish(s.sub, topic)
				}
				if !benchSink {
					b.Fatal("refused")
				}
			})
			b.Run(name("CanRead"), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					benchSink = a.CanRead(s.sub, topic)
				}
				if !benchSink {
					b.Fatal("refused")
				}
			})
			b.Run(name("CanSubscribe"), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					benchSink = a.CanSubscribe(s.sub, filter)
				}
				if !benchSink {
					b.Fatal("refused")
				}
			})
		}
	}
}

// BenchmarkMatchTopic measures matching one compiled rule topic against a
// topic name, by kind of pattern.
func BenchmarkMatchTopic(b *testing.B) {
	sub := Subject{Username: "bob", Role: RoleDevice, ClientID: "bob-1"}
	for _, tc := range []struct {
		kind, pattern, topic string
	}{
		{"literal", "home/kitchen/light/state", "home/kitchen/light/state"},
		{"plus", "home/+/light/state", "home/kitchen/light/state"},
		{"hash", "bench/#", "bench/qos1-fanin/0/3"},
		{"template", "devices/%u/#", "devices/bob/light/state"},
		{"miss", "devices/%u/#", "home/kitchen/light/state"},
		{"deep", "a/b/c/d/e/f/g/+/#", "a/b/c/d/e/f/g/h/i/j"},
	} {
		p, err := compilePattern(tc.pattern)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("kind="+tc.kind, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bd := binding{s: &sub}
				benchSink = p.matchTopic(tc.topic, &bd)
			}
		})
	}
}

// BenchmarkHookOnACLCheck measures the hook's whole check, including
// finding the client's remembered Subject: what mochi pays per publish,
// per delivery and per subscription.
func BenchmarkHookOnACLCheck(b *testing.B) {
	a := benchACL(b, 1)
	srv := mqtt.New(&mqtt.Options{Logger: slog.New(slog.DiscardHandler)})
	h := NewHook(HookOptions{ACL: func() *ACL { return a }, AllowAnonymous: true})
	for _, tc := range []struct {
		op    string
		topic string
		write bool
	}{
		{"publish", "bench/qos1-fanin/0/3", true},
		{"deliver", "bench/qos1-fanin/0/3", false},
		{"subscribe", "bench/qos1-fanin/0/+", false},
	} {
		b.Run("op="+tc.op+"/goroutines=1", func(b *testing.B) {
			cl := srv.NewClient(nil, "bench", "hubbench-sub-0", false)
			if !h.OnACLCheck(cl, tc.topic, tc.write) {
				b.Fatal("refused")
			}
			b.ReportAllocs()
			for b.Loop() {
				benchSink = h.OnACLCheck(cl, tc.topic, tc.write)
			}
		})
	}
	// Many connections checking at once, as under fan-in: they share the
	// hook's lock on its table of clients.
	b.Run("op=deliver/goroutines=parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			cl := srv.NewClient(nil, "bench", "hubbench-sub-parallel", false)
			for pb.Next() {
				if !h.OnACLCheck(cl, "bench/qos1-fanin/0/3", false) {
					b.Error("refused")
					return
				}
			}
		})
	})
}
