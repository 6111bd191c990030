package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// suiteConfig is what the suite is told on its command line.
type suiteConfig struct {
	HubdBin, MosqBin string
	// Out is the results directory; Date names the files written there.
	Out, Date string
	// Reps is how many times each scenario runs on each broker; Restarts
	// how many timed restarts the start-up scenario makes of each.
	Reps, Restarts int
	// Quick shrinks every scenario, to try the runner.
	Quick bool
	// Micro names a file of "go test -bench" output to include.
	Micro string
	// Go is the go command, for "go tool pprof".
	Go string
	// Keep keeps the brokers' data directories.
	Keep bool
	// Since is when the whole benchmark (build included) began, if known.
	Since time.Time
}

// params sizes the scenarios.
type params struct {
	FanInPubs, FanInCount int
	FanInDuration         time.Duration
	Size                  int
	Window, Flow          int
	FanOutSubs            int
	FanOutCount           int
	FanOutDuration        time.Duration
	IdleSteps             []int
	QueueTotal, QueuePubs int
	QueueReconnectDelay   time.Duration
	Retained, Sessions    int
	ProfileDuration       time.Duration
	ProfileCPU            time.Duration
}

func defaultParams(quick bool) params {
	p := params{
		FanInPubs: 10, FanInCount: 50000, FanInDuration: 3 * time.Second,
		Size: 64, Window: 10, Flow: 20,
		FanOutSubs: 100, FanOutCount: 5000, FanOutDuration: 3 * time.Second,
		IdleSteps:  []int{1000, 5000},
		QueueTotal: 10000, QueuePubs: 50, QueueReconnectDelay: 500 * time.Millisecond,
		Retained: 10000, Sessions: 1000,
		ProfileDuration: 7 * time.Second, ProfileCPU: 4 * time.Second,
	}
	if quick {
		p.FanInCount, p.FanInDuration = 2000, 500*time.Millisecond
		p.FanOutSubs, p.FanOutCount, p.FanOutDuration = 20, 200, 500*time.Millisecond
		p.IdleSteps = []int{100, 500}
		p.QueueTotal, p.QueuePubs = 1000, 10
		p.Retained, p.Sessions = 1000, 100
		p.ProfileDuration, p.ProfileCPU = 3*time.Second, time.Second
	}
	return p
}

// Scenario ids, in report order.
const (
	scQoS0     = "qos0-fanin"
	scQoS1     = "qos1-fanin"
	scQoS2     = "qos2-fanin"
	scFanOut   = "fanout"
	scIdle     = "idle"
	scQueue    = "queue"
	scStartup  = "startup"
	scStartup0 = "startup-empty"
)

// runResult is one scenario run on one broker.
type runResult struct {
	Scenario, Broker string
	Rep              int
	Metrics          map[string]float64
	Lat              Percentiles
	// QoS is the delivery guarantee checked: -1 for none.
	QoS              int
	Sent, Lost, Dups int64
	// Load is the machine's 1-minute load average when the run ended.
	Load string
}

// suite runs every scenario against every broker configuration.
type suite struct {
	cfg   suiteConfig
	p     params
	specs map[string]BrokerSpec
	// names lists the broker configurations in report order.
	names []string
	work  string
	// template holds an initialised, empty hubd store that each fresh
	// hubd start gets a copy of.
	template string
	out      io.Writer

	results  []runResult
	starts   map[string][]float64 // fresh (empty-store) start-up times, ms
	failures []string
	profiles []profileResult
	idleProf *idleProfile
	seeding  map[string]string // how the start-up stores were made
	verify   map[string]string // what the restored stores held
	env      map[string]string
	began    time.Time
}

func cmdSuite(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hubbench suite", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c suiteConfig
	fs.StringVar(&c.HubdBin, "hubd", "bin/hubd", "hubd `binary` (a release build)")
	fs.StringVar(&c.MosqBin, "mosquitto", "mosquitto", "mosquitto `binary`")
	fs.StringVar(&c.Out, "out", "bench/results", "results `directory`")
	fs.StringVar(&c.Date, "date", time.Now().UTC().Format("2006-01-02"), "names the report: DIR/DATE.md, DIR/DATE.svg")
	fs.IntVar(&c.Reps, "reps", 3, "repetitions of each scenario on each broker (the report shows medians)")
	fs.IntVar(&c.Restarts, "restarts", 5, "timed restarts of each broker in the start-up scenario")
	fs.BoolVar(&c.Quick, "quick", false, "small scenarios, to try the runner")
	fs.StringVar(&c.Micro, "micro", "", "`file` of go test -bench output to include in the report")
	fs.StringVar(&c.Go, "go", "go", "go command, for go tool pprof")
	fs.BoolVar(&c.Keep, "keep", false, "keep the brokers' data directories")
	since := fs.Int64("since", 0, "Unix `time` the benchmark began (build included), for the report")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *since > 0 {
		c.Since = time.Unix(*since, 0)
	}
	if c.Reps < 1 || c.Restarts < 1 {
		return errors.New("-reps and -restarts must be at least 1")
	}
	var err error
	for _, b := range []*string{&c.HubdBin, &c.MosqBin} {
		if *b, err = exec.LookPath(*b); err != nil {
			return fmt.Errorf("broker binary: %w (is the mosquitto package installed? see .ci/deps.d/bench.list)", err)
		}
		if *b, err = filepath.Abs(*b); err != nil { // brokers run in their own directories
			return err
		}
	}
	if err := os.MkdirAll(c.Out, 0o755); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "hubbench-")
	if err != nil {
		return err
	}
	if !c.Keep {
		defer os.RemoveAll(work)
	}
	s := newSuite(c, work, stdout)
	runErr := s.run(ctx)
	if runErr != nil {
		s.failures = append(s.failures, "suite stopped early: "+runErr.Error())
	}
	if err := s.write(); err != nil {
		return errors.Join(runErr, err)
	}
	if len(s.failures) > 0 {
		fmt.Fprintln(stderr, "\nFAILED:")
		for _, f := range s.failures {
			fmt.Fprintln(stderr, "  -", f)
		}
		return fmt.Errorf("%d check(s) failed; see the report", len(s.failures))
	}
	return nil
}

func newSuite(c suiteConfig, work string, out io.Writer) *suite {
	s := &suite{
		cfg: c, p: defaultParams(c.Quick), work: work, out: out,
		starts: map[string][]float64{}, seeding: map[string]string{}, verify: map[string]string{},
		began: time.Now(),
	}
	const queued = 20000
	specs := []BrokerSpec{
		{Name: "hubd", Label: "hubd", Kind: "hubd", Bin: c.HubdBin, MaxQueued: queued},
		{Name: "hubd-ci0", Label: "hubd, commit_interval 0 (variant)", Kind: "hubd", Bin: c.HubdBin, CommitInterval: "0s", MaxQueued: queued},
		{Name: "mosq", Label: "Mosquitto, persistence true", Kind: "mosquitto", Bin: c.MosqBin, Persistence: true, MaxQueued: queued},
		{Name: "mosq-mem", Label: "Mosquitto, persistence false", Kind: "mosquitto", Bin: c.MosqBin, MaxQueued: queued},
	}
	s.specs = map[string]BrokerSpec{}
	for _, sp := range specs {
		s.specs[sp.Name] = sp
		s.names = append(s.names, sp.Name)
	}
	return s
}

func (s *suite) logf(format string, args ...any) {
	fmt.Fprintf(s.out, "[%5.1fs] %s\n", time.Since(s.began).Seconds(), fmt.Sprintf(format, args...))
}

func (s *suite) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.failures = append(s.failures, msg)
	s.logf("FAIL: %s", msg)
}

func (s *suite) run(ctx context.Context) error {
	s.env = environment(s.cfg)
	s.env["load average at start"] = loadavg()
	s.logf("hubbench suite: %s; %s; work dir %s", s.env["hubd"], s.env["mosquitto"], s.work)
	if err := s.makeTemplate(ctx); err != nil {
		return err
	}
	p := s.p
	all := []string{"hubd", "hubd-ci0", "mosq", "mosq-mem"}
	main := []string{"hubd", "mosq", "mosq-mem"}
	fanIn := func(qos byte) LoadConfig {
		return LoadConfig{Pubs: p.FanInPubs, Subs: 1, QoS: qos, Size: p.Size, Count: p.FanInCount,
			Duration: p.FanInDuration, Window: p.Window, Flow: p.Flow, Filter: "+"}
	}
	steps := []struct {
		id      string
		brokers []string
		fn      func(context.Context, *Broker, int) (runResult, error)
	}{
		{scQoS0, main, s.loadRun(scQoS0, fanIn(0))},
		{scQoS1, all, s.loadRun(scQoS1, fanIn(1))},
		{scQoS2, all, s.loadRun(scQoS2, fanIn(2))},
		{scFanOut, all, s.loadRun(scFanOut, LoadConfig{Pubs: 1, Subs: p.FanOutSubs, QoS: 1, Size: p.Size,
			Count: p.FanOutCount, Duration: p.FanOutDuration, Window: p.Window, Flow: p.Flow, Filter: "#"})},
		{scIdle, main, s.idleRun},
		{scQueue, all, s.queueRun},
	}
	for _, st := range steps {
		if err := s.each(ctx, st.id, st.brokers, st.fn); err != nil {
			return err
		}
	}
	if err := s.startup(ctx); err != nil {
		return err
	}
	for _, name := range []string{"hubd", "hubd-ci0"} {
		pr, err := s.profile(ctx, name)
		if err != nil {
			s.fail("profile of %s: %v", s.specs[name].Label, err)
			continue
		}
		s.profiles = append(s.profiles, pr)
	}
	if ip, err := s.profileIdle(ctx); err != nil {
		s.fail("heap profile of hubd with idle clients: %v", err)
	} else {
		s.idleProf = &ip
	}
	s.env["load average at end"] = loadavg()
	return nil
}

// makeTemplate starts hubd once on a new data directory, so that it
// creates its database and first user, and keeps the stopped store as the
// template every fresh hubd start copies. The first user's bcrypt hash
// then costs no fresh start anything.
func (s *suite) makeTemplate(ctx context.Context) error {
	dir := filepath.Join(s.work, "hubd-template")
	b, err := StartBroker(ctx, s.specs["hubd"], dir, false)
	if err != nil {
		return err
	}
	pw := filepath.Join(dir, "data", "initial-admin-password")
	for i := 0; i < 500; i++ {
		if _, err := os.Stat(pw); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := b.Stop(); err != nil {
		return err
	}
	os.Remove(pw)
	s.template = filepath.Join(dir, "data")
	return nil
}

// start starts a fresh instance of the named broker configuration: a new
// directory, holding for hubd a copy of the template store.
func (s *suite) start(ctx context.Context, name string, pprof bool) (*Broker, error) {
	spec := s.specs[name]
	dir, err := os.MkdirTemp(s.work, name+"-")
	if err != nil {
		return nil, err
	}
	if spec.Kind == "hubd" {
		if err := copyDir(s.template, filepath.Join(dir, "data")); err != nil {
			return nil, err
		}
	}
	b, err := StartBroker(ctx, spec, dir, pprof)
	if err != nil {
		return nil, err
	}
	s.starts[name] = append(s.starts[name], ms(b.Started))
	return b, nil
}

func (s *suite) stop(b *Broker) error {
	err := b.Stop()
	if !s.cfg.Keep {
		os.RemoveAll(b.Dir)
	}
	return err
}

// each runs fn Reps times on a fresh instance of each broker, reversing
// the brokers' order on every other repetition so that drift in the
// machine's speed falls on all of them alike.
func (s *suite) each(ctx context.Context, id string, brokers []string,
	fn func(context.Context, *Broker, int) (runResult, error)) error {
	for rep := 0; rep < s.cfg.Reps; rep++ {
		order := slices.Clone(brokers)
		if rep%2 == 1 {
			slices.Reverse(order)
		}
		for _, name := range order {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			b, err := s.start(ctx, name, false)
			if err != nil {
				return err
			}
			r, err := fn(ctx, b, rep)
			if stopErr := s.stop(b); stopErr != nil {
				s.fail("%s: stopping %s: %v", id, s.specs[name].Label, stopErr)
			}
			if err != nil {
				s.fail("%s on %s (repetition %d): %v", id, s.specs[name].Label, rep+1, err)
				continue
			}
			r.Scenario, r.Broker, r.Rep = id, name, rep
			r.Load = strings.Fields(loadavg())[0]
			s.check(r)
			s.results = append(s.results, r)
			s.logf("%-13s %-8s rep %d: %s", id, name, rep+1, r.summary())
		}
	}
	return nil
}

// check fails the run on any loss at QoS 1/2 and any duplicate at QoS 2.
func (s *suite) check(r runResult) {
	if r.QoS < 0 {
		return
	}
	if err := lossCheck(byte(r.QoS), r.Lost, r.Dups); err != nil {
		s.fail("%s on %s (repetition %d): %v", r.Scenario, s.specs[r.Broker].Label, r.Rep+1, err)
	}
}

func (r runResult) summary() string {
	keys := make([]string, 0, len(r.Metrics))
	for k := range r.Metrics {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%.4g ", k, r.Metrics[k])
	}
	if r.Lat.N > 0 {
		fmt.Fprintf(&b, "latency=%s ", r.Lat)
	}
	if r.QoS >= 0 {
		fmt.Fprintf(&b, "lost=%d dups=%d", r.Lost, r.Dups)
	}
	return b.String()
}

// loadRun returns a scenario step running cfg against the broker.
func (s *suite) loadRun(id string, cfg LoadConfig) func(context.Context, *Broker, int) (runResult, error) {
	return func(ctx context.Context, b *Broker, rep int) (runResult, error) {
		c := cfg
		c.Broker = b.Addr
		c.Prefix = fmt.Sprintf("bench/%s/%d", id, rep)
		c.ClientPrefix = "hubbench-" + id
		cpu0, _ := b.CPU()
		res, err := RunLoad(ctx, c)
		cpu1, _ := b.CPU()
		if err != nil {
			return runResult{}, err
		}
		r := runResult{QoS: int(c.QoS), Sent: res.Sent, Lost: res.Lost, Dups: res.Dups, Lat: res.Latency,
			Metrics: map[string]float64{"recv": res.RecvRate, "send": res.SendRate, "connect": res.ConnectRate}}
		if res.Received > 0 {
			r.Metrics["cpu_per_k"] = ms(cpu1-cpu0) / (float64(res.Received) / 1000)
			r.Metrics["cpu_util"] = (cpu1 - cpu0).Seconds() / res.RecvTime.Seconds()
		}
		if res.Sent > 0 {
			r.Metrics["per_pub"] = res.SendRate / float64(c.Pubs)
		}
		return r, nil
	}
}

// idleRun connects idle clients in steps and reads the broker's memory
// before and after each.
func (s *suite) idleRun(ctx context.Context, b *Broker, rep int) (runResult, error) {
	r := runResult{QoS: -1, Metrics: map[string]float64{}}
	time.Sleep(time.Second)
	rss0, err := b.RSS()
	if err != nil {
		return r, err
	}
	r.Metrics["rss_0"] = mb(rss0)
	rss := map[int]int64{}
	steps, err := RunIdle(ctx, IdleConfig{
		Broker: b.Addr, ClientPrefix: "hubbench-idle", Steps: s.p.IdleSteps,
		KeepAlive: 60 * time.Second, Parallel: 32, Settle: 1500 * time.Millisecond,
		Sample: func(n int) error {
			v, err := b.RSS()
			rss[n] = v
			r.Metrics[fmt.Sprintf("rss_%d", n)] = mb(v)
			return err
		},
	})
	if err != nil {
		return r, err
	}
	var clients int
	var took float64
	var slowest time.Duration
	for _, st := range steps {
		slowest = max(slowest, st.MaxConnect)
		prev := 0
		if i := slices.IndexFunc(steps, func(x IdleStep) bool { return x.Clients == st.Clients }); i > 0 {
			prev = steps[i-1].Clients
		}
		clients += st.Clients - prev
		took += float64(st.Clients-prev) / st.ConnectRate
	}
	r.Metrics["connect"] = float64(clients) / took
	r.Metrics["connect_max_ms"] = ms(slowest)
	first, last := s.p.IdleSteps[0], s.p.IdleSteps[len(s.p.IdleSteps)-1]
	r.Metrics["kb_per_client"] = float64(rss[last]-rss[first]) / float64(last-first) / 1024
	return r, nil
}

// queueRun queues messages for an offline persistent session and times
// its drain.
func (s *suite) queueRun(ctx context.Context, b *Broker, rep int) (runResult, error) {
	res, err := RunQueue(ctx, QueueConfig{
		Broker: b.Addr, Prefix: fmt.Sprintf("bench/queue/%d", rep), ClientPrefix: "hubbench",
		Pubs: s.p.QueuePubs, Total: s.p.QueueTotal, Size: s.p.Size, Window: s.p.Window,
		Settle: 10 * time.Second, ReconnectDelay: s.p.QueueReconnectDelay,
	})
	if err != nil {
		return runResult{}, err
	}
	if !res.SessionPresent {
		return runResult{}, errors.New("the broker did not keep the session (CONNACK session present 0)")
	}
	r := runResult{QoS: 1, Sent: res.Queued, Lost: res.Lost, Dups: res.Dups, Metrics: map[string]float64{
		"fill": res.FillRate, "drain_ms": ms(res.DrainTime),
	}}
	if res.DrainTime > 0 {
		r.Metrics["drain_rate"] = float64(res.Drained) / res.DrainTime.Seconds()
	}
	if len(res.Missing) > 0 {
		s.logf("queue on %s: missing (publisher/seq) %s", b.Spec.Label, strings.Join(res.Missing, " "))
	}
	return r, nil
}

// startup fills a store for each broker through the broker itself
// (retained messages and persistent sessions), stops it cleanly, and times
// restarts until the first accepted CONNECT, alternating the brokers.
func (s *suite) startup(ctx context.Context) error {
	names := []string{"hubd", "mosq", "mosq-mem"}
	dirs := map[string]string{}
	p := s.p
	for _, name := range names {
		b, err := s.start(ctx, name, false)
		if err != nil {
			return err
		}
		t0 := time.Now()
		pubs := 50
		res, err := RunLoad(ctx, LoadConfig{Broker: b.Addr, Prefix: "bench/start", ClientPrefix: "hubbench-seed",
			Pubs: pubs, Subs: 0, QoS: 1, Size: p.Size, Count: p.Retained / pubs, Window: p.Window,
			Retain: true, Spread: true})
		tRetained := time.Since(t0)
		if err == nil {
			t0 = time.Now()
			err = SeedSessions(ctx, b.Addr, "hubbench", "bench/sess", p.Sessions, 32)
		}
		tSessions := time.Since(t0)
		rss, _ := b.RSS()
		if stopErr := b.Stop(); err == nil {
			err = stopErr
		}
		if err != nil {
			return fmt.Errorf("start-up store for %s: %w", s.specs[name].Label, err)
		}
		dirs[name] = b.Dir
		s.seeding[name] = fmt.Sprintf("%d retained (QoS 1, 50 publishers) in %.1f s, %d sessions in %.1f s; RSS before stop %.1f MB",
			res.Sent, tRetained.Seconds(), p.Sessions, tSessions.Seconds(), mb(rss))
		s.logf("startup: seeded %s: %s", name, s.seeding[name])
	}
	defer func() {
		if !s.cfg.Keep {
			for _, d := range dirs {
				os.RemoveAll(d)
			}
		}
	}()
	for rep := 0; rep < s.cfg.Restarts; rep++ {
		order := slices.Clone(names)
		if rep%2 == 1 {
			slices.Reverse(order)
		}
		for _, name := range order {
			b, err := StartBroker(ctx, s.specs[name], dirs[name], false)
			if err != nil {
				return err
			}
			time.Sleep(300 * time.Millisecond) // let the restore finish before reading memory
			rss, _ := b.RSS()
			if err := b.Stop(); err != nil {
				s.fail("startup: stopping %s: %v", s.specs[name].Label, err)
			}
			r := runResult{Scenario: scStartup, Broker: name, Rep: rep, QoS: -1, Load: strings.Fields(loadavg())[0],
				Metrics: map[string]float64{"start_ms": ms(b.Started), "rss": mb(rss)}}
			s.results = append(s.results, r)
			s.logf("%-13s %-8s rep %d: %s", scStartup, name, rep+1, r.summary())
		}
	}
	// Check the restored stores hold what was put in.
	for _, name := range names {
		b, err := StartBroker(ctx, s.specs[name], dirs[name], false)
		if err != nil {
			return err
		}
		n, err := countRetainedByPublisher(ctx, b.Addr, p.Retained/50, 50)
		present := 0
		for i := 0; i < 10 && err == nil; i++ {
			var ok bool
			ok, err = probeConnect(b.Addr, sessionID("hubbench", i*p.Sessions/10), false, 5*time.Second)
			if ok {
				present++
			}
		}
		if stopErr := b.Stop(); err == nil {
			err = stopErr
		}
		if err != nil {
			return fmt.Errorf("checking the restored store of %s: %w", s.specs[name].Label, err)
		}
		s.verify[name] = fmt.Sprintf("after restart: %d of %d retained messages, %d of 10 sampled sessions present", n, p.Retained, present)
		s.logf("startup: %s %s", name, s.verify[name])
		if s.specs[name].Kind == "hubd" || s.specs[name].Persistence {
			if n != p.Retained || present != 10 {
				s.fail("startup: %s lost state across a clean restart: %s", s.specs[name].Label, s.verify[name])
			}
		}
	}
	for _, name := range names {
		if name == "hubd" || name == "mosq" || name == "mosq-mem" {
			for i, v := range s.starts[name] {
				s.results = append(s.results, runResult{Scenario: scStartup0, Broker: name, Rep: i, QoS: -1,
					Metrics: map[string]float64{"start_ms": v}})
			}
		}
	}
	return nil
}

// countRetainedByPublisher counts the retained messages below
// bench/start/<p> for each of pubs publishers, subscribing to one
// publisher's topics at a time. It stops at the first publisher if that
// one has none.
func countRetainedByPublisher(ctx context.Context, broker string, perPub, pubs int) (int, error) {
	total := 0
	for i := 0; i < pubs; i++ {
		n, err := CountRetained(ctx, broker, "hubbench-verify", fmt.Sprintf("bench/start/%d/#", i), perPub, time.Second)
		if err != nil {
			return total, err
		}
		total += n
		if total == 0 {
			break // an empty store (Mosquitto without persistence)
		}
	}
	return total, nil
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func copyDir(src, dst string) error {
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// environment describes the machine and the brokers, without paths.
func environment(c suiteConfig) map[string]string {
	env := map[string]string{
		"cpus": fmt.Sprint(runtime.NumCPU()),
		"go":   runtime.Version(),
		"os":   runtime.GOOS + "/" + runtime.GOARCH,
	}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				env["cpu"] = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		env["kernel"] = strings.TrimSpace(string(data))
	}
	if out, err := exec.Command(c.HubdBin, "version").Output(); err == nil {
		env["hubd"] = strings.TrimSpace(string(out))
	}
	// mosquitto -h prints its version on the first line and exits 3.
	out, _ := exec.Command(c.MosqBin, "-h").Output()
	env["mosquitto"] = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	return env
}

func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
