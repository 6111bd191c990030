package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// metric returns the median of key over the repetitions of scenario on
// broker, and how many there were.
func (s *suite) metric(scenario, broker, key string) (float64, int) {
	var xs []float64
	for _, r := range s.results {
		if r.Scenario == scenario && r.Broker == broker {
			if v, ok := r.Metrics[key]; ok && !math.IsNaN(v) {
				xs = append(xs, v)
			}
		}
	}
	return median(xs), len(xs)
}

// latency returns the median of each percentile over the repetitions.
func (s *suite) latency(scenario, broker string) (p50, p90, p99, pmax float64, n int) {
	var a, b, c, d []float64
	for _, r := range s.results {
		if r.Scenario == scenario && r.Broker == broker && r.Lat.N > 0 {
			a = append(a, ms(r.Lat.P50))
			b = append(b, ms(r.Lat.P90))
			c = append(c, ms(r.Lat.P99))
			d = append(d, ms(r.Lat.Max))
		}
	}
	return median(a), median(b), median(c), median(d), len(a)
}

// row is one line of the summary table.
type row struct {
	scenario, title, key, unit string
	higher                     bool // higher is better
	hubd                       string
	// target describes the goal; met reports whether hubd reaches it given
	// its value and the ratio to Mosquitto (persistence true).
	target string
	met    func(v, ratio float64) bool
}

func (s *suite) rows() []row {
	ratioAtLeast := func(x float64) func(v, r float64) bool { return func(_, r float64) bool { return r >= x } }
	atMost := func(x float64) func(v, r float64) bool { return func(v, _ float64) bool { return v <= x } }
	p := s.p
	rs := []row{
		{scQoS0, fmt.Sprintf("1. QoS 0 fan-in, %d → 1, %d B: delivered", p.FanInPubs, p.Size), "recv", "msgs/s", true, "hubd", "ratio ≥ 1.0", ratioAtLeast(1)},
		{scQoS1, "2. QoS 1 fan-in, same shape: delivered", "recv", "msgs/s", true, "hubd", "ratio ≥ 0.7", ratioAtLeast(0.7)},
		{scQoS1, "2. QoS 1 fan-in — hubd with commit_interval 0", "recv", "msgs/s", true, "hubd-ci0", "(variant)", nil},
		{scQoS2, "2. QoS 2 fan-in, same shape: delivered", "recv", "msgs/s", true, "hubd", "ratio ≥ 0.7", ratioAtLeast(0.7)},
		{scQoS2, "2. QoS 2 fan-in — hubd with commit_interval 0", "recv", "msgs/s", true, "hubd-ci0", "(variant)", nil},
		{scFanOut, fmt.Sprintf("3. fan-out QoS 1, 1 → %d on a wildcard: deliveries", p.FanOutSubs), "recv", "msgs/s", true, "hubd", "", nil},
		{scFanOut, "3. fan-out — hubd with commit_interval 0", "recv", "msgs/s", true, "hubd-ci0", "(variant)", nil},
		{scIdle, "4. idle: RSS with no client", "rss_0", "MB", false, "hubd", "", nil},
	}
	for i, n := range p.IdleSteps {
		t := row{scIdle, fmt.Sprintf("4. idle: RSS with %d clients", n), fmt.Sprintf("rss_%d", n), "MB", false, "hubd", "", nil}
		if i == 0 {
			t.target, t.met = "≤ 20 MB", atMost(20)
		}
		rs = append(rs, t)
	}
	rs = append(rs,
		row{scIdle, fmt.Sprintf("4. idle: memory per extra client (%d → %d)", p.IdleSteps[0], p.IdleSteps[len(p.IdleSteps)-1]), "kb_per_client", "KB", false, "hubd", "≤ 16 KB", atMost(16)},
		row{scIdle, "4. idle: connection set-up rate", "connect", "conn/s", true, "hubd", "", nil},
		row{scQueue, fmt.Sprintf("5. offline session: drain %d queued QoS 1", p.QueueTotal), "drain_ms", "ms", false, "hubd", "", nil},
		row{scQueue, "5. offline session — hubd with commit_interval 0", "drain_ms", "ms", false, "hubd-ci0", "(variant)", nil},
		row{scQueue, fmt.Sprintf("5. offline session: queueing rate (%d publishers)", p.QueuePubs), "fill", "msgs/s", true, "hubd", "", nil},
		row{scQueue, "5. queueing rate — hubd with commit_interval 0", "fill", "msgs/s", true, "hubd-ci0", "(variant)", nil},
		row{scStartup, fmt.Sprintf("6. start-up to first CONNACK, %d retained + %d sessions", p.Retained, p.Sessions), "start_ms", "ms", false, "hubd", "≤ 150 ms", atMost(150)},
		row{scStartup, "6. RSS 300 ms after that start-up", "rss", "MB", false, "hubd", "", nil},
		row{scStartup0, "6. start-up to first CONNACK, empty store", "start_ms", "ms", false, "hubd", "", nil},
	)
	return rs
}

func num(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return human(v)
}

func ratioStr(r float64) string {
	switch {
	case math.IsNaN(r) || math.IsInf(r, 0):
		return "–"
	case r >= 10:
		return fmt.Sprintf("%.1f", r)
	case r >= 0.1:
		return fmt.Sprintf("%.2f", r)
	}
	return fmt.Sprintf("%.3f", r)
}

// summaryTable is the report's main table, in Markdown.
func (s *suite) summaryTable() string {
	var b strings.Builder
	b.WriteString("| scenario (median of runs) | unit | hubd | Mosquitto, persistence true | ratio hubd/Mosquitto | Mosquitto, persistence false | ratio hubd/Mosquitto (p. false) | target | hubd vs target |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|---|---|\n")
	for _, r := range s.rows() {
		h, _ := s.metric(r.scenario, r.hubd, r.key)
		m, _ := s.metric(r.scenario, "mosq", r.key)
		mm, _ := s.metric(r.scenario, "mosq-mem", r.key)
		better := "higher is better"
		if !r.higher {
			better = "lower is better"
		}
		status := ""
		if r.met != nil && !math.IsNaN(h) {
			if r.met(h, h/m) {
				status = "met"
			} else {
				status = "**not met**"
			}
		}
		fmt.Fprintf(&b, "| %s | %s (%s) | %s | %s | %s | %s | %s | %s | %s |\n",
			r.title, r.unit, better, num(h), num(m), ratioStr(h/m), num(mm), ratioStr(h/mm), r.target, status)
	}
	return b.String()
}

// behind writes one sentence per row where hubd trails Mosquitto
// (persistence true) or its target.
func (s *suite) behind() string {
	var b strings.Builder
	for _, r := range s.rows() {
		h, _ := s.metric(r.scenario, r.hubd, r.key)
		m, _ := s.metric(r.scenario, "mosq", r.key)
		if math.IsNaN(h) || math.IsNaN(m) || m == 0 || h == 0 {
			continue
		}
		ratio := h / m
		var sent string
		switch {
		case r.higher && ratio < 1:
			sent = fmt.Sprintf("%.1f%% of Mosquitto's (%s vs %s %s: Mosquitto's is %.2f× hubd's)", ratio*100, num(h), num(m), r.unit, 1/ratio)
		case !r.higher && ratio > 1:
			sent = fmt.Sprintf("%.2f× Mosquitto's (%s vs %s %s)", ratio, num(h), num(m), r.unit)
		}
		if r.met != nil && !r.met(h, ratio) {
			if sent != "" {
				sent += "; "
			}
			sent += "target " + r.target + " not met"
		}
		if sent != "" {
			fmt.Fprintf(&b, "- %s: %s.\n", r.title, sent)
		}
	}
	return b.String()
}

func (s *suite) latencyTable() string {
	var b strings.Builder
	b.WriteString("| scenario | broker | p50 | p90 | p99 | max |\n|---|---|--:|--:|--:|--:|\n")
	for _, sc := range []string{scQoS0, scQoS1, scQoS2, scFanOut} {
		for _, name := range s.names {
			p50, p90, p99, pmax, n := s.latency(sc, name)
			if n == 0 {
				continue
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", scenarioName(sc), s.specs[name].Label,
				fmtFloat(p50), fmtFloat(p90), fmtFloat(p99), fmtFloat(pmax))
		}
	}
	return b.String()
}

func fmtFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "–"
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	case v < 100:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

func scenarioName(id string) string {
	return map[string]string{
		scQoS0: "1. QoS 0 fan-in", scQoS1: "2. QoS 1 fan-in", scQoS2: "2. QoS 2 fan-in",
		scFanOut: "3. fan-out QoS 1", scIdle: "4. idle clients", scQueue: "5. offline session",
		scStartup: "6. start-up, filled store", scStartup0: "6. start-up, empty store",
	}[id]
}

func (s *suite) deliveryTable() string {
	var b strings.Builder
	b.WriteString("| scenario | broker | runs | messages sent | lost | duplicates | check |\n|---|---|--:|--:|--:|--:|---|\n")
	for _, sc := range []string{scQoS0, scQoS1, scQoS2, scFanOut, scQueue} {
		for _, name := range s.names {
			var runs int
			var sent, lost, dups int64
			qos := -1
			for _, r := range s.results {
				if r.Scenario == sc && r.Broker == name {
					runs++
					sent += r.Sent
					lost += r.Lost
					dups += r.Dups
					qos = r.QoS
				}
			}
			if runs == 0 {
				continue
			}
			check := "ok"
			switch {
			case qos == 0:
				check = "not checked at QoS 0"
			case lossCheck(byte(qos), lost, dups) != nil:
				check = "**FAILED**"
			case qos == 1 && dups > 0:
				check = "ok (QoS 1 allows duplicates)"
			}
			fmt.Fprintf(&b, "| %s | %s | %d | %d | %d | %d | %s |\n", scenarioName(sc), s.specs[name].Label, runs, sent, lost, dups, check)
		}
	}
	return b.String()
}

// runsTable lists every run's measurements.
func (s *suite) runsTable() string {
	var b strings.Builder
	b.WriteString("| scenario | broker | run | machine load (1 min) | measurements |\n|---|---|--:|--:|---|\n")
	for _, r := range s.results {
		load := r.Load
		if load == "" {
			load = "–"
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %s | %s |\n", scenarioName(r.Scenario), s.specs[r.Broker].Label, r.Rep+1, load, r.summary())
	}
	return b.String()
}

// findings explains QoS 1 fan-in from the profiles and the measurements.
func (s *suite) findings() string {
	var b strings.Builder
	h, _ := s.metric(scQoS1, "hubd", "recv")
	h0, _ := s.metric(scQoS1, "hubd-ci0", "recv")
	m, _ := s.metric(scQoS1, "mosq", "recv")
	perPub, _ := s.metric(scQoS1, "hubd", "per_pub")
	perPub0, _ := s.metric(scQoS1, "hubd-ci0", "per_pub")
	cu, _ := s.metric(scQoS1, "hubd", "cpu_util")
	cm, _ := s.metric(scQoS1, "mosq", "cpu_util")
	ck, _ := s.metric(scQoS1, "hubd", "cpu_per_k")
	ckm, _ := s.metric(scQoS1, "mosq", "cpu_per_k")
	fmt.Fprintf(&b, "Measured in scenario 2 (QoS 1 fan-in, %d publishers, each with up to %d publishes awaiting PUBACK):\n\n", s.p.FanInPubs, s.p.Window)
	fmt.Fprintf(&b, "- hubd delivered %s msgs/s, %s per publisher: one message per %s ms per publisher. hubd acknowledges a QoS 1/2 publish only after it is committed to SQLite, and mochi handles a connection's packets one after another, so each publisher gets at most one message per commit, and commits are at least `mqtt.commit_interval` (10 ms) apart.\n",
		num(h), num(perPub), fmtFloat(1000/perPub))
	fmt.Fprintf(&b, "- With `commit_interval: 0`, hubd delivered %s msgs/s (%s per publisher, one per %s ms: about the time one commit with its fsync takes here). Mosquitto delivered %s msgs/s; its `persistence true` writes a snapshot of its state every `autosave_interval` (30 min by default) and at shutdown, and acknowledges without touching the disk.\n",
		num(h0), num(perPub0), fmtFloat(1000/perPub0), num(m))
	fmt.Fprintf(&b, "- hubd used %.0f%% of one core doing it (%s ms of CPU per 1,000 messages) against Mosquitto's %.0f%% (%s ms per 1,000): hubd is not short of CPU, it waits.\n",
		cu*100, fmtFloat(ck), cm*100, fmtFloat(ckm))
	for _, pr := range s.profiles {
		if pr.Snapshots == 0 {
			continue
		}
		label := s.specs[pr.Broker].Label
		fmt.Fprintf(&b, "- Profile of %s under the same load (%s): CPU %.0f%% of one core. In %d goroutine snapshots, %d of %d connection read loops (%.0f%%) were parked in `persist.(*writer).sync`, waiting for their commit; the storage writer was sleeping out the commit interval in %d, in SQLite in %d and idle in %d.\n",
			label, pr.Load, pr.CPUUtil*100, pr.Snapshots, pr.Waiting, pr.Readers, 100*float64(pr.Waiting)/math.Max(1, float64(pr.Readers)),
			pr.WriterSleeping, pr.WriterCommitting, pr.WriterIdle)
	}
	if len(s.profiles) > 0 && s.profiles[0].Broker == "hubd" && s.profiles[0].Readers > 0 {
		pr := s.profiles[0]
		if share := float64(pr.Waiting) / float64(pr.Readers); share >= 0.5 && pr.CPUUtil < 0.5 {
			fmt.Fprintf(&b, "\nSo the biggest cause of the gap is the wait for the storage commit before each acknowledgement, not processing: %.0f%% of the connections were parked waiting for a commit while hubd used %.0f%% of one core. Without the commit interval the ratio to Mosquitto goes from %s to %s, and what remains is mostly the commit itself (SQLite with fsync: `persist.(*writer).exec` and `(*Tx).Commit` in the CPU profile).\n",
				share*100, pr.CPUUtil*100, ratioStr(h/m), ratioStr(h0/m))
		}
	}
	return b.String()
}

// write writes the report, the plot and the index of reports, and prints
// the summary.
func (s *suite) write() error {
	took := time.Since(s.began)
	svg := s.plot()
	base := filepath.Join(s.cfg.Out, s.cfg.Date)
	if err := os.WriteFile(base+".svg", []byte(svg), 0o644); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# hubd against Mosquitto, %s\n\n", s.cfg.Date)
	fmt.Fprintf(&b, "Written by `make bench` (`hubbench suite`) after %.0f s of measuring", took.Seconds())
	if !s.cfg.Since.IsZero() {
		fmt.Fprintf(&b, " (%.0f s since `make bench` began, build and micro-benchmarks included)", time.Since(s.cfg.Since).Seconds())
	}
	fmt.Fprintf(&b, ". Every number here was measured in that run and is not edited by hand. Medians of %d runs per broker unless said otherwise; the brokers alternate (A B C, then C B A) to spread drift in the machine's speed.", s.cfg.Reps)
	if s.cfg.Quick {
		b.WriteString(" **Quick mode: scenarios are shrunk; these numbers only try the runner.**")
	}
	b.WriteString("\n\n")
	if len(s.failures) > 0 {
		b.WriteString("> **FAILED.** The run failed these checks:\n>\n")
		for _, f := range s.failures {
			fmt.Fprintf(&b, "> - %s\n", strings.ReplaceAll(f, "\n", " "))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "![throughput, latency, memory and times](%s.svg)\n\n", s.cfg.Date)
	b.WriteString("## Summary\n\n")
	b.WriteString("The ratio is hubd's value divided by Mosquitto's, whichever way is better: for a rate above 1 means hubd is ahead; for memory or time above 1 means hubd is behind.\n\n")
	b.WriteString(s.summaryTable())
	b.WriteString("\n## Where hubd is behind\n\n")
	if t := s.behind(); t != "" {
		b.WriteString(t)
	} else {
		b.WriteString("Nowhere in this run.\n")
	}
	b.WriteString("\n## Why QoS 1/2 fan-in is slower: profile\n\n")
	b.WriteString(s.findings())
	for _, pr := range s.profiles {
		label := s.specs[pr.Broker].Label
		fmt.Fprintf(&b, "\n<details><summary>CPU profile of %s under QoS 1 fan-in, by cumulative time (go tool pprof -top -cum)</summary>\n\n```\n%s\n```\n</details>\n", label, pr.CPUCum)
		fmt.Fprintf(&b, "\n<details><summary>CPU profile of %s under QoS 1 fan-in, by own time (go tool pprof -top)</summary>\n\n```\n%s\n```\n</details>\n", label, pr.CPUTop)
		fmt.Fprintf(&b, "\n<details><summary>Allocations of %s during that load (go tool pprof -top -sample_index=alloc_space, difference of two profiles)</summary>\n\n```\n%s\n```\n</details>\n", label, pr.AllocTop)
	}
	if ip := s.idleProf; ip != nil {
		hubdKB, _ := s.metric(scIdle, "hubd", "kb_per_client")
		b.WriteString("\n## Where idle clients' memory goes in hubd: heap profile\n\n")
		fmt.Fprintf(&b, "With %d idle clients hubd had %d goroutines (%.1f per client) and %.1f MB resident; scenario 4 measured %s KB of RSS per extra client. After a garbage collection the runtime counted %.1f MB of goroutine stacks (%.1f KB per client) and %.1f MB of heap in use (%.1f KB per client). The heap's live objects by allocation site follow; a large allocation counts there in full even where its pages were never written and so are not resident (most of a client's outbound channel buffer, for one).\n\n",
			ip.Clients, ip.Goroutines, float64(ip.Goroutines)/float64(ip.Clients), ip.RSS, num(hubdKB),
			ip.Stack, ip.Stack*1024/float64(ip.Clients), ip.HeapInuse, ip.HeapInuse*1024/float64(ip.Clients))
		fmt.Fprintf(&b, "<details><summary>go tool pprof -top -sample_index=inuse_space</summary>\n\n```\n%s\n```\n</details>\n", ip.HeapTop)
	}
	b.WriteString("\n## Latency, end to end (ms, medians of the runs' percentiles)\n\n")
	b.WriteString("From the send time in each payload to its arrival, on one machine's monotonic clock, under the throughput load of the scenario (so it includes queueing behind the flow-control window).\n\n")
	b.WriteString(s.latencyTable())
	b.WriteString("\n## Delivery checks\n\n")
	b.WriteString("Summed over all runs. Any loss at QoS 1/2 or duplicate at QoS 2 fails the run.\n\n")
	b.WriteString(s.deliveryTable())
	b.WriteString("\n## Start-up stores\n\n")
	for _, name := range []string{"hubd", "mosq", "mosq-mem"} {
		if s.seeding[name] != "" {
			fmt.Fprintf(&b, "- %s: seeded through the broker with %s; %s.\n", s.specs[name].Label, s.seeding[name], s.verify[name])
		}
	}
	b.WriteString("\n## Method\n\n")
	b.WriteString(s.method())
	b.WriteString("\n## Machine\n\n")
	keys := make([]string, 0, len(s.env))
	for k := range s.env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "- %s: %s\n", k, s.env[k])
	}
	if s.cfg.Micro != "" {
		if data, err := os.ReadFile(s.cfg.Micro); err == nil {
			fmt.Fprintf(&b, "\n## Micro-benchmarks\n\n`go test -bench` output from the same `make bench`, kept whole in [%s](%s) for benchstat.\n\n```\n%s\n```\n",
				filepath.Base(s.cfg.Micro), filepath.Base(s.cfg.Micro), strings.TrimSpace(string(data)))
		}
	}
	b.WriteString("\n## Every run\n\n")
	b.WriteString(s.runsTable())
	if err := os.WriteFile(base+".md", []byte(b.String()), 0o644); err != nil {
		return err
	}
	if err := s.writeIndex(); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "\n%s\n", s.summaryTable())
	fmt.Fprintf(s.out, "Report: %s.md, plot: %s.svg (%.0f s)\n", base, base, took.Seconds())
	return nil
}

func (s *suite) method() string {
	p := s.p
	var b strings.Builder
	fmt.Fprintf(&b, "- Clients: `hubbench` (in this repository, `cmd/hubbench`), MQTT 3.1.1 through github.com/eclipse/paho.mqtt.golang, all on 127.0.0.1, in one process on the same %s-core machine as the broker under test.\n", s.env["cpus"])
	b.WriteString("- Brokers: hubd's release build (`make build`), each run on a fresh data directory holding an empty store made once by a first start (so no run pays for the first user's bcrypt hash); Mosquitto from its Debian package, started by the runner, with `persistence true` and, once more, `persistence false`. Both: listener on 127.0.0.1, anonymous clients allowed (hubd: `allow_anonymous: true` and one ACL rule `role: anonymous, topic: bench/#, access: readwrite`, so every publish and delivery passes an ACL check), `max_queued_messages 20000`, other settings at their defaults. A variant of hubd with `mqtt.commit_interval: 0` runs where the commit interval matters.\n")
	fmt.Fprintf(&b, "- 1, 2: %d publishers, 1 subscriber on `PREFIX/+`, %d B payloads carrying publisher, sequence number and send time; each publisher sends for %v (at most %d messages) with at most %d publishes awaiting completion (PUBACK/PUBCOMP, or the socket write at QoS 0) and at most %d messages sent but not yet delivered (end-to-end flow control: without it a QoS 0 flood measures how a broker drops, not how fast it delivers). The rate is distinct deliveries over the time from the first publish to the last delivery.\n",
		p.FanInPubs, p.Size, p.FanInDuration, p.FanInCount, p.Window, p.Flow)
	fmt.Fprintf(&b, "- 3: 1 publisher, %d subscribers on `PREFIX/#`, QoS 1, same limits; the rate counts deliveries (messages × subscribers).\n", p.FanOutSubs)
	fmt.Fprintf(&b, "- 4: after 1 s, the broker's RSS (VmRSS from /proc) with no client; then %v clients connect (clean session, keep-alive 60 s, 32 connecting at once, each allowed 30 s for its CONNACK; the slowest is `connect_max_ms` under Every run) and stay idle; RSS is read 1.5 s after each step. Memory per extra client is the RSS difference between the steps over the client difference.\n", p.IdleSteps)
	fmt.Fprintf(&b, "- 5: a subscriber with a persistent session subscribes to `PREFIX/+` at QoS 1 and disconnects; %d publishers send %d QoS 1 messages in all (queueing rate: acknowledged messages/s); %v after the last acknowledgement the subscriber reconnects; drain time runs from its CONNECT to the last message.\n",
		p.QueuePubs, p.QueueTotal, p.QueueReconnectDelay)
	fmt.Fprintf(&b, "- 6: each broker's store is filled through the broker: %d retained messages (QoS 1, one topic each, 50 publishers), then %d persistent sessions each subscribed at QoS 1 to a topic of its own; the broker is stopped with SIGTERM. Then it is restarted %d times, alternating brokers, timing exec to the first accepted CONNECT (a hand-written CONNECT sent every millisecond until a CONNACK accepts it). A last start checks the retained messages and 10 of the sessions came back. The empty-store start-up is the same timing over every fresh start of the run.\n",
		p.Retained, p.Sessions, s.cfg.Restarts)
	fmt.Fprintf(&b, "- Profile: hubd started with `--pprof-addr`, the QoS 1 fan-in load for %v; a %v CPU profile, ten goroutine snapshots and allocation profiles before and after, all over loopback.\n", p.ProfileDuration, p.ProfileCPU)
	b.WriteString("- Other processes on the machine share its two cores; the load averages at start and end are under Machine.\n")
	return b.String()
}

// writeIndex rewrites the results directory's README.md: the latest
// report first, then every report there.
func (s *suite) writeIndex() error {
	entries, err := os.ReadDir(s.cfg.Out)
	if err != nil {
		return err
	}
	var reports []string
	for _, e := range entries {
		n := e.Name()
		if strings.HasSuffix(n, ".md") && n != "README.md" {
			reports = append(reports, strings.TrimSuffix(n, ".md"))
		}
	}
	slices.Sort(reports)
	slices.Reverse(reports)
	var b strings.Builder
	b.WriteString("# Benchmark results\n\nWritten by `make bench` (see `bench/README.md`); newest first.\n\n")
	if len(reports) > 0 {
		fmt.Fprintf(&b, "Latest: [%s](%s.md)\n\n![latest plot](%s.svg)\n\n", reports[0], reports[0], reports[0])
	}
	for _, r := range reports {
		fmt.Fprintf(&b, "- [%s](%s.md)\n", r, r)
	}
	return os.WriteFile(filepath.Join(s.cfg.Out, "README.md"), []byte(b.String()), 0o644)
}

// plot draws the report's figure.
func (s *suite) plot() string {
	series := []seriesStyle{}
	for _, name := range s.names {
		series = append(series, seriesStyle{s.specs[name].Label, map[string]string{
			"hubd": "#1f5fa8", "hubd-ci0": "#8fb8e8", "mosq": "#d9661f", "mosq-mem": "#f2b880",
		}[name]})
	}
	val := func(sc, key string) []float64 {
		out := make([]float64, len(s.names))
		for i, name := range s.names {
			out[i], _ = s.metric(sc, name, key)
		}
		return out
	}
	lat := func(sc string, which int) []float64 {
		out := make([]float64, len(s.names))
		for i, name := range s.names {
			p50, p90, p99, _, _ := s.latency(sc, name)
			out[i] = []float64{p50, p90, p99}[which]
		}
		return out
	}
	latScen := []string{scQoS0, scQoS1, scQoS2, scFanOut}
	var l50, l90, l99 [][]float64
	for _, sc := range latScen {
		l50, l90, l99 = append(l50, lat(sc, 0)), append(l90, lat(sc, 1)), append(l99, lat(sc, 2))
	}
	var memGroups []string
	var memVals [][]float64
	memGroups = append(memGroups, "no client")
	memVals = append(memVals, val(scIdle, "rss_0"))
	for _, n := range s.p.IdleSteps {
		memGroups = append(memGroups, fmt.Sprintf("%d idle clients", n))
		memVals = append(memVals, val(scIdle, fmt.Sprintf("rss_%d", n)))
	}
	charts := []chart{
		{Title: "Throughput (higher is better)", Unit: "messages/s delivered", Log: true,
			Groups: []string{"QoS 0\nfan-in", "QoS 1\nfan-in", "QoS 2\nfan-in", "QoS 1 fan-out\n(deliveries)", "offline queue\nfill (QoS 1)"},
			Values: [][]float64{val(scQoS0, "recv"), val(scQoS1, "recv"), val(scQoS2, "recv"), val(scFanOut, "recv"), val(scQueue, "fill")}},
		{Title: "End-to-end latency (lower is better)", Unit: "ms", Log: true,
			Groups: []string{"QoS 0\nfan-in", "QoS 1\nfan-in", "QoS 2\nfan-in", "QoS 1\nfan-out"},
			Values: l50, Low: l50, Mid: l90, High: l99,
			Note: "bar: p50; dot: p90; whisker top: p99"},
		{Title: "Resident memory, idle clients (lower is better)", Unit: "MB (VmRSS)",
			Groups: memGroups, Values: memVals},
		{Title: "Times (lower is better)", Unit: "ms", Log: true,
			Groups: []string{"start-up,\nempty store", fmt.Sprintf("start-up, %s retained\n+ %s sessions", human(float64(s.p.Retained)), human(float64(s.p.Sessions))), fmt.Sprintf("drain %s\nqueued messages", human(float64(s.p.QueueTotal)))},
			Values: [][]float64{val(scStartup0, "start_ms"), val(scStartup, "start_ms"), val(scQueue, "drain_ms")}},
	}
	caption := fmt.Sprintf("hubbench suite, %s: medians of %d runs on %s cores; every value measured in that run.", s.cfg.Date, s.cfg.Reps, s.env["cpus"])
	return renderSVG("hubd against Mosquitto", caption, series, charts)
}
