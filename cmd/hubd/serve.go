package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"syscall"
	"time"

	"hubd/hub"
	"hubd/hub/auth"
	"hubd/hub/listener"
)

// errFlagHelp is returned when -h was asked for; it exits 0.
var errFlagHelp = flag.ErrHelp

// Main runs the hub: it reads configuration, opens the hub, reports to
// systemd, reloads on SIGHUP and on a changed config file, and shuts down
// when its context ends.
type Main struct {
	Config     Config
	ConfigPath string
	// PprofAddr, if set, serves net/http/pprof there (for profiling; bind
	// it to loopback).
	PprofAddr string

	stdout, stderr io.Writer
	log            *slog.Logger
	hub            *hub.Hub
	notifier       *notifier

	// configMod is the config file's modification time when last read.
	configMod time.Time
}

// NewMain returns a Main that prints to stdout and logs to stderr.
func NewMain(stdout, stderr io.Writer) *Main {
	return &Main{Config: DefaultConfig(), stdout: stdout, stderr: stderr}
}

// commonFlags are accepted by every command that touches the data.
type commonFlags struct {
	config  string
	dataDir string
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.config, "config", "", "configuration `file` (YAML)")
	fs.StringVar(&c.dataDir, "data-dir", "", "data `directory` (overrides the file)")
}

// load reads the config file if one was named, then applies the data-dir
// flag and the environment's default data directory.
func (c *commonFlags) load(set map[string]bool) (Config, error) {
	cfg := DefaultConfig()
	if c.config != "" {
		var err error
		if cfg, err = LoadConfigFile(c.config); err != nil {
			return cfg, &exitCodeError{code: 2, err: err}
		}
	}
	if set["data-dir"] {
		cfg.DataDir = c.dataDir
	} else if cfg.DataDir == DefaultConfig().DataDir {
		cfg.DataDir = defaultDataDir(cfg.DataDir)
	}
	return cfg, nil
}

// defaultDataDir picks the data directory when neither the file nor a flag
// names one: systemd's StateDirectory, /var/lib/hubd for the hubd system
// user, else def (./hubd-data).
func defaultDataDir(def string) string {
	if d := os.Getenv("STATE_DIRECTORY"); d != "" {
		return filepath.SplitList(d)[0]
	}
	if u, err := user.Current(); err == nil && u.Username == "hubd" {
		return "/var/lib/hubd"
	}
	return def
}

// ParseFlags reads the command line and the configuration it names.
// Flags override the file; the file overrides defaults.
func (m *Main) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("hubd serve", flag.ContinueOnError)
	fs.SetOutput(m.stderr)
	var common commonFlags
	common.register(fs)
	mqttAddr := fs.String("mqtt-addr", "", "MQTT TCP listen `address` (empty disables)")
	wsAddr := fs.String("ws-addr", "", "MQTT over WebSocket listen `address` (empty disables)")
	tlsAddr := fs.String("tls-addr", "", "MQTT over TLS listen `address` (empty disables)")
	httpAddr := fs.String("http-addr", "", "HTTP listen `address` (empty disables)")
	logFormat := fs.String("log-format", "", "log format: text or json")
	logLevel := fs.String("log-level", "", "log level: debug, info, warn or error")
	mdnsOn := fs.Bool("mdns", true, "advertise the hub and browse for devices over mDNS (overrides discovery.mdns)")
	fs.StringVar(&m.PprofAddr, "pprof-addr", "", "serve Go profiling endpoints on this `address` (off by default; use loopback)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &exitCodeError{code: 2, err: err}
	}
	if fs.NArg() > 0 {
		return usageError("serve: unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	cfg, err := common.load(set)
	if err != nil {
		return err
	}
	if set["mqtt-addr"] {
		cfg.MQTT.Addr = *mqttAddr
	}
	if set["ws-addr"] {
		cfg.WebSocket.Addr = *wsAddr
	}
	if set["tls-addr"] {
		cfg.TLS.Addr = *tlsAddr
	}
	if set["http-addr"] {
		cfg.HTTP.Addr = *httpAddr
	}
	if set["log-format"] {
		cfg.Log.Format = *logFormat
	}
	if set["log-level"] {
		cfg.Log.Level = *logLevel
	}
	if set["mdns"] {
		cfg.Discovery.MDNS = *mdnsOn
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		return &exitCodeError{code: 2, err: errs}
	}
	m.Config, m.ConfigPath = cfg, common.config
	if st, err := os.Stat(common.config); err == nil {
		m.configMod = st.ModTime()
	}
	return nil
}

// Run opens the hub and serves until ctx ends, then shuts down within
// ten seconds.
func (m *Main) Run(ctx context.Context) error {
	m.log = newLogger(m.stderr, m.Config.Log)
	opts, err := m.Config.HubOptions()
	if err != nil {
		return err
	}
	opts.Logger = m.log
	opts.Version = Version()
	if opts.Inherited, err = listener.Activated(); err != nil {
		return fmt.Errorf("socket activation: %w", err)
	}

	if m.PprofAddr != "" {
		stop, err := servePprof(m.PprofAddr, m.log)
		if err != nil {
			return err
		}
		defer stop()
	}

	m.notifier = newNotifier(m.log)
	m.notifier.status("opening database and listeners")
	m.hub = hub.New(opts)
	if err := m.hub.Open(ctx); err != nil {
		return err
	}
	if err := m.ensureAdmin(ctx); err != nil {
		m.hub.Close()
		return err
	}
	m.notifier.ready(fmt.Sprintf("serving MQTT on %s", addrOrOff(m.hub, "mqtt")))
	m.log.Info("hubd started", "version", Version(), "mqtt", addrOrOff(m.hub, "mqtt"),
		"websocket", addrOrOff(m.hub, "ws"), "tls", addrOrOff(m.hub, "tls"), "http", addrOrOff(m.hub, "http"))

	runCtx, stopLoops := context.WithCancel(ctx)
	loops := make(chan struct{})
	go func() {
		defer close(loops)
		m.serveLoops(runCtx)
	}()

	<-ctx.Done()
	stopLoops()
	<-loops
	m.notifier.stopping()
	m.log.Info("hubd stopping")
	done := make(chan error, 1)
	go func() { done <- m.hub.Close() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("shutdown: %w", err)
		}
		m.log.Info("hubd stopped")
		return nil
	case <-time.After(10 * time.Second):
		return errors.New("shutdown took longer than 10s")
	}
}

func addrOrOff(h *hub.Hub, name string) string {
	if a := h.Addr(name); a != nil {
		return a.String()
	}
	return "off"
}

// serveLoops runs the watchdog and the reload triggers until ctx ends.
func (m *Main) serveLoops(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	var watchdog <-chan time.Time
	if every := m.notifier.watchdogInterval(); every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		watchdog = t.C
	}
	poll := time.NewTicker(2 * time.Second)
	defer poll.Stop()

	for {
		select {
		case <-ctx.Done():
			return
		case <-watchdog:
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := m.hub.Check(cctx)
			cancel()
			if err != nil {
				m.log.Error("health check failed; not feeding the watchdog", "error", err)
				continue
			}
			m.notifier.watchdog()
		case <-hup:
			m.reload("SIGHUP")
		case <-poll.C:
			if m.ConfigPath == "" {
				continue
			}
			if st, err := os.Stat(m.ConfigPath); err == nil && !st.ModTime().Equal(m.configMod) {
				m.configMod = st.ModTime()
				m.reload("config file changed")
			}
		}
	}
}

// reload re-reads the configuration file and applies what can change
// while running: the access rules. Users are read from the database on
// every connection, so they need no reload.
func (m *Main) reload(why string) {
	if m.ConfigPath == "" {
		m.log.Info("reload: no configuration file; nothing to reload", "trigger", why)
		return
	}
	cfg, err := LoadConfigFile(m.ConfigPath)
	if err != nil {
		m.log.Error("reload: configuration rejected, keeping the running one", "trigger", why, "error", err)
		return
	}
	opts, err := cfg.HubOptions()
	if err == nil {
		err = m.hub.SetACL(opts.ACL)
	}
	if err != nil {
		m.log.Error("reload: access rules rejected, keeping the running ones", "trigger", why, "error", err)
		return
	}
	m.log.Info("configuration reloaded", "trigger", why, "file", m.ConfigPath)
}

// initialPasswordFile holds the first admin password, readable by its
// owner only, for installs where nobody watched the first start.
const initialPasswordFile = "initial-admin-password"

// ensureAdmin creates the "admin" user with a random password on a hub
// that has no users yet, and prints the password once.
func (m *Main) ensureAdmin(ctx context.Context) error {
	n, err := m.hub.Users.Count(ctx)
	if err != nil {
		return fmt.Errorf("count users: %w", err)
	}
	if n > 0 {
		return nil
	}
	pw, err := auth.GeneratePassword()
	if err != nil {
		return err
	}
	if _, err := m.hub.Users.Add(ctx, "admin", auth.RoleAdmin, pw); err != nil {
		return fmt.Errorf("create admin user: %w", err)
	}
	path := filepath.Join(m.Config.DataDir, initialPasswordFile)
	if err := os.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil {
		m.log.Warn("could not save the initial admin password", "path", path, "error", err)
	}
	fmt.Fprintf(m.stdout, "Created user \"admin\" with password: %s\n(also saved in %s; shown only once)\n", pw, path)
	m.log.Info("created the first user \"admin\"; its password was printed on standard output", "password_file", path)
	return nil
}

func newLogger(w io.Writer, c LogConfig) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
