package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/grandcat/zeroconf"
)

// netnsEnv marks the copy of the test binary that runs inside a private
// network namespace, where multicast stays on this machine.
const netnsEnv = "HUBD_E2E_IN_NETNS"

// TestMDNS runs hubd with mDNS on, in a private network namespace whose
// loopback carries multicast: a zeroconf browser finds hubd's _mqtt._tcp
// on its real port, and a Shelly announced by the test shows up in
// GET /api/network.
func TestMDNS(t *testing.T) {
	if os.Getenv(netnsEnv) == "1" {
		testMDNSInNetns(t)
		return
	}
	for _, tool := range []string{"unshare", "ip", "sh"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found (Debian packages util-linux, iproute2): %v", tool, err)
		}
	}
	if out, err := exec.Command("unshare", "-n", "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Skipf("cannot make a network namespace (needs root): %v: %s", err, bytes.TrimSpace(out))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	script := `ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo && exec "$0" "$@"`
	cmd := exec.CommandContext(ctx, "unshare", "-n", "sh", "-c", script, os.Args[0],
		"-test.run=^TestMDNS$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), netnsEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--- PASS: TestMDNS")) {
		t.Fatalf("TestMDNS in a network namespace: %v\n%s", err, out)
	}
}

func testMDNSInNetns(t *testing.T) {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	addUser(t, dataDir, "admin", "admin", "admin-pass-1")
	p := startHubd(t, nil, "--data-dir", dataDir, "--mdns=true")
	_, mqttPort, _ := net.SplitHostPort(p.Addr["mqtt"])

	// A browser finds hubd's MQTT service on the port it listens on.
	r, err := zeroconf.NewResolver(zeroconf.SelectIfaces([]net.Interface{*lo}), zeroconf.SelectIPTraffic(zeroconf.IPv4))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	entries := make(chan *zeroconf.ServiceEntry)
	if err := r.Browse(ctx, "_mqtt._tcp", "local.", entries); err != nil {
		t.Fatal(err)
	}
	found := false
	for e := range entries {
		if strconv.Itoa(e.Port) == mqttPort {
			found = true
			cancel()
		}
	}
	if !found {
		t.Fatalf("no _mqtt._tcp on port %s found by browsing\n%s", mqttPort, p.log)
	}

	// A device announced on the network is listed by the API.
	dev, err := zeroconf.RegisterProxy("shellyplus1-e2e", "_shelly._tcp", "local.", 80, "shellyplus1-e2e",
		[]string{"127.0.0.1"}, []string{"gen=2", "app=Plus1"}, []net.Interface{*lo})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Shutdown()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var cands []struct {
			Instance, Service, Model string
			Port                     int
		}
		apiCall(t, p.Addr["http"], "admin", "admin-pass-1", "GET", "/api/network", "", http.StatusOK, &cands)
		for _, c := range cands {
			if c.Instance == "shellyplus1-e2e" && c.Service == "_shelly._tcp" && c.Model == "Plus1" && c.Port == 80 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /api/network never listed the Shelly: %+v\n%s", cands, p.log)
		}
		time.Sleep(100 * time.Millisecond) // polling the HTTP API from outside the process
	}
}
