package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// profileResult is what profiling hubd under QoS 1 fan-in found.
type profileResult struct {
	Broker string
	// Load is the load run during profiling.
	Load LoadResult
	// CPUUtil is the broker's CPU time over wall time while profiling
	// (1.0 = one core busy).
	CPUUtil float64
	// CPUTop, CPUCum and AllocTop are "go tool pprof -top" listings, by
	// flat and by cumulative CPU time, and by bytes allocated.
	CPUTop, CPUCum, AllocTop string
	// Snapshots counts goroutine snapshots; the other fields add up over
	// them: client connections reading packets, those of them waiting in
	// the storage writer for a commit, and where the writer goroutine was.
	Snapshots        int
	Readers, Waiting int
	WriterSleeping   int // waiting out commit_interval
	WriterCommitting int // in SQLite (executing or committing)
	WriterIdle       int // waiting for work
}

// profile runs QoS 1 fan-in against a hubd serving its profiling
// endpoints, and takes a CPU profile, allocation profiles before and
// after, and goroutine snapshots meanwhile.
func (s *suite) profile(ctx context.Context, name string) (profileResult, error) {
	pr := profileResult{Broker: name}
	b, err := s.start(ctx, name, true)
	if err != nil {
		return pr, err
	}
	defer s.stop(b)
	dir := filepath.Join(s.work, "profile-"+name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return pr, err
	}
	base := "http://" + b.PprofAddr + "/debug/pprof/"
	if err := fetch(ctx, base+"allocs", filepath.Join(dir, "allocs-before.pprof")); err != nil {
		return pr, err
	}
	p := s.p
	loadDone := make(chan error, 1)
	go func() {
		var err error
		pr.Load, err = RunLoad(ctx, LoadConfig{Broker: b.Addr, Prefix: "bench/profile", ClientPrefix: "hubbench-profile",
			Pubs: p.FanInPubs, Subs: 1, QoS: 1, Size: p.Size, Count: p.FanInCount * 10, Duration: p.ProfileDuration,
			Window: p.Window, Flow: p.Flow, Filter: "+"})
		loadDone <- err
	}()
	time.Sleep(time.Second) // connected and in full flow

	cpu0, _ := b.CPU()
	t0 := time.Now()
	cpuDone := make(chan error, 1)
	go func() {
		cpuDone <- fetch(ctx, fmt.Sprintf("%sprofile?seconds=%d", base, int(p.ProfileCPU.Seconds())), filepath.Join(dir, "cpu.pprof"))
	}()
	snapEvery := p.ProfileCPU / 10
	for i := 0; i < 10; i++ {
		time.Sleep(snapEvery / 2)
		text, err := fetchText(ctx, base+"goroutine?debug=1")
		if err != nil {
			return pr, err
		}
		pr.addSnapshot(text)
		time.Sleep(snapEvery / 2)
	}
	if err := <-cpuDone; err != nil {
		return pr, err
	}
	cpu1, _ := b.CPU()
	pr.CPUUtil = (cpu1 - cpu0).Seconds() / time.Since(t0).Seconds()
	if err := fetch(ctx, base+"allocs", filepath.Join(dir, "allocs-after.pprof")); err != nil {
		return pr, err
	}
	if err := <-loadDone; err != nil {
		return pr, err
	}
	if err := lossCheck(1, pr.Load.Lost, 0); err != nil {
		s.fail("profiling %s: %v", s.specs[name].Label, err)
	}
	pr.CPUTop = s.pprofTop(b.Spec.Bin, "-nodecount=20", filepath.Join(dir, "cpu.pprof"))
	pr.CPUCum = s.pprofTop(b.Spec.Bin, "-cum", "-nodecount=40", filepath.Join(dir, "cpu.pprof"))
	pr.AllocTop = s.pprofTop(b.Spec.Bin, "-nodecount=20", "-sample_index=alloc_space",
		"-base", filepath.Join(dir, "allocs-before.pprof"), filepath.Join(dir, "allocs-after.pprof"))
	s.logf("profile %s: %s; hubd CPU %.0f%% of a core; %d of %d connection readers waiting for a commit over %d snapshots",
		name, pr.Load, pr.CPUUtil*100, pr.Waiting, pr.Readers, pr.Snapshots)
	return pr, nil
}

// pprofTop returns "go tool pprof -top" output, without the lines that
// name files on this machine.
func (s *suite) pprofTop(bin string, args ...string) string {
	cmd := exec.Command(s.cfg.Go, append(append([]string{"tool", "pprof", "-top"}, args[:len(args)-1]...), bin, args[len(args)-1])...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Sprintf("go tool pprof failed: %v\n%s", err, out)
	}
	var keep []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "File:") || strings.HasPrefix(line, "Build ID:") ||
			strings.HasPrefix(line, "Time:") || strings.Contains(line, "Main binary filename") ||
			strings.Contains(line, "pprof") && strings.Contains(line, "/") {
			continue
		}
		keep = append(keep, line)
	}
	return strings.TrimSpace(strings.Join(keep, "\n"))
}

// addSnapshot adds up a goroutine profile in debug=1 text form: blocks of
// "N @ addresses" followed by "#\taddress\tfunction+offset\tfile:line"
// lines, separated by blank lines.
func (pr *profileResult) addSnapshot(text string) {
	pr.Snapshots++
	for _, block := range strings.Split(text, "\n\n") {
		first, rest, _ := strings.Cut(block, "\n")
		nStr, _, ok := strings.Cut(first, " @ ")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(nStr))
		if err != nil {
			continue
		}
		has := func(fn string) bool { return strings.Contains(rest, fn) }
		switch {
		case has("mochi-mqtt/server/v2.(*Client).Read"):
			pr.Readers += n
			if has("hubd/hub/persist.(*writer).sync") {
				pr.Waiting += n
			}
		case has("hubd/hub/persist.(*writer).loop"):
			switch {
			case has("time.Sleep"):
				pr.WriterSleeping += n
			case has("hubd/hub/persist.(*writer).commit"):
				pr.WriterCommitting += n
			default:
				pr.WriterIdle += n
			}
		}
	}
}

func fetch(ctx context.Context, url, path string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func fetchText(ctx context.Context, url string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		b.WriteString(sc.Text())
		b.WriteByte('\n')
	}
	return b.String(), sc.Err()
}

// idleProfile is what profiling hubd with idle clients found.
type idleProfile struct {
	Clients    int
	RSS        float64 // MB
	Goroutines int
	// Stack and HeapInuse are the runtime's own figures (MemStats
	// StackInuse and HeapInuse), in MB, after a garbage collection.
	Stack, HeapInuse float64
	// HeapTop lists live heap by allocation site (go tool pprof -top
	// -sample_index=inuse_space) after a garbage collection.
	HeapTop string
}

// profileIdle connects the largest step of idle clients to a hubd serving
// its profiling endpoints and takes a heap profile and a goroutine count.
func (s *suite) profileIdle(ctx context.Context) (idleProfile, error) {
	n := s.p.IdleSteps[len(s.p.IdleSteps)-1]
	ip := idleProfile{Clients: n}
	b, err := s.start(ctx, "hubd", true)
	if err != nil {
		return ip, err
	}
	defer s.stop(b)
	dir := filepath.Join(s.work, "profile-idle")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return ip, err
	}
	base := "http://" + b.PprofAddr + "/debug/pprof/"
	heap := filepath.Join(dir, "heap.pprof")
	_, err = RunIdle(ctx, IdleConfig{Broker: b.Addr, ClientPrefix: "hubbench-idle", Steps: []int{n},
		KeepAlive: 60 * time.Second, Parallel: 32, Settle: 1500 * time.Millisecond,
		Sample: func(int) error {
			rss, err := b.RSS()
			if err != nil {
				return err
			}
			ip.RSS = mb(rss)
			text, err := fetchText(ctx, base+"goroutine?debug=1")
			if err != nil {
				return err
			}
			first, _, _ := strings.Cut(text, "\n")
			ip.Goroutines, _ = strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(first, "goroutine profile: total")))
			if err := fetch(ctx, base+"heap?gc=1", heap); err != nil {
				return err
			}
			stats, err := fetchText(ctx, base+"heap?debug=1")
			if err != nil {
				return err
			}
			ip.Stack, ip.HeapInuse = memStat(stats, "# Stack = "), memStat(stats, "# HeapInuse = ")
			return nil
		}})
	if err != nil {
		return ip, err
	}
	ip.HeapTop = s.pprofTop(b.Spec.Bin, "-nodecount=20", "-sample_index=inuse_space", heap)
	s.logf("profile idle: %d clients, RSS %.1f MB, %d goroutines", n, ip.RSS, ip.Goroutines)
	return ip, nil
}

// memStat finds the line starting with prefix in the MemStats section of a
// heap profile in debug=1 form ("# HeapInuse = 123" or "# Stack = 12 /
// 34") and returns its first number in MB.
func memStat(text, prefix string) float64 {
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				v, _ := strconv.ParseFloat(f[0], 64)
				return v / (1 << 20)
			}
		}
	}
	return math.NaN()
}
