package mdns

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grandcat/zeroconf"
	"github.com/miekg/dns"

	"hubd/devices"
)

// Multicast works here only inside a private network namespace, whose lo
// the test may turn into a multicast link. TestNetns re-runs the test
// binary as root in one (unshare -n), with netnsEnv set; it skips when
// unshare or ip is missing or not permitted. Debian: util-linux, iproute2
// (see .ci/deps.d/mdns.list), and python3-zeroconf for the checks by an
// independent implementation.
const netnsEnv = "HUBD_MDNS_IN_NETNS"

// netnsReady is printed by the namespace's shell before the test binary
// starts: without it, the namespace could not be set up.
const netnsReady = "hubd-mdns-netns-ready"

func TestNetns(t *testing.T) {
	if os.Getenv(netnsEnv) != "1" {
		runInNetns(t)
		return
	}
	testInNetns(t)
}

// runInNetns runs TestNetns again in a new network namespace whose lo is
// up (but not yet multicast) and reports its result.
func runInNetns(t *testing.T) {
	for _, tool := range []string{"unshare", "ip", "sh"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found (Debian packages util-linux, iproute2): %v", tool, err)
		}
	}
	if out, err := exec.Command("unshare", "-n", "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Skipf("cannot make a network namespace (needs root): %v: %s", err, bytes.TrimSpace(out))
	}
	timeout := 3 * time.Minute
	if d, ok := t.Deadline(); ok {
		timeout = min(timeout, time.Until(d)-5*time.Second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	script := `ip link set lo up && echo ` + netnsReady + ` && exec "$0" "$@"`
	cmd := exec.CommandContext(ctx, "unshare", "-n", "sh", "-c", script, os.Args[0],
		"-test.run=^TestNetns$", "-test.v", "-test.count=1", "-test.timeout="+timeout.String())
	cmd.Env = append(os.Environ(), netnsEnv+"=1")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("in a network namespace (%v):\n%s", time.Since(start).Round(time.Millisecond), out)
	switch {
	case !bytes.Contains(out, []byte(netnsReady)):
		t.Skipf("could not set up the network namespace: %v", err)
	case err != nil:
		t.Fatalf("TestNetns in a network namespace: %v", err)
	case bytes.Contains(out, []byte("--- SKIP: TestNetns ")):
		t.Skip("skipped in the network namespace")
	case !bytes.Contains(out, []byte("--- PASS: TestNetns ")):
		t.Fatal("TestNetns did not run in the network namespace")
	}
}

// testInNetns runs, in order: the hub starts with no usable interface,
// lo becomes a multicast link, and the hub is then advertised, browsed
// by Go and Python zeroconf, finds devices announced by both, and says
// goodbye on Close.
func testInNetns(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("HUBD_MDNS_LOGS") != "" {
			t.Logf("hub logs:\n%s", logs)
		}
	})
	hub := New(Options{
		Hostname:       "hubtest",
		MQTTPort:       1883,
		TLSPort:        8883,
		HTTPPort:       8080,
		Version:        "1.2.3-test",
		Logger:         slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		BrowseInterval: 30 * time.Second,
		MaxBackoff:     100 * time.Millisecond,
	})
	defer hub.Close()
	const instance = "hubd on hubtest"

	t.Run("StartWithoutInterface", func(t *testing.T) {
		if err := hub.Start(ctx); err != nil {
			t.Fatalf("Start = %v, want nil while no interface is usable", err)
		}
		waitFor(t, 10*time.Second, "3 attempts to advertise", func() bool { return hub.attempts.Load() >= 3 })
		if got := strings.Count(logs.String(), "no usable network interface"); got != 1 {
			t.Errorf("logged %d times that no interface is usable, want once", got)
		}
		if got := hub.advertisedOn(); len(got) != 0 {
			t.Errorf("advertised on %v without a usable interface", got)
		}
	})

	for _, args := range [][]string{
		{"link", "set", "lo", "multicast", "on"},
		{"route", "add", "224.0.0.0/4", "dev", "lo"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("AdvertisesWhenInterfaceAppears", func(t *testing.T) {
		waitFor(t, 10*time.Second, "advertising on lo", func() bool {
			return slices.Equal(hub.advertisedOn(), []string{"lo"})
		})
	})

	t.Run("GoBrowser", func(t *testing.T) {
		for _, tt := range []struct {
			service string
			port    int
			txt     []string
		}{
			{"_mqtt._tcp", 1883, nil},
			{"_mqtts._tcp", 8883, nil},
			{"_hubd._tcp", 8080, []string{"version=1.2.3-test", "ui=http://hubtest.local:8080/", "mqtt=1883", "mqtts=8883"}},
		} {
			e := browseFor(t, *lo, tt.service, instance)
			if e.Port != tt.port || e.HostName != "hubtest.local." {
				t.Errorf("%s: port %d on %q, want %d on hubtest.local.", tt.service, e.Port, e.HostName, tt.port)
			}
			if !slices.ContainsFunc(e.AddrIPv4, func(ip net.IP) bool { return ip.Equal(net.IPv4(127, 0, 0, 1)) }) {
				t.Errorf("%s: addresses %v lack 127.0.0.1", tt.service, e.AddrIPv4)
			}
			for _, kv := range tt.txt {
				if !slices.Contains(e.Text, kv) {
					t.Errorf("%s: TXT %q lacks %q", tt.service, e.Text, kv)
				}
			}
		}
	})

	t.Run("PythonBrowser", func(t *testing.T) {
		python := pythonZeroconf(t)
		ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, python, "-c", pyBrowse, instance,
			"_mqtt._tcp.local.", "_mqtts._tcp.local.", "_hubd._tcp.local.").Output()
		if err != nil {
			t.Fatalf("python: %v: %s", err, stderr(err))
		}
		var got map[string]struct {
			Port      int               `json:"port"`
			Server    string            `json:"server"`
			Addresses []string          `json:"addresses"`
			TXT       map[string]string `json:"txt"`
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("python said %q: %v", out, err)
		}
		for st, port := range map[string]int{"_mqtt._tcp.local.": 1883, "_mqtts._tcp.local.": 8883, "_hubd._tcp.local.": 8080} {
			info, ok := got[st]
			if !ok {
				t.Errorf("python did not resolve %s: %s", st, out)
				continue
			}
			if info.Port != port || info.Server != "hubtest.local." || !slices.Contains(info.Addresses, "127.0.0.1") {
				t.Errorf("python resolved %s to %+v, want port %d on hubtest.local. at 127.0.0.1", st, info, port)
			}
		}
		txt := got["_hubd._tcp.local."].TXT
		for k, v := range map[string]string{"version": "1.2.3-test", "ui": "http://hubtest.local:8080/", "mqtt": "1883"} {
			if txt[k] != v {
				t.Errorf("python read TXT %s=%q, want %q (all: %v)", k, txt[k], v, txt)
			}
		}
	})

	t.Run("ShellyCandidate", func(t *testing.T) {
		dev, err := zeroconf.RegisterProxy("shellyplus1-abc", "_shelly._tcp", "local.", 80, "shellyplus1-abc",
			[]string{"127.0.0.1"}, []string{"gen=2", "app=Plus1", "ver=1.0.0"}, []net.Interface{*lo})
		if err != nil {
			t.Fatal(err)
		}
		defer dev.Shutdown()
		c := waitForCandidate(t, hub, "_shelly._tcp", "shellyplus1-abc")
		if c.Model != "Plus1" || c.Port != 80 || c.Host != "shellyplus1-abc.local" ||
			!slices.Equal(c.Addresses, []string{"127.0.0.1"}) || c.TXT["gen"] != "2" {
			t.Errorf("candidate = %+v", c)
		}
	})

	t.Run("PythonESPHomeCandidate", func(t *testing.T) {
		python := pythonZeroconf(t)
		ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, python, "-c", pyRegister)
		stdin, err := cmd.StdinPipe() // closing it unregisters
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			stdin.Close()
			if err := cmd.Wait(); err != nil {
				t.Errorf("python: %v: %s", err, out.String())
			}
		}()
		c := waitForCandidate(t, hub, "_esphomelib._tcp", "Kitchen Sensor (2)")
		want := devices.Candidate{
			Instance:  "Kitchen Sensor (2)",
			Service:   "_esphomelib._tcp",
			Host:      "kitchen-sensor.local",
			Addresses: []string{"127.0.0.1"},
			Port:      6053,
			Model:     "esp32dev",
			TXT:       map[string]string{"board": "esp32dev", "platform": "ESP32", "version": "2024.6.0", "friendly_name": "Küche"},
		}
		c.LastSeen = time.Time{}
		if fmt.Sprint(c) != fmt.Sprint(want) {
			t.Errorf("candidate = %+v\nwant        %+v", c, want)
		}
	})

	t.Run("CloseSaysGoodbye", func(t *testing.T) {
		goodbye := listenForGoodbye(t, *lo, escapeLabel(instance)+"._hubd._tcp.local.")
		hub.Close()
		select {
		case <-goodbye:
		case <-time.After(10 * time.Second):
			t.Fatal("no goodbye (SRV with TTL 0) for _hubd._tcp within 10s of Close")
		}
		if got := hub.advertisedOn(); len(got) != 0 {
			t.Errorf("still advertised on %v after Close", got)
		}
	})
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		case <-tick.C:
		}
	}
}

// waitForCandidate polls hub.Candidates for an instance of service.
func waitForCandidate(t *testing.T, hub *Service, service, instance string) devices.Candidate {
	t.Helper()
	var found devices.Candidate
	waitFor(t, 15*time.Second, service+" "+instance+" in Candidates", func() bool {
		cs, err := hub.Candidates(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(cs, func(c devices.Candidate) bool { return c.Service == service && c.Instance == instance })
		if i >= 0 {
			found = cs[i]
		}
		return i >= 0
	})
	return found
}

// browseFor browses service on ifi with zeroconf until instance shows up.
func browseFor(t *testing.T, ifi net.Interface, service, instance string) *zeroconf.ServiceEntry {
	t.Helper()
	r, err := zeroconf.NewResolver(zeroconf.SelectIfaces([]net.Interface{ifi}), zeroconf.SelectIPTraffic(zeroconf.IPv4))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	entries := make(chan *zeroconf.ServiceEntry)
	if err := r.Browse(ctx, service, "local.", entries); err != nil {
		t.Fatal(err)
	}
	var found *zeroconf.ServiceEntry
	for e := range entries { // closed once ctx is done
		if found == nil && unescape(e.Instance) == instance {
			found = e
			cancel()
		}
	}
	if found == nil {
		t.Fatalf("zeroconf browsing %s did not find %q", service, instance)
	}
	return found
}

// listenForGoodbye returns a channel closed when an mDNS response on ifi
// withdraws name's SRV record.
func listenForGoodbye(t *testing.T, ifi net.Interface, name string) <-chan struct{} {
	t.Helper()
	conn, err := net.ListenMulticastUDP("udp4", &ifi, &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	t.Cleanup(func() { conn.Close(); <-stopped })
	go func() {
		defer close(stopped)
		buf := make([]byte, 65536)
		for {
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			var msg dns.Msg
			if msg.Unpack(buf[:n]) != nil || !msg.Response {
				continue
			}
			for _, rr := range msg.Answer {
				if srv, ok := rr.(*dns.SRV); ok && srv.Hdr.Name == name && srv.Hdr.Ttl == 0 {
					close(done)
					return
				}
			}
		}
	}()
	return done
}

// pythonZeroconf returns a Python with the zeroconf module (Debian's
// python3-zeroconf), or skips.
func pythonZeroconf(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if err := exec.Command(p, "-c", "import zeroconf").Run(); err == nil {
			return p
		}
	}
	t.Skip("no python3 with the zeroconf module (Debian: python3-zeroconf)")
	return ""
}

func stderr(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

// pyBrowse browses the service types in argv[2:] for the instance
// argv[1], resolves each, and prints {type: {port, server, addresses,
// txt}} as JSON.
const pyBrowse = `
import json, queue, sys, time
from zeroconf import IPVersion, ServiceBrowser, ServiceStateChange, Zeroconf

instance, types = sys.argv[1], sys.argv[2:]
zc = Zeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
added = queue.Queue()

def on_change(zeroconf, service_type, name, state_change):
    if state_change is ServiceStateChange.Added:
        added.put((service_type, name))

browser = ServiceBrowser(zc, types, handlers=[on_change])
result = {}
deadline = time.monotonic() + 30
while len(result) < len(types) and time.monotonic() < deadline:
    try:
        st, name = added.get(timeout=max(0.1, deadline - time.monotonic()))
    except queue.Empty:
        break
    if name != instance + "." + st:
        continue
    info = zc.get_service_info(st, name, timeout=5000)
    if info is None:
        continue
    result[st] = {
        "port": info.port,
        "server": info.server,
        "addresses": info.parsed_addresses(),
        "txt": {k.decode(): (v or b"").decode() for k, v in info.properties.items()},
    }
browser.cancel()
zc.close()
json.dump(result, sys.stdout)
`

// pyRegister announces an ESPHome device until its stdin closes, then
// unregisters it.
const pyRegister = `
import socket, sys
from zeroconf import IPVersion, ServiceInfo, Zeroconf

zc = Zeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
info = ServiceInfo(
    "_esphomelib._tcp.local.",
    "Kitchen Sensor (2)._esphomelib._tcp.local.",
    addresses=[socket.inet_aton("127.0.0.1")],
    port=6053,
    properties={"board": "esp32dev", "platform": "ESP32", "version": "2024.6.0", "friendly_name": "Küche"},
    server="kitchen-sensor.local.",
)
zc.register_service(info)
print("registered", flush=True)
sys.stdin.read()
zc.unregister_service(info)
zc.close()
`

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

var _ io.Writer = (*syncBuffer)(nil)

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
