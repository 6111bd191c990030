package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// BrokerSpec is one broker configuration under test.
type BrokerSpec struct {
	// Name is a short identifier ("hubd", "mosq").
	Name string
	// Label names the configuration in the report.
	Label string
	// Kind is "hubd" or "mosquitto".
	Kind string
	// Bin is the broker's executable.
	Bin string
	// Persistence turns Mosquitto's persistence on. (hubd always persists.)
	Persistence bool
	// CommitInterval sets hubd's mqtt.commit_interval; "" keeps the default.
	CommitInterval string
	// MaxQueued is max_queued_messages, for both brokers.
	MaxQueued int
}

// Broker is a running broker process.
type Broker struct {
	Spec BrokerSpec
	// Dir holds its configuration, data and log.
	Dir string
	// Addr is its MQTT listener; PprofAddr hubd's profiling endpoint, if on.
	Addr, PprofAddr string
	// Started is how long it took from exec to the first accepted CONNECT.
	Started time.Duration

	cmd    *exec.Cmd
	log    *os.File
	exited chan error
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// writeConfig writes the broker's configuration file into dir for the
// listener port and returns its path and the command-line arguments.
func (s BrokerSpec) writeConfig(dir string, port, pprofPort int) (args []string, err error) {
	path := filepath.Join(dir, "broker.conf")
	var conf string
	switch s.Kind {
	case "hubd":
		ci := ""
		if s.CommitInterval != "" {
			ci = "  commit_interval: " + s.CommitInterval + "\n"
		}
		conf = fmt.Sprintf(`# hubbench: hubd on loopback, anonymous clients allowed on bench/#.
data_dir: %q
log:
  level: warn
mqtt:
  addr: "127.0.0.1:%d"
  allow_anonymous: true
  max_queued_messages: %d
%swebsocket:
  addr: ""
tls:
  addr: ""
http:
  addr: ""
acl:
  - role: anonymous
    topic: "bench/#"
    access: readwrite
`, filepath.Join(dir, "data"), port, s.MaxQueued, ci)
		args = []string{"serve", "--config", path}
		if pprofPort > 0 {
			args = append(args, "--pprof-addr", fmt.Sprintf("127.0.0.1:%d", pprofPort))
		}
	case "mosquitto":
		data := filepath.Join(dir, "data") + "/"
		if err := os.MkdirAll(data, 0o700); err != nil {
			return nil, err
		}
		var b strings.Builder
		b.WriteString("# hubbench: Mosquitto on loopback, anonymous clients allowed.\n")
		fmt.Fprintf(&b, "listener %d 127.0.0.1\nallow_anonymous true\n", port)
		fmt.Fprintf(&b, "persistence %v\npersistence_location %s\n", s.Persistence, data)
		fmt.Fprintf(&b, "max_queued_messages %d\n", s.MaxQueued)
		b.WriteString("log_dest stderr\nlog_type error\nlog_type warning\n")
		// Run as whoever runs the benchmark, like hubd (Mosquitto started
		// as root would otherwise switch to its own user).
		if u, err := user.Current(); err == nil {
			fmt.Fprintf(&b, "user %s\n", u.Username)
		}
		conf = b.String()
		args = []string{"-c", path}
	default:
		return nil, fmt.Errorf("unknown broker kind %q", s.Kind)
	}
	return args, os.WriteFile(path, []byte(conf), 0o600)
}

// StartBroker starts spec in dir (created if needed; an existing store in
// it is used) and waits until it accepts a connection. With pprof, hubd
// also serves its profiling endpoints.
func StartBroker(ctx context.Context, spec BrokerSpec, dir string, pprof bool) (*Broker, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	pprofPort := 0
	if pprof && spec.Kind == "hubd" {
		if pprofPort, err = freePort(); err != nil {
			return nil, err
		}
	}
	args, err := spec.writeConfig(dir, port, pprofPort)
	if err != nil {
		return nil, err
	}
	b := &Broker{Spec: spec, Dir: dir, Addr: fmt.Sprintf("127.0.0.1:%d", port), exited: make(chan error, 1)}
	if pprofPort > 0 {
		b.PprofAddr = fmt.Sprintf("127.0.0.1:%d", pprofPort)
	}
	if b.log, err = os.OpenFile(filepath.Join(dir, "broker.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		return nil, err
	}
	b.cmd = exec.Command(spec.Bin, args...)
	b.cmd.Stdout, b.cmd.Stderr = b.log, b.log
	b.cmd.Dir = dir
	// The broker dies with us, whatever happens to us.
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := b.cmd.Start(); err != nil {
		b.log.Close()
		return nil, fmt.Errorf("start %s: %w", spec.Label, err)
	}
	go func() { b.exited <- b.cmd.Wait() }()

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case err := <-b.exited:
			b.exited <- err // for Stop
			cancel()
		case <-wctx.Done():
		}
	}()
	if b.Started, err = waitAccepting(wctx, b.Addr, start, 30*time.Second); err != nil {
		b.Kill()
		return nil, fmt.Errorf("%s did not start: %w\n%s", spec.Label, err, b.LogTail())
	}
	return b, nil
}

// Pid returns the broker's process id.
func (b *Broker) Pid() int { return b.cmd.Process.Pid }

// RSS returns the broker's resident set size in bytes (VmRSS).
func (b *Broker) RSS() (int64, error) { return procRSS(b.Pid()) }

// CPU returns the processor time (user plus system) the broker used so
// far.
func (b *Broker) CPU() (time.Duration, error) { return procCPU(b.Pid()) }

// procRSS returns the resident set size of process pid in bytes (VmRSS
// in /proc/PID/status).
func procRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}

// procCPU returns the processor time (user plus system) process pid used
// so far.
func procCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the parenthesised command name; utime and stime are
	// fields 14 and 15 of the whole line.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / ticks, nil
}

// Stop asks the broker to stop (SIGTERM) and waits for a clean exit.
func (b *Broker) Stop() error {
	defer b.log.Close()
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case err := <-b.exited:
		b.exited <- err
		if err != nil {
			return fmt.Errorf("%s exited: %w\n%s", b.Spec.Label, err, b.LogTail())
		}
		return nil
	case <-time.After(20 * time.Second):
		b.cmd.Process.Kill()
		return fmt.Errorf("%s did not stop within 20s of SIGTERM", b.Spec.Label)
	}
}

// Kill stops the broker at once.
func (b *Broker) Kill() {
	b.cmd.Process.Kill()
	err := <-b.exited
	b.exited <- err
	b.log.Close()
}

// LogTail returns the end of the broker's log.
func (b *Broker) LogTail() string {
	data, _ := os.ReadFile(filepath.Join(b.Dir, "broker.log"))
	if len(data) > 2000 {
		data = data[len(data)-2000:]
	}
	return string(bytes.TrimSpace(data))
}
