package mdns

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/grandcat/zeroconf"
)

// errNoInterface says no interface is up, multicast-capable and
// addressed yet: a state to wait out, not a failure.
var errNoInterface = errors.New("mdns: no usable network interface")

// netIface is a usable interface with the addresses to advertise on it.
type netIface struct {
	ifi   net.Interface
	addrs []net.IP
}

// usableInterfaces returns the interfaces to work on now: Options.Interfaces
// looked up again by name, or every interface, keeping those that are up,
// multicast-capable and have an address.
func (s *Service) usableInterfaces() []netIface {
	var list []net.Interface
	if s.o.Interfaces == nil {
		all, err := net.Interfaces()
		if err != nil {
			return nil
		}
		list = all
	} else {
		for _, want := range s.o.Interfaces {
			if ifi, err := net.InterfaceByName(want.Name); err == nil {
				list = append(list, *ifi)
			}
		}
	}
	var out []netIface
	for _, ifi := range list {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagMulticast == 0 {
			continue
		}
		if addrs := interfaceAddrs(ifi); len(addrs) > 0 {
			out = append(out, netIface{ifi: ifi, addrs: addrs})
		}
	}
	return out
}

// interfaceAddrs returns ifi's IPv4 addresses, then its global IPv6
// addresses (or, when it has none, its link-local ones). Loopback
// addresses count only on a loopback interface.
func interfaceAddrs(ifi net.Interface) []net.IP {
	as, err := ifi.Addrs()
	if err != nil {
		return nil
	}
	loopback := ifi.Flags&net.FlagLoopback != 0
	var v4, v6, v6ll []net.IP
	for _, a := range as {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip := ipn.IP
		switch {
		case ip.IsLoopback() && !loopback, ip.IsUnspecified(), ip.IsMulticast():
		case ip.To4() != nil:
			v4 = append(v4, ip.To4())
		case ip.IsLinkLocalUnicast():
			v6ll = append(v6ll, ip)
		default:
			v6 = append(v6, ip)
		}
	}
	if len(v6) == 0 {
		v6 = v6ll
	}
	return append(v4, v6...)
}

// fingerprint identifies a set of interfaces and addresses, to notice a
// change.
func fingerprint(nifs []netIface) string {
	var b strings.Builder
	for _, n := range nifs {
		fmt.Fprintf(&b, "%d/%s:", n.ifi.Index, n.ifi.Name)
		for _, ip := range n.addrs {
			b.WriteString(ip.String())
			b.WriteByte(',')
		}
		b.WriteByte(';')
	}
	return b.String()
}

// split returns the interfaces, their names and all their addresses.
func split(nifs []netIface) (ifaces []net.Interface, names, ips []string) {
	for _, n := range nifs {
		ifaces = append(ifaces, n.ifi)
		names = append(names, n.ifi.Name)
		for _, ip := range n.addrs {
			if s := ip.String(); !slices.Contains(ips, s) {
				ips = append(ips, s)
			}
		}
	}
	return ifaces, names, ips
}

// record is one service the hub advertises.
type record struct {
	service string
	port    int
	txt     []string
}

// records returns the hub's services: _mqtt._tcp, _mqtts._tcp when TLS
// is on, and _hubd._tcp with its TXT records (in zeroconf's escaped
// form).
func (s *Service) records() []record {
	var rs []record
	if s.o.MQTTPort > 0 {
		rs = append(rs, record{"_mqtt._tcp", s.o.MQTTPort, []string{""}})
	}
	if s.o.TLSPort > 0 {
		rs = append(rs, record{"_mqtts._tcp", s.o.TLSPort, []string{""}})
	}
	txt := []string{truncate("version="+s.o.Version, maxValue)}
	if s.o.HTTPPort > 0 {
		txt = append(txt, "ui=http://"+s.host+".local:"+strconv.Itoa(s.o.HTTPPort)+"/")
	}
	if s.o.MQTTPort > 0 {
		txt = append(txt, "mqtt="+strconv.Itoa(s.o.MQTTPort))
	}
	if s.o.TLSPort > 0 {
		txt = append(txt, "mqtts="+strconv.Itoa(s.o.TLSPort))
	}
	for i := range txt {
		txt[i] = escapeTXT(txt[i])
	}
	port := cmp.Or(s.o.HTTPPort, s.o.MQTTPort, s.o.TLSPort)
	return append(rs, record{"_hubd._tcp", port, txt})
}

// advertiser holds the zeroconf servers currently registered.
type advertiser struct {
	mu      sync.Mutex
	servers []*zeroconf.Server
	print   string   // fingerprint of what servers advertise on
	names   []string // their interfaces' names
	waiting bool     // "no usable interface" was logged
}

// shutdownLocked withdraws every service (zeroconf sends the goodbye).
func (a *advertiser) shutdownLocked() {
	for _, srv := range a.servers {
		srv.Shutdown()
	}
	a.servers, a.print, a.names = nil, "", nil
}

// advertisedOn returns the names of the interfaces the hub is advertised
// on now.
func (s *Service) advertisedOn() []string {
	s.adv.mu.Lock()
	defer s.adv.mu.Unlock()
	return slices.Clone(s.adv.names)
}

// advertiseOnce makes the registrations match the usable interfaces:
// nothing to do when they did not change, re-registration when they did,
// errNoInterface (logged once until an interface appears) when there is
// none.
func (s *Service) advertiseOnce() error {
	s.attempts.Add(1)
	nifs := s.usableInterfaces()
	a := &s.adv
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(nifs) == 0 {
		if len(a.servers) > 0 {
			a.shutdownLocked()
		}
		if !a.waiting {
			a.waiting = true
			s.log.Warn("mdns: no usable network interface yet; will keep trying",
				"interfaces", s.wantedNames())
		}
		return errNoInterface
	}
	a.waiting = false
	fp := fingerprint(nifs)
	if fp == a.print && len(a.servers) > 0 {
		return nil
	}
	a.shutdownLocked()
	ifaces, names, ips := split(nifs)
	var services []string
	for _, r := range s.records() {
		srv, err := zeroconf.RegisterProxy(s.instance, r.service, "local.", r.port, s.host, ips, r.txt, ifaces)
		if err != nil {
			a.shutdownLocked()
			return fmt.Errorf("mdns: advertise %s on %s: %w", r.service, strings.Join(names, ","), err)
		}
		a.servers = append(a.servers, srv)
		services = append(services, r.service+":"+strconv.Itoa(r.port))
	}
	a.print, a.names = fp, names
	s.log.Info("mdns: advertising", "instance", unescape(s.instance), "host", s.host+".local",
		"services", services, "interfaces", names, "addresses", ips)
	return nil
}

// wantedNames describes Options.Interfaces for logs.
func (s *Service) wantedNames() string {
	if s.o.Interfaces == nil {
		return "all"
	}
	var names []string
	for _, ifi := range s.o.Interfaces {
		names = append(names, ifi.Name)
	}
	return strings.Join(names, ",")
}

// advertiseLoop re-checks the interfaces every CheckInterval and
// re-advertises when they changed; after an error it backs off
// exponentially up to MaxBackoff (CheckInterval while merely waiting for
// an interface), logging repeated errors at most once a minute. It
// withdraws the services when ctx is done.
func (s *Service) advertiseLoop(ctx context.Context, ok bool) {
	defer s.wg.Done()
	defer func() {
		s.adv.mu.Lock()
		s.adv.shutdownLocked()
		s.adv.mu.Unlock()
	}()
	bo := backoff{min: min(minBackoff, s.o.MaxBackoff), max: s.o.MaxBackoff}
	lim := logLimiter{every: logEvery}
	wait := s.o.CheckInterval
	if !ok {
		wait = min(bo.next(), s.o.CheckInterval)
	}
	for sleep(ctx, wait) {
		err := s.advertiseOnce()
		switch {
		case err == nil:
			bo.reset()
			wait = s.o.CheckInterval
		case errors.Is(err, errNoInterface):
			wait = min(bo.next(), s.o.CheckInterval)
		default:
			wait = bo.next()
			if n, ok := lim.allow(s.now()); ok {
				s.log.Error("mdns: advertising failed", "err", err, "retry_in", wait, "suppressed", n)
			}
		}
	}
}
