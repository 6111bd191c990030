package listener

import (
	"bufio"
	"bytes"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// helperEnv makes the test binary act as a socket-activated process in
// TestActivatedHelper.
const helperEnv = "HUBD_LISTENER_ACTIVATED_HELPER"

func TestActivated(t *testing.T) {
	t.Run("NotActivated", func(t *testing.T) {
		t.Setenv("LISTEN_PID", "")
		t.Setenv("LISTEN_FDS", "")
		t.Setenv("LISTEN_FDNAMES", "")
		m, err := Activated()
		if err != nil {
			t.Fatal(err)
		}
		if m == nil || len(m) != 0 {
			t.Fatalf("Activated() = %v, want an empty map", m)
		}
	})

	// The sockets are really passed, as systemd would: fds 3 and up in a
	// child process, described by LISTEN_* variables.
	for _, tt := range []struct {
		name    string
		fdnames string
		order   []string // endpoint whose socket is passed at fd 3, 4, ...
	}{
		{"Named", "ws:mqtt", []string{"ws", "mqtt"}},
		{"Unnamed", "hubd.socket:hubd.socket", []string{"mqtt", "ws"}},
		{"NoFDNames", "", []string{"mqtt", "ws"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want := make(map[string]string)
			var files []*os.File
			for _, name := range tt.order {
				l := MustListen(t)
				f, err := l.(*net.TCPListener).File()
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				files = append(files, f)
				want[name] = l.Addr().String()
			}

			got := runActivatedHelper(t, files, tt.fdnames)
			if len(got) != len(want) {
				t.Fatalf("Activated() = %v, want %v", got, want)
			}
			for name, addr := range want {
				if got[name] != addr {
					t.Fatalf("Activated() = %v, want %v", got, want)
				}
			}
		})
	}
}

// runActivatedHelper runs TestActivatedHelper in a child process that
// inherits files as fds 3, 4, ... and returns the address of each listener
// Activated found there, by endpoint name.
func runActivatedHelper(tb testing.TB, files []*os.File, fdnames string) map[string]string {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestActivatedHelper$", "-test.count=1")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LISTEN_") && !strings.HasPrefix(kv, "GORACE=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	// A race-enabled child would otherwise pause a second on exit.
	cmd.Env = append(cmd.Env, "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	cmd.Env = append(cmd.Env, helperEnv+"=1", "LISTEN_FDS="+strconv.Itoa(len(files)))
	if fdnames != "" {
		cmd.Env = append(cmd.Env, "LISTEN_FDNAMES="+fdnames)
	}
	cmd.ExtraFiles = files
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("helper: %v\n%s", err, out)
	}

	got := make(map[string]string)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 3 && f[0] == "activated":
			got[f[1]] = f[2]
		case len(f) > 0 && f[0] == "error":
			tb.Fatalf("helper: %s", sc.Text())
		}
	}
	return got
}

// TestActivatedHelper is not a test: runActivatedHelper runs it in a child
// process, where it prints what Activated returns.
func TestActivatedHelper(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		return
	}
	// systemd sets LISTEN_PID to the pid it started; only the child
	// itself knows that.
	os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	m, err := Activated()
	if err != nil {
		fmt.Println("error", err)
		return
	}
	for _, k := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		if v, ok := os.LookupEnv(k); ok {
			fmt.Printf("error %s=%q still set\n", k, v)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(m)) {
		fmt.Println("activated", name, m[name].Addr())
		m[name].Close()
	}
}

func TestActivationKeys(t *testing.T) {
	for _, tt := range []struct {
		name  string
		names []string
		want  []string
		err   string
	}{
		{"Named", []string{"ws", "mqtt", "http", "tls"}, []string{"ws", "mqtt", "http", "tls"}, ""},
		{"Unnamed", []string{"hubd.socket", "hubd.socket"}, []string{"mqtt", "ws"}, ""},
		{"UnnamedFour", []string{"LISTEN_FD_3", "LISTEN_FD_4", "LISTEN_FD_5", "LISTEN_FD_6"}, []string{"mqtt", "ws", "tls", "http"}, ""},
		{"ErrUnnamedFive", []string{"a", "a", "a", "a", "a"}, nil, "socket activation: 5 unnamed sockets, but only 4 (mqtt, ws, tls, http) can be assigned by position; set FileDescriptorName"},
		{"ErrDuplicate", []string{"mqtt", "ws", "mqtt"}, nil, `socket activation: more than one socket named "mqtt"; give each socket its own FileDescriptorName (mqtt, ws, tls, http)`},
		{"ErrMixed", []string{"mqtt", "hubd-ws.socket"}, nil, `socket activation: socket "hubd-ws.socket" has no endpoint name while others do; set FileDescriptorName to one of mqtt, ws, tls, http on every socket, or on none`},
		{"ErrCase", []string{"MQTT", "ws"}, nil, `socket activation: socket "MQTT" has no endpoint name while others do; set FileDescriptorName to one of mqtt, ws, tls, http on every socket, or on none`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := activationKeys(tt.names)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("activationKeys(%q) error = %v, want %q", tt.names, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("activationKeys(%q) = %q, want %q", tt.names, got, tt.want)
			}
		})
	}
}
