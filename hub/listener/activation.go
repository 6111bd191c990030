package listener

import (
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/coreos/go-systemd/v22/activation"
)

// listenFDsStart is the first fd systemd passes (SD_LISTEN_FDS_START).
const listenFDsStart = 3

// endpoints are the names Activated keys listeners by, in the order unnamed
// sockets are given them.
var endpoints = []string{"mqtt", "ws", "tls", "http"}

// Activated returns the listeners passed by systemd socket activation, keyed
// by endpoint name ("mqtt", "ws", "tls", "http"), ready for Bind. It returns
// an empty map, not an error, when the process was not socket-activated.
//
// Name each socket with FileDescriptorName=mqtt (or ws, tls, http) in its
// .socket unit; one socket per name (ListenStream=1883 alone covers IPv4 and
// IPv6). A socket systemd passes without one of these names (systemd then
// uses the unit's name, such as "hubd.socket") counts as unnamed, and the
// rule is all or nothing:
//
//   - every socket named: each is keyed by its name; a name used twice is an
//     error;
//   - no socket named: they are keyed by position, in the order systemd
//     passes them (for one unit, the order of its ListenStream= lines):
//     mqtt, ws, tls, http; more than four is an error;
//   - some named and some not: an error, since guessing would serve MQTT on
//     the wrong port.
//
// Activated also unsets LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES so that
// child processes do not inherit them, so only the first call finds the
// sockets. On error every inherited socket is closed.
func Activated() (map[string]net.Listener, error) {
	files := activation.Files(true)
	m := make(map[string]net.Listener, len(files))
	if len(files) == 0 {
		return m, nil
	}

	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.Name()
	}
	keys, err := activationKeys(names)
	for i, f := range files {
		if err == nil {
			var l net.Listener
			if l, err = net.FileListener(f); err != nil {
				err = fmt.Errorf("socket activation: fd %d (%s) is not a stream listener: %w", listenFDsStart+i, names[i], err)
			} else {
				m[keys[i]] = l
			}
		}
		_ = f.Close() // FileListener made its own copy
	}
	if err != nil {
		for _, l := range m {
			_ = l.Close()
		}
		return nil, err
	}
	return m, nil
}

// activationKeys applies Activated's naming rule to the names of the passed
// sockets, returning the endpoint name for each.
func activationKeys(names []string) ([]string, error) {
	known := make(map[string]bool, len(endpoints))
	for _, e := range endpoints {
		known[e] = true
	}
	var named, unnamed []string
	for _, n := range names {
		if known[n] {
			named = append(named, n)
		} else {
			unnamed = append(unnamed, n)
		}
	}
	list := strings.Join(endpoints, ", ")

	switch {
	case len(unnamed) == 0:
		seen := make(map[string]bool, len(names))
		for _, n := range names {
			if seen[n] {
				return nil, fmt.Errorf("socket activation: more than one socket named %q; give each socket its own FileDescriptorName (%s)", n, list)
			}
			seen[n] = true
		}
		return names, nil
	case len(named) == 0:
		if len(names) > len(endpoints) {
			return nil, fmt.Errorf("socket activation: %d unnamed sockets, but only %d (%s) can be assigned by position; set FileDescriptorName", len(names), len(endpoints), list)
		}
		return slices.Clone(endpoints[:len(names)]), nil
	default:
		return nil, fmt.Errorf("socket activation: socket %q has no endpoint name while others do; set FileDescriptorName to one of %s on every socket, or on none", unnamed[0], list)
	}
}
