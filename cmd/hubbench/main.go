// Command hubbench loads an MQTT broker on this machine and measures it:
// throughput, end-to-end latency, loss and duplicates, connection set-up,
// offline queues, memory per idle client and start-up time. Its suite runs
// the same scenarios against hubd and Mosquitto and writes a report.
//
//	hubbench load  -broker 127.0.0.1:1883 [-pubs 10 -subs 1 -qos 1 -size 64 ...]
//	hubbench queue -broker 127.0.0.1:1883 [-total 10000 -pubs 50]
//	hubbench idle  -broker 127.0.0.1:1883 -pid PID [-steps 1000,5000]
//	hubbench suite -hubd bin/hubd -mosquitto /usr/sbin/mosquitto -out bench/results
//
// Every client speaks MQTT 3.1.1 through github.com/eclipse/paho.mqtt.golang,
// and only to loopback addresses. Each run is bounded in message count and
// time.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "hubbench:", err)
		}
		os.Exit(1)
	}
}

const usage = `usage:
  hubbench load  -broker HOST:PORT [flags]   publish/subscribe load
  hubbench queue -broker HOST:PORT [flags]   offline persistent session: queue, reconnect, drain
  hubbench idle  -broker HOST:PORT [flags]   idle clients; broker memory with -pid
  hubbench suite [flags]                     hubd against Mosquitto; writes the report
Run "hubbench COMMAND -h" for a command's flags.`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "load":
		return cmdLoad(ctx, args[1:], stdout, stderr)
	case "queue":
		return cmdQueue(ctx, args[1:], stdout, stderr)
	case "idle":
		return cmdIdle(ctx, args[1:], stdout, stderr)
	case "suite":
		return cmdSuite(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	fmt.Fprintln(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

func cmdLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hubbench load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c LoadConfig
	qos := fs.Int("qos", 0, "QoS of publishes and subscriptions: 0, 1 or 2")
	fs.StringVar(&c.Broker, "broker", "127.0.0.1:1883", "broker `host:port` (loopback only)")
	fs.StringVar(&c.Prefix, "prefix", "", "topic prefix (default bench/<unique>); publisher i sends to PREFIX/i")
	fs.StringVar(&c.ClientPrefix, "client-prefix", "hubbench", "client id prefix")
	fs.IntVar(&c.Pubs, "pubs", 10, "publishers")
	fs.IntVar(&c.Subs, "subs", 1, "subscribers")
	fs.IntVar(&c.Size, "size", 64, "payload `bytes` (at least 20: the header carries a timestamp)")
	fs.IntVar(&c.Count, "count", 10000, "messages per publisher, at most")
	fs.DurationVar(&c.Duration, "duration", 5*time.Second, "longest time publishers send (0: until -count)")
	fs.IntVar(&c.Window, "window", 10, "publishes per publisher awaiting completion")
	fs.IntVar(&c.Flow, "flow", 0, "end-to-end window: messages per publisher sent but not yet delivered to every subscriber (0: unbounded)")
	fs.BoolVar(&c.Retain, "retain", false, "publish retained messages")
	fs.StringVar(&c.Filter, "filter", "+", `subscription filter below the prefix: "+" or "#"`)
	fs.BoolVar(&c.PersistentSubs, "persistent", false, "subscribers keep their session (clean session false)")
	fs.DurationVar(&c.Settle, "settle", 3*time.Second, "give up on missing deliveries after this long without one")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c.QoS = byte(*qos)
	if *qos < 0 || *qos > 2 {
		return fmt.Errorf("-qos %d: want 0, 1 or 2", *qos)
	}
	ctx, cancel := context.WithTimeout(ctx, c.Duration+2*time.Minute)
	defer cancel()
	res, err := RunLoad(ctx, c)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, res)
	return lossCheck(c.QoS, res.Lost, res.Dups)
}

// lossCheck fails on any loss at QoS 1/2 and any duplicate at QoS 2.
func lossCheck(qos byte, lost, dups int64) error {
	switch {
	case qos >= 1 && lost > 0:
		return fmt.Errorf("LOSS: %d QoS %d messages acknowledged by the broker never arrived", lost, qos)
	case qos == 2 && dups > 0:
		return fmt.Errorf("DUPLICATES: %d QoS 2 messages arrived more than once", dups)
	}
	return nil
}

func cmdQueue(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hubbench queue", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c QueueConfig
	fs.StringVar(&c.Broker, "broker", "127.0.0.1:1883", "broker `host:port` (loopback only)")
	fs.StringVar(&c.Prefix, "prefix", "bench/queue", "topic prefix")
	fs.StringVar(&c.ClientPrefix, "client-prefix", "hubbench", "client id prefix")
	fs.IntVar(&c.Pubs, "pubs", 50, "publishers filling the queue")
	fs.IntVar(&c.Total, "total", 10000, "messages queued (the broker's max_queued_messages must allow it)")
	fs.IntVar(&c.Size, "size", 64, "payload `bytes`")
	fs.IntVar(&c.Window, "window", 10, "publishes per publisher awaiting acknowledgement")
	fs.DurationVar(&c.Settle, "settle", 10*time.Second, "give up the drain after this long without a message")
	fs.DurationVar(&c.ReconnectDelay, "reconnect-delay", 0, "pause between the fill's last acknowledgement and the subscriber's return")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	res, err := RunQueue(ctx, c)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, res)
	return lossCheck(1, res.Lost, 0)
}

func cmdIdle(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hubbench idle", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c IdleConfig
	fs.StringVar(&c.Broker, "broker", "127.0.0.1:1883", "broker `host:port` (loopback only)")
	fs.StringVar(&c.ClientPrefix, "client-prefix", "hubbench", "client id prefix")
	steps := fs.String("steps", "1000,5000", "cumulative client counts, comma-separated")
	pid := fs.Int("pid", 0, "broker process id, to read its RSS from /proc after each step")
	fs.DurationVar(&c.KeepAlive, "keepalive", 60*time.Second, "keep-alive the clients ask for")
	fs.IntVar(&c.Parallel, "parallel", 32, "connections set up at once")
	fs.DurationVar(&c.Settle, "settle", 2*time.Second, "pause after each step before reading memory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, s := range strings.Split(*steps, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("-steps: bad count %q", s)
		}
		c.Steps = append(c.Steps, n)
	}
	c.Sample = func(n int) error {
		if *pid == 0 {
			return nil
		}
		rss, err := procRSS(*pid)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%d clients: broker RSS %.1f MB\n", n, float64(rss)/(1<<20))
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	res, err := RunIdle(ctx, c)
	for _, s := range res {
		fmt.Fprintf(stdout, "%d clients: %.0f connections/s, slowest CONNACK %v\n", s.Clients, s.ConnectRate, s.MaxConnect.Round(time.Millisecond))
	}
	return err
}
