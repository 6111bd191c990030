package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSystemdNotify plays systemd: it listens on a unixgram socket, starts
// hubd with NOTIFY_SOCKET and WATCHDOG_USEC, and expects READY=1, then
// WATCHDOG=1, then STOPPING=1 after SIGTERM, and a zero exit.
func TestSystemdNotify(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msgs := make(chan string, 64)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := conn.ReadFromUnix(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	// next waits for a notification containing want, in order.
	next := func(want string) {
		t.Helper()
		timeout := time.After(30 * time.Second)
		for {
			select {
			case m, ok := <-msgs:
				if !ok {
					t.Fatalf("notify socket closed before %q", want)
				}
				if strings.Contains(m, want) {
					return
				}
			case <-timeout:
				t.Fatalf("no %q from hubd", want)
			}
		}
	}

	dataDir := t.TempDir()
	p := startHubd(t, []string{"NOTIFY_SOCKET=" + sock, "WATCHDOG_USEC=400000"}, "--data-dir", dataDir)
	next("READY=1")
	// By READY=1, every listener accepts.
	resp, err := http.Get("http://" + p.Addr["http"] + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz after READY=1: %s", resp.Status)
	}
	next("WATCHDOG=1")
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	next("STOPPING=1")
	code, err := p.wait(15 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0\n%s", code, p.log)
	}
}

// TestCorruptDatabase writes garbage over the database: hubd moves the file
// aside, says so in its log, and starts on a fresh database.
func TestCorruptDatabase(t *testing.T) {
	dataDir := t.TempDir()
	garbage := []byte(strings.Repeat("this is not an SQLite database. ", 4096))
	if err := os.WriteFile(filepath.Join(dataDir, "hubd.db"), garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	p := startHubd(t, nil, "--data-dir", dataDir)
	rec, err := p.log.waitFor("database is corrupt", time.Second)
	if err != nil {
		t.Fatalf("%v\n%s", err, p.log)
	}
	if rec.str("level") != "ERROR" {
		t.Errorf("corruption logged at %s, want ERROR", rec.str("level"))
	}
	moved := rec.str("moved_to")
	got, err := os.ReadFile(moved)
	if err != nil {
		t.Fatalf("moved-aside file: %v", err)
	}
	if string(got) != string(garbage) {
		t.Errorf("moved-aside file does not hold the old bytes")
	}
	if !strings.HasPrefix(filepath.Base(moved), "hubd.db.corrupt-") {
		t.Errorf("moved to %s, want hubd.db.corrupt-<time>", moved)
	}
	resp, err := http.Get("http://" + p.Addr["http"] + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz on the fresh database: %s", resp.Status)
	}
}

// TestBadInput: each mistake makes hubd exit non-zero with one line that
// names the file and line, or the address, or the directory.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	notDir := write("plain-file", "x")

	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"ErrMalformedConfig", []string{"--config", write("malformed.yaml", "mqtt:\n  addr: [\n")}, []string{"malformed.yaml:"}},
		{"ErrUnknownKey", []string{"--config", write("unknown.yaml", "mqtt:\n  alow_anonymous: true\n")}, []string{"unknown.yaml:2:", "alow_anonymous"}},
		{"ErrPortInUse", []string{"--data-dir", t.TempDir(), "--mqtt-addr", busy.Addr().String()}, []string{busy.Addr().String()}},
		{"ErrDataDirUnusable", []string{"--data-dir", filepath.Join(notDir, "data")}, []string{filepath.Join(notDir, "data")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"serve", "--http-addr", "", "--ws-addr", "", "--mqtt-addr", "127.0.0.1:0", "--mdns=false"}, tc.args...)
			code, _, stderr := runHubd(t, "", args...)
			if code == 0 {
				t.Fatalf("exit code 0, want non-zero")
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			last := lines[len(lines)-1]
			for _, w := range tc.want {
				if !strings.Contains(last, w) {
					t.Errorf("message %q does not name %q (stderr:\n%s)", last, w, stderr)
				}
			}
		})
	}
}

// TestSelftest: the packaged binary's self-test passes here.
func TestSelftest(t *testing.T) {
	code, stdout, stderr := runHubd(t, "", "selftest")
	if code != 0 || !strings.Contains(stdout, "selftest OK") {
		t.Fatalf("selftest: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
}

// TestUserCommandRefusesRootInServiceDataDir: root must not create files
// in the service user's data directory (the database's -wal would lock
// the service out).
func TestUserCommandRefusesRootInServiceDataDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	dir := t.TempDir()
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runHubd(t, "", "user", "list", "--data-dir", dir)
	if code == 0 || !strings.Contains(stderr, "belongs to user") {
		t.Fatalf("exit %d, stderr %q: want a refusal naming the owner", code, stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("root created %d files in the service's data dir", len(entries))
	}
}

// TestReloadOnSIGHUP: a changed access rule takes effect after SIGHUP,
// without a restart; a broken file is refused and the running rules stay.
func TestReloadOnSIGHUP(t *testing.T) {
	dataDir := t.TempDir()
	addUser(t, dataDir, "dev", "device", "dev-pass-1")
	cfg := filepath.Join(t.TempDir(), "hubd.yaml")
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("acl: []\n")
	p := startHubd(t, nil, "--data-dir", dataDir, "--config", cfg)

	publish := func() error {
		c := connectV3(t, p.Addr["mqtt"], "dev-client", "dev", "dev-pass-1", true, nil)
		defer c.Disconnect(0)
		tok := c.Publish("devices/dev/state", 1, false, "on")
		if !tok.WaitTimeout(10 * time.Second) {
			return fmt.Errorf("no answer")
		}
		return tok.Error() // MQTT 3.1.1: a refused QoS 1 publish ends the connection
	}
	if err := publish(); err == nil {
		t.Fatal("publish allowed before the rule exists")
	}

	write("acl:\n  - role: device\n    topic: \"devices/%u/#\"\n    access: readwrite\n")
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if _, err := p.log.waitFor("configuration reloaded", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := publish(); err != nil {
		t.Fatalf("publish refused after the reload: %v", err)
	}

	write("acl:\n  - role: device\n    topic: \"devices/#/x\"\n    access: readwrite\n")
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if _, err := p.log.waitFor("configuration rejected", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := publish(); err != nil {
		t.Fatalf("a rejected file changed the running rules: %v", err)
	}
}
