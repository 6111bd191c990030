package mdns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"hubd/devices"
)

// Defaults for the zero values of Options.
const (
	DefaultBrowseInterval = time.Minute
	DefaultStaleAfter     = 5 * time.Minute
	DefaultCheckInterval  = 30 * time.Second
	DefaultMaxBackoff     = 5 * time.Minute
	DefaultMaxCandidates  = 512
)

// minBackoff is the first wait after an error; it doubles up to
// Options.MaxBackoff.
const minBackoff = time.Second

// DefaultBrowseServices returns the service types browsed when
// Options.BrowseServices is nil: Shelly, ESPHome, HomeKit accessories and
// plain web servers (many devices' only announcement).
func DefaultBrowseServices() []string {
	return []string{"_shelly._tcp", "_esphomelib._tcp", "_hap._tcp", "_http._tcp"}
}

// Options configures a Service. The zero value of each field picks its
// default.
type Options struct {
	// Instance is the DNS-SD instance name of all three services, at most
	// 63 bytes; default "hubd on <Hostname>".
	Instance string
	// Hostname is the host part of the advertised host name
	// <Hostname>.local and of the ui URL; default os.Hostname(). Only its
	// first label is used, keeping letters, digits and '-'.
	Hostname string
	// MQTTPort is the MQTT-over-TCP port, advertised as _mqtt._tcp;
	// 0 = none (then TLSPort must be set).
	MQTTPort int
	// TLSPort is the MQTT-over-TLS port, advertised as _mqtts._tcp;
	// 0 = TLS off.
	TLSPort int
	// HTTPPort is the web UI's port: the _hubd._tcp SRV port and the ui
	// TXT record; 0 = no UI (then _hubd._tcp points at the MQTT port).
	HTTPPort int
	// Version is the version TXT record; default "devel".
	Version string
	// BrowseServices are the service types to browse, e.g. "_shelly._tcp";
	// nil = DefaultBrowseServices(), empty = browse nothing.
	BrowseServices []string
	// Interfaces to advertise and browse on, looked up again by name at
	// every check (so one may appear later); nil = every interface that is
	// up, multicast-capable and has an address (loopback included only
	// when it has multicast on).
	Interfaces []net.Interface
	// Logger receives the Service's logs; nil = discard.
	Logger *slog.Logger
	// Now returns the current time, for LastSeen and expiry; default
	// time.Now.
	Now func() time.Time

	// BrowseInterval is the length of one browse round: each round sends
	// fresh queries, so everything still there is seen again.
	BrowseInterval time.Duration
	// StaleAfter drops a candidate not seen for this long (or sooner, when
	// its TTL says so); at least BrowseInterval.
	StaleAfter time.Duration
	// CheckInterval is how often the interfaces and their addresses are
	// read again, to re-advertise when they changed.
	CheckInterval time.Duration
	// MaxBackoff caps the exponential back-off after errors (and while
	// waiting for a usable interface).
	MaxBackoff time.Duration
	// MaxCandidates bounds the candidate table; announcements of new
	// instances beyond it are dropped.
	MaxCandidates int
}

// Service advertises the hub and keeps the table of devices seen on the
// LAN. It implements devices.NetworkService. Create it with New.
type Service struct {
	o        Options
	log      *slog.Logger
	now      func() time.Time
	instance string // escaped for zeroconf (presentation format)
	host     string // one DNS label, without ".local"
	services []string

	mu         sync.Mutex
	started    bool
	closed     bool
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	table      map[string]*entry
	fullLogged logLimiter

	adv advertiser
	// attempts counts advertising attempts (for tests).
	attempts atomic.Int64
}

var _ devices.NetworkService = (*Service)(nil)

// New returns a Service for o. It does no I/O besides os.Hostname when
// Hostname is empty; Start validates o.
func New(o Options) *Service {
	s := &Service{o: o, table: make(map[string]*entry)}
	s.log = o.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.now = o.Now
	if s.now == nil {
		s.now = time.Now
	}
	if s.o.Hostname == "" {
		s.o.Hostname, _ = os.Hostname()
	}
	if s.o.Version == "" {
		s.o.Version = "devel"
	}
	if s.o.BrowseServices == nil {
		s.o.BrowseServices = DefaultBrowseServices()
	}
	if s.o.BrowseInterval == 0 {
		s.o.BrowseInterval = DefaultBrowseInterval
	}
	if s.o.StaleAfter == 0 {
		s.o.StaleAfter = max(DefaultStaleAfter, s.o.BrowseInterval)
	}
	if s.o.CheckInterval == 0 {
		s.o.CheckInterval = DefaultCheckInterval
	}
	if s.o.MaxBackoff == 0 {
		s.o.MaxBackoff = DefaultMaxBackoff
	}
	if s.o.MaxCandidates == 0 {
		s.o.MaxCandidates = DefaultMaxCandidates
	}
	s.fullLogged = logLimiter{every: time.Minute}
	return s
}

// serviceTypeRE matches a DNS-SD service type: an RFC 6335 service name
// of at most 15 characters and the protocol.
var serviceTypeRE = regexp.MustCompile(`^_[a-z0-9](?:[a-z0-9-]{0,13}[a-z0-9])?\._(?:tcp|udp)$`)

// validate checks the options and derives the names to advertise. Errors
// name the field and value.
func (s *Service) validate() error {
	o := &s.o
	for _, p := range []struct {
		name string
		v    int
	}{{"MQTTPort", o.MQTTPort}, {"TLSPort", o.TLSPort}, {"HTTPPort", o.HTTPPort}} {
		if p.v < 0 || p.v > 65535 {
			return fmt.Errorf("mdns: %s %d: not a port", p.name, p.v)
		}
	}
	if o.MQTTPort == 0 && o.TLSPort == 0 {
		return errors.New("mdns: MQTTPort and TLSPort are both 0: nothing to advertise")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"BrowseInterval", o.BrowseInterval}, {"StaleAfter", o.StaleAfter},
		{"CheckInterval", o.CheckInterval}, {"MaxBackoff", o.MaxBackoff}} {
		if d.v < 0 {
			return fmt.Errorf("mdns: %s %v: negative", d.name, d.v)
		}
	}
	if o.StaleAfter < o.BrowseInterval {
		return fmt.Errorf("mdns: StaleAfter %v is shorter than BrowseInterval %v", o.StaleAfter, o.BrowseInterval)
	}
	if o.MaxCandidates < 0 {
		return fmt.Errorf("mdns: MaxCandidates %d: negative", o.MaxCandidates)
	}
	for _, ifi := range o.Interfaces {
		if ifi.Name == "" {
			return errors.New("mdns: Interfaces: an interface without a name")
		}
	}
	s.services = nil
	seen := map[string]bool{}
	for _, svc := range o.BrowseServices {
		t := strings.ToLower(strings.TrimSuffix(strings.TrimSuffix(svc, "."), ".local"))
		if !serviceTypeRE.MatchString(t) {
			return fmt.Errorf("mdns: BrowseServices %q: not a service type like \"_shelly._tcp\"", svc)
		}
		if !seen[t] {
			seen[t] = true
			s.services = append(s.services, t)
		}
	}

	s.host = hostLabel(o.Hostname)
	if s.host == "" {
		if o.Hostname != "" {
			return fmt.Errorf("mdns: Hostname %q: no letters or digits", o.Hostname)
		}
		s.host = "hubd"
	}
	inst := o.Instance
	if inst == "" {
		inst = truncate("hubd on "+s.host, maxLabel)
	}
	if len(inst) > maxLabel {
		return fmt.Errorf("mdns: Instance %q: longer than %d bytes", inst, maxLabel)
	}
	if strings.ContainsFunc(inst, isControl) || !validUTF8(inst) {
		return fmt.Errorf("mdns: Instance %q: control characters or invalid UTF-8", inst)
	}
	s.instance = escapeLabel(inst)
	return nil
}

// Start validates the options, advertises the hub and starts browsing in
// the background until ctx is done or Close is called. It returns an
// error for invalid options or when registration fails; when no usable
// interface exists yet, it logs that once and keeps trying in the
// background.
func (s *Service) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.closed {
		return errors.New("mdns: Start called twice or after Close")
	}
	if err := s.validate(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	err := s.advertiseOnce()
	if err != nil && !errors.Is(err, errNoInterface) {
		cancel()
		return err
	}
	s.started = true
	s.cancel = cancel
	s.wg.Add(1)
	go s.advertiseLoop(ctx, err == nil)
	for _, svc := range s.services {
		s.wg.Add(1)
		go s.browseLoop(ctx, svc)
	}
	return nil
}

// Close stops browsing and withdraws the hub's services with a goodbye
// (TTL 0) on every interface. It waits for the background work to end
// and may be called more than once.
func (s *Service) Close() {
	s.mu.Lock()
	s.closed = true
	cancel := s.cancel
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	s.wg.Wait()
}

// Candidates returns the devices seen on the network and not yet
// expired, sorted by service then instance. It never fails except when
// ctx is done.
func (s *Service) Candidates(ctx context.Context) ([]devices.Candidate, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.candidatesLocked(s.now()), nil
}

// sleep waits d or until ctx is done, and reports whether ctx is still
// live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
