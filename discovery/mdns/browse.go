package mdns

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/grandcat/zeroconf"

	"hubd/devices"
)

// entry is a candidate in the table.
type entry struct {
	c devices.Candidate
	// expire is when the candidate is dropped unless seen again. With the
	// default clock it carries a monotonic reading, so a wall clock set
	// at boot does not expire everything at once.
	expire time.Time
}

// errEndedEarly says zeroconf ended a round on its own (its probing
// failed).
var errEndedEarly = errors.New("mdns: browse round ended early")

// browseLoop browses service in rounds of BrowseInterval until ctx is
// done. Each round is a fresh zeroconf.Browse, whose first queries make
// every device still there answer again. After an error it backs off
// exponentially up to MaxBackoff and logs repeated errors at most once a
// minute; it waits quietly for a usable interface (advertiseLoop logs
// that).
func (s *Service) browseLoop(ctx context.Context, service string) {
	defer s.wg.Done()
	bo := backoff{min: min(minBackoff, s.o.MaxBackoff), max: s.o.MaxBackoff}
	lim := logLimiter{every: logEvery}
	var v6bad string // fingerprint on which IPv6 could not be joined
	for {
		err := s.browseOnce(ctx, service, &v6bad)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			bo.reset()
			continue
		}
		wait := bo.next()
		if errors.Is(err, errNoInterface) {
			wait = min(wait, s.o.CheckInterval)
		} else if n, ok := lim.allow(s.now()); ok {
			s.log.Warn("mdns: browse failed", "service", service, "err", err, "retry_in", wait, "suppressed", n)
		}
		if !sleep(ctx, wait) {
			return
		}
	}
}

// browseOnce runs one browse round of service.
func (s *Service) browseOnce(ctx context.Context, service string, v6bad *string) error {
	nifs := s.usableInterfaces()
	if len(nifs) == 0 {
		return errNoInterface
	}
	ifaces, _, _ := split(nifs)
	v4, v6 := families(nifs)
	fp := fingerprint(nifs)
	if *v6bad == fp {
		v6 = false
	}
	r, err := newResolver(ifaces, v4, v6)
	if err != nil && v4 && v6 {
		// zeroconf fails when either family cannot join (and, when IPv6
		// is the one, leaves its IPv4 socket to the garbage collector):
		// carry on with the family that works, and with IPv4 alone until
		// the interfaces change.
		if r, err = newResolver(ifaces, true, false); err == nil {
			*v6bad = fp
		} else {
			r, err = newResolver(ifaces, false, true)
		}
	}
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, s.o.BrowseInterval)
	defer cancel()
	entries := make(chan *zeroconf.ServiceEntry, 16)
	err = r.Browse(rctx, service, "local.", entries)
	// zeroconf closes entries once rctx is done or it gave up, also after
	// an error, and blocks on sending: always drain.
	for e := range entries {
		s.observe(service, e)
	}
	if err != nil {
		return err
	}
	if rctx.Err() == nil {
		return errEndedEarly
	}
	return nil
}

// families reports whether the interfaces have IPv4 and IPv6 addresses.
func families(nifs []netIface) (v4, v6 bool) {
	for _, n := range nifs {
		for _, ip := range n.addrs {
			if ip.To4() != nil {
				v4 = true
			} else {
				v6 = true
			}
		}
	}
	return v4, v6
}

func newResolver(ifaces []net.Interface, v4, v6 bool) (*zeroconf.Resolver, error) {
	var t zeroconf.IPType
	if v4 {
		t |= zeroconf.IPv4
	}
	if v6 {
		t |= zeroconf.IPv6
	}
	return zeroconf.NewResolver(zeroconf.SelectIfaces(ifaces), zeroconf.SelectIPTraffic(t))
}

// observe records a browse result in the table.
func (s *Service) observe(service string, e *zeroconf.ServiceEntry) {
	if e == nil {
		return
	}
	c := candidateFrom(service, e)
	if c.Instance == "" {
		return
	}
	life := s.o.StaleAfter
	if ttl := time.Duration(e.TTL) * time.Second; ttl > 0 && ttl < life {
		life = ttl
	}
	key := c.Service + "\x00" + c.Instance
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.table[key]; !ok && len(s.table) >= s.o.MaxCandidates {
		s.pruneLocked(now)
		if len(s.table) >= s.o.MaxCandidates {
			if n, ok := s.fullLogged.allow(now); ok {
				s.log.Warn("mdns: candidate table full; ignoring new instances",
					"max", s.o.MaxCandidates, "service", service, "ignored", n+1)
			}
			return
		}
	}
	c.LastSeen = now.Round(0)
	s.table[key] = &entry{c: c, expire: now.Add(life)}
}

// pruneLocked drops the expired candidates.
func (s *Service) pruneLocked(now time.Time) {
	for k, e := range s.table {
		if !now.Before(e.expire) {
			delete(s.table, k)
		}
	}
}

// candidatesLocked returns copies of the live candidates, sorted.
func (s *Service) candidatesLocked(now time.Time) []devices.Candidate {
	s.pruneLocked(now)
	out := make([]devices.Candidate, 0, len(s.table))
	for _, e := range s.table {
		c := e.c
		c.Addresses = slices.Clone(c.Addresses)
		if c.TXT != nil {
			c.TXT = make(map[string]string, len(e.c.TXT))
			for k, v := range e.c.TXT {
				c.TXT[k] = v
			}
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b devices.Candidate) int {
		if c := strings.Compare(a.Service, b.Service); c != 0 {
			return c
		}
		return strings.Compare(a.Instance, b.Instance)
	})
	return out
}

// candidateFrom turns a browse result into a Candidate (without
// LastSeen), treating every name and TXT string as untrusted.
func candidateFrom(service string, e *zeroconf.ServiceEntry) devices.Candidate {
	txt := parseTXT(e.Text)
	return devices.Candidate{
		Instance:  cleanName(e.Instance),
		Service:   service,
		Host:      cleanName(strings.TrimSuffix(e.HostName, ".")),
		Addresses: addrStrings(e.AddrIPv4, e.AddrIPv6),
		Port:      e.Port,
		Model:     modelFrom(service, txt),
		TXT:       txt,
	}
}

// addrStrings returns the distinct usable addresses, IPv4 first, at most
// maxAddrs of them.
func addrStrings(lists ...[]net.IP) []string {
	var as []netip.Addr
	n := 0
	for _, l := range lists {
		for _, ip := range l {
			if n++; n > 16*maxAddrs {
				break
			}
			a, ok := netip.AddrFromSlice(ip)
			if !ok {
				continue
			}
			a = a.Unmap()
			if a.IsUnspecified() || a.IsMulticast() || slices.Contains(as, a) {
				continue
			}
			as = append(as, a)
		}
	}
	slices.SortFunc(as, netip.Addr.Compare)
	if len(as) > maxAddrs {
		as = as[:maxAddrs]
	}
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return out
}
