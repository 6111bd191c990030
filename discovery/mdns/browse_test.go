package mdns

import (
	"context"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/grandcat/zeroconf"

	"hubd/devices"
)

// fakeClock is an injectable Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestService(t *testing.T, o Options) (*Service, *fakeClock) {
	t.Helper()
	clock := &fakeClock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	o.Now = clock.Now
	return New(o), clock
}

func serviceEntry(instance, service, host string, port int, ttl uint32, txt ...string) *zeroconf.ServiceEntry {
	e := zeroconf.NewServiceEntry(instance, service, "local.")
	e.HostName = host
	e.Port = port
	e.TTL = ttl
	e.Text = txt
	e.AddrIPv4 = []net.IP{net.IPv4(192, 0, 2, 10)}
	return e
}

func candidates(t *testing.T, s *Service) []devices.Candidate {
	t.Helper()
	cs, err := s.Candidates(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func names(cs []devices.Candidate) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Service+"/"+c.Instance)
	}
	return out
}

func TestCandidateFrom(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		e := serviceEntry(`shellyplus1-abc`, "_shelly._tcp", "shellyplus1-abc.local.", 80, 120,
			"gen=2", "app=Plus1", "ver=1.0.0")
		e.AddrIPv4 = []net.IP{net.IPv4(192, 0, 2, 10), net.IPv4(192, 0, 2, 9), net.IPv4(192, 0, 2, 10)}
		e.AddrIPv6 = []net.IP{net.ParseIP("fe80::1"), net.ParseIP("::")}
		got := candidateFrom("_shelly._tcp", e)
		want := devices.Candidate{
			Instance:  "shellyplus1-abc",
			Service:   "_shelly._tcp",
			Host:      "shellyplus1-abc.local",
			Addresses: []string{"192.0.2.9", "192.0.2.10", "fe80::1"},
			Port:      80,
			Model:     "Plus1",
			TXT:       map[string]string{"gen": "2", "app": "Plus1", "ver": "1.0.0"},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got  %+v\nwant %+v", got, want)
		}
	})
	t.Run("EscapedNames", func(t *testing.T) {
		e := serviceEntry(`Kitchen\ Sensor\ \(\\o/\)\.1`, "_esphomelib._tcp", `kitchen\032x.local.`, 6053, 120, "board=esp32dev")
		got := candidateFrom("_esphomelib._tcp", e)
		if got.Instance != `Kitchen Sensor (\o/).1` || got.Host != "kitchen x.local" || got.Model != "esp32dev" {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("HostileNames", func(t *testing.T) {
		e := serviceEntry(strings.Repeat(`\255`, 400)+"../../etc/passwd'; DROP TABLE x;--\n", "_http._tcp", strings.Repeat("h", 2000), 80, 120)
		for i := range 300 {
			e.AddrIPv4 = append(e.AddrIPv4, net.IPv4(192, 0, 2, byte(i)))
		}
		got := candidateFrom("_http._tcp", e)
		if len(got.Instance) > maxValue || len(got.Host) > maxValue {
			t.Errorf("names not truncated: %d, %d bytes", len(got.Instance), len(got.Host))
		}
		if strings.Contains(got.Instance, "\n") || !utf8.ValidString(got.Instance) {
			t.Errorf("instance kept raw bytes: %q", got.Instance)
		}
		if len(got.Addresses) != maxAddrs {
			t.Errorf("got %d addresses, want %d", len(got.Addresses), maxAddrs)
		}
	})
}

func TestCandidatesExpire(t *testing.T) {
	s, clock := newTestService(t, Options{MQTTPort: 1883, BrowseInterval: time.Minute, StaleAfter: 5 * time.Minute})
	start := clock.Now()
	s.observe("_shelly._tcp", serviceEntry("short-ttl", "_shelly._tcp", "a.local.", 80, 120, "app=Plus1"))
	s.observe("_hap._tcp", serviceEntry("long-ttl", "_hap._tcp", "b.local.", 80, 4500, "md=Eve"))
	s.observe("_esphomelib._tcp", serviceEntry("zz", "_esphomelib._tcp", "c.local.", 6053, 4500))
	s.observe("_esphomelib._tcp", serviceEntry("aa", "_esphomelib._tcp", "d.local.", 6053, 4500))

	t.Run("SortedByServiceThenInstance", func(t *testing.T) {
		got, want := names(candidates(t, s)), []string{"_esphomelib._tcp/aa", "_esphomelib._tcp/zz", "_hap._tcp/long-ttl", "_shelly._tcp/short-ttl"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
		if got := candidates(t, s)[3].LastSeen; !got.Equal(start) {
			t.Errorf("LastSeen = %v, want %v", got, start)
		}
	})
	t.Run("TTLExpired", func(t *testing.T) {
		clock.Add(119 * time.Second)
		if got := len(candidates(t, s)); got != 4 {
			t.Fatalf("got %d candidates before the TTL ran out, want 4", got)
		}
		clock.Add(time.Second)
		got, want := names(candidates(t, s)), []string{"_esphomelib._tcp/aa", "_esphomelib._tcp/zz", "_hap._tcp/long-ttl"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
	t.Run("SeenAgainRefreshes", func(t *testing.T) {
		clock.Add(2 * time.Minute) // 4 min after start
		s.observe("_esphomelib._tcp", serviceEntry("aa", "_esphomelib._tcp", "d.local.", 6053, 4500, "board=esp32dev"))
		cs := candidates(t, s)
		if got := cs[0]; got.Model != "esp32dev" || !got.LastSeen.Equal(start.Add(4*time.Minute)) {
			t.Errorf("refreshed candidate = %+v", got)
		}
	})
	t.Run("NotSeenForStaleAfter", func(t *testing.T) {
		clock.Add(time.Minute) // 5 min after start: the TTL of 4500 s is cut to StaleAfter
		got, want := names(candidates(t, s)), []string{"_esphomelib._tcp/aa"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
	t.Run("CopiesAreIndependent", func(t *testing.T) {
		cs := candidates(t, s)
		cs[0].TXT["board"] = "changed"
		cs[0].Addresses[0] = "changed"
		again := candidates(t, s)
		if again[0].TXT["board"] != "esp32dev" || again[0].Addresses[0] != "192.0.2.10" {
			t.Errorf("table changed through a returned candidate: %+v", again[0])
		}
	})
	t.Run("ErrContextDone", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := s.Candidates(ctx); err == nil {
			t.Error("no error for a cancelled context")
		}
	})
}

func TestCandidatesBounded(t *testing.T) {
	s, clock := newTestService(t, Options{MQTTPort: 1883, MaxCandidates: 2})
	s.observe("_http._tcp", serviceEntry("a", "_http._tcp", "a.local.", 80, 60))
	s.observe("_http._tcp", serviceEntry("b", "_http._tcp", "b.local.", 80, 4500))
	s.observe("_http._tcp", serviceEntry("c", "_http._tcp", "c.local.", 80, 4500))
	if got, want := names(candidates(t, s)), []string{"_http._tcp/a", "_http._tcp/b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("full table: got %v, want %v", got, want)
	}
	s.observe("_http._tcp", serviceEntry("a", "_http._tcp", "a.local.", 8080, 60))
	if got := candidates(t, s)[0].Port; got != 8080 {
		t.Errorf("known instance not updated in a full table: port %d", got)
	}
	clock.Add(time.Minute) // a expires, making room
	s.observe("_http._tcp", serviceEntry("c", "_http._tcp", "c.local.", 80, 4500))
	if got, want := names(candidates(t, s)), []string{"_http._tcp/b", "_http._tcp/c"}; !reflect.DeepEqual(got, want) {
		t.Errorf("after expiry: got %v, want %v", got, want)
	}
}

func TestStart(t *testing.T) {
	for _, tt := range []struct {
		name string
		o    Options
		want string
	}{
		{"ErrNoPort", Options{}, "nothing to advertise"},
		{"ErrBadPort", Options{MQTTPort: 70000}, "MQTTPort 70000"},
		{"ErrNegativeTLSPort", Options{MQTTPort: 1883, TLSPort: -1}, "TLSPort -1"},
		{"ErrBadService", Options{MQTTPort: 1883, BrowseServices: []string{"shelly"}}, `BrowseServices "shelly"`},
		{"ErrServiceTooLong", Options{MQTTPort: 1883, BrowseServices: []string{"_abcdefghijklmnop._tcp"}}, "BrowseServices"},
		{"ErrStaleAfter", Options{MQTTPort: 1883, BrowseInterval: time.Hour, StaleAfter: time.Minute}, "StaleAfter"},
		{"ErrNegativeDuration", Options{MQTTPort: 1883, CheckInterval: -time.Second}, "CheckInterval"},
		{"ErrInstanceTooLong", Options{MQTTPort: 1883, Instance: strings.Repeat("x", 64)}, "Instance"},
		{"ErrInstanceControl", Options{MQTTPort: 1883, Instance: "hub\n"}, "Instance"},
		{"ErrHostname", Options{MQTTPort: 1883, Hostname: "!!!"}, `Hostname "!!!"`},
		{"ErrUnnamedInterface", Options{MQTTPort: 1883, Interfaces: []net.Interface{{Index: 1}}}, "Interfaces"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := New(tt.o)
			defer s.Close()
			err := s.Start(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Start() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	t.Run("OKDefaults", func(t *testing.T) {
		s := New(Options{MQTTPort: 1883, Hostname: "pi.lan", BrowseServices: []string{"_Shelly._tcp.local.", "_shelly._tcp"}})
		if err := s.validate(); err != nil {
			t.Fatal(err)
		}
		if got, want := s.instance, `hubd\ on\ pi`; got != want {
			t.Errorf("instance = %q, want %q", got, want)
		}
		if got, want := s.services, []string{"_shelly._tcp"}; !reflect.DeepEqual(got, want) {
			t.Errorf("services = %q, want %q", got, want)
		}
		if got, want := s.o.Version, "devel"; got != want {
			t.Errorf("version = %q, want %q", got, want)
		}
	})
	t.Run("OKRecords", func(t *testing.T) {
		s := New(Options{MQTTPort: 1883, TLSPort: 8883, HTTPPort: 8080, Hostname: "pi", Version: `1.0 "x"`})
		if err := s.validate(); err != nil {
			t.Fatal(err)
		}
		want := []record{
			{"_mqtt._tcp", 1883, []string{""}},
			{"_mqtts._tcp", 8883, []string{""}},
			{"_hubd._tcp", 8080, []string{`version=1.0 \"x\"`, "ui=http://pi.local:8080/", "mqtt=1883", "mqtts=8883"}},
		}
		if got := s.records(); !reflect.DeepEqual(got, want) {
			t.Errorf("records = %+v\nwant %+v", got, want)
		}
	})
	t.Run("OKRecordsTLSOnly", func(t *testing.T) {
		s := New(Options{TLSPort: 8883, Hostname: "pi", Version: "1"})
		if err := s.validate(); err != nil {
			t.Fatal(err)
		}
		want := []record{
			{"_mqtts._tcp", 8883, []string{""}},
			{"_hubd._tcp", 8883, []string{"version=1", "mqtts=8883"}},
		}
		if got := s.records(); !reflect.DeepEqual(got, want) {
			t.Errorf("records = %+v\nwant %+v", got, want)
		}
	})
	t.Run("ErrStartTwice", func(t *testing.T) {
		s := New(Options{MQTTPort: 1883, BrowseServices: []string{}, Interfaces: []net.Interface{{Name: "hubd-none0"}}})
		defer s.Close()
		if err := s.Start(context.Background()); err != nil {
			t.Fatalf("Start without a usable interface = %v, want nil", err)
		}
		if err := s.Start(context.Background()); err == nil {
			t.Error("second Start succeeded")
		}
	})
}

func TestBackoff(t *testing.T) {
	b := backoff{min: time.Second, max: 5 * time.Second}
	var got []time.Duration
	for range 5 {
		got = append(got, b.next())
	}
	b.reset()
	got = append(got, b.next())
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second, time.Second}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestLogLimiter(t *testing.T) {
	l := logLimiter{every: time.Minute}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		at         time.Duration
		ok         bool
		suppressed int
	}{
		{0, true, 0},
		{time.Second, false, 0},
		{59 * time.Second, false, 0},
		{time.Minute, true, 2},
		{time.Minute + time.Second, false, 0},
		{3 * time.Minute, true, 1},
	} {
		n, ok := l.allow(t0.Add(tt.at))
		if ok != tt.ok || n != tt.suppressed {
			t.Errorf("at %v: allow = %d, %v; want %d, %v", tt.at, n, ok, tt.suppressed, tt.ok)
		}
	}
}
