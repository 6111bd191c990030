package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// hubdBin is the hubd binary the end-to-end tests run, built once by
// TestMain.
var hubdBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hubd-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	hubdBin = filepath.Join(dir, "hubd")
	build := exec.Command("go", "build", "-o", hubdBin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build hubd: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// logRecord is one JSON log line of hubd.
type logRecord map[string]any

func (r logRecord) str(key string) string {
	s, _ := r[key].(string)
	return s
}

// logWatcher collects hubd's JSON log lines and lets a test wait for one.
type logWatcher struct {
	mu      sync.Mutex
	records []logRecord
	raw     bytes.Buffer
	changed chan struct{}
	closed  bool
}

func newLogWatcher(r io.Reader) *logWatcher {
	w := &logWatcher{changed: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			var rec logRecord
			_ = json.Unmarshal(line, &rec)
			w.mu.Lock()
			w.raw.Write(line)
			w.raw.WriteByte('\n')
			if rec != nil {
				w.records = append(w.records, rec)
			}
			close(w.changed)
			w.changed = make(chan struct{})
			w.mu.Unlock()
		}
		w.mu.Lock()
		w.closed = true
		close(w.changed)
		w.mu.Unlock()
	}()
	return w
}

// waitFor returns the first record whose msg contains msg.
func (w *logWatcher) waitFor(msg string, timeout time.Duration) (logRecord, error) {
	deadline := time.After(timeout)
	seen := 0
	for {
		w.mu.Lock()
		for ; seen < len(w.records); seen++ {
			if strings.Contains(w.records[seen].str("msg"), msg) {
				rec := w.records[seen]
				w.mu.Unlock()
				return rec, nil
			}
		}
		closed, changed := w.closed, w.changed
		w.mu.Unlock()
		if closed {
			return nil, fmt.Errorf("hubd exited before logging %q", msg)
		}
		select {
		case <-changed:
		case <-deadline:
			return nil, fmt.Errorf("no %q in the log after %v", msg, timeout)
		}
	}
}

func (w *logWatcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.raw.String()
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

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

// hubdProc is a running hubd process.
type hubdProc struct {
	t      testing.TB
	cmd    *exec.Cmd
	log    *logWatcher
	stdout *syncBuffer
	done   chan struct{}
	err    error
	// Addr holds the bound addresses from the "hubd started" log line:
	// "mqtt", "websocket", "tls", "http".
	Addr map[string]string
}

// startHubd starts hubd serve with JSON logs on loopback ports chosen by
// the kernel, plus args, and waits until it has started.
func startHubd(t testing.TB, env []string, args ...string) *hubdProc {
	t.Helper()
	p := launchHubd(t, env, args...)
	rec, err := p.log.waitFor("hubd started", 60*time.Second)
	if err != nil {
		p.kill()
		t.Fatalf("%v\nlog:\n%s", err, p.log)
	}
	p.Addr = map[string]string{}
	for _, k := range []string{"mqtt", "websocket", "tls", "http"} {
		p.Addr[k] = rec.str(k)
	}
	return p
}

// launchHubd starts hubd without waiting for it.
func launchHubd(t testing.TB, env []string, args ...string) *hubdProc {
	t.Helper()
	all := append([]string{"serve", "--log-format", "json",
		"--mqtt-addr", "127.0.0.1:0", "--ws-addr", "", "--tls-addr", "", "--http-addr", "127.0.0.1:0",
		"--mdns=false"}, args...)
	cmd := exec.Command(hubdBin, all...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &hubdProc{t: t, cmd: cmd, stdout: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout = p.stdout
	p.log = newLogWatcher(stderr)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.kill)
	return p
}

// kill sends SIGKILL and waits for the process to go.
func (p *hubdProc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// wait waits for the process to exit and returns its exit code.
func (p *hubdProc) wait(timeout time.Duration) (int, error) {
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode(), nil
	case <-time.After(timeout):
		return -1, fmt.Errorf("hubd still running after %v", timeout)
	}
}

// runHubd runs a short hubd command and returns its exit code and output.
func runHubd(t testing.TB, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(hubdBin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("run hubd %v: %v", args, err)
		}
	}
	return cmd.ProcessState.ExitCode(), o.String(), e.String()
}

// addUser creates a user in dataDir through the CLI.
func addUser(t testing.TB, dataDir, name, role, password string) {
	t.Helper()
	code, _, stderr := runHubd(t, password+"\n", "user", "add", name, "--role", role, "--password-stdin", "--data-dir", dataDir)
	if code != 0 {
		t.Fatalf("user add %s: exit %d: %s", name, code, stderr)
	}
}
