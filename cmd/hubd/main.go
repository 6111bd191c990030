// Command hubd runs the hubd home-automation hub: an MQTT broker with
// durable state in SQLite, and the tools to manage its users and
// configuration.
//
// Usage:
//
//	hubd [serve] [flags]          run the hub (the default)
//	hubd user add NAME --role ROLE [--password-stdin]
//	hubd user list | del NAME | passwd NAME --password-stdin
//	hubd pair [--for 5m]          open the pairing window
//	hubd token create NAME [--role service|admin]
//	hubd token list | del NAME
//	hubd config check FILE        validate a configuration file
//	hubd config example           print a commented configuration
//	hubd selftest                 check that this binary works on this machine
//	hubd version
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sigs
		cancel() // first signal: stop gracefully
		<-sigs
		fmt.Fprintln(os.Stderr, "hubd: second signal, exiting now")
		os.Exit(1)
	}()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// exitCodeError carries an exit status other than 1.
type exitCodeError struct {
	code int
	err  error
}

func (e *exitCodeError) Error() string { return e.err.Error() }
func (e *exitCodeError) Unwrap() error { return e.err }

// usageError marks a mistake on the command line: exit status 2.
func usageError(format string, args ...any) error {
	return &exitCodeError{code: 2, err: fmt.Errorf(format, args...)}
}

// run executes one hubd command and returns its exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	err := dispatch(ctx, args, stdin, stdout, stderr)
	if err == nil {
		return 0
	}
	if errors.Is(err, errFlagHelp) {
		return 0
	}
	// One line per problem, so that every config error keeps its file:line.
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintf(stderr, "hubd: %s\n", line)
	}
	var ec *exitCodeError
	if errors.As(err, &ec) {
		return ec.code
	}
	return 1
}

func dispatch(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		m := NewMain(stdout, stderr)
		if err := m.ParseFlags(args); err != nil {
			return err
		}
		return m.Run(ctx)
	case "user":
		return runUser(ctx, args, stdin, stdout, stderr)
	case "pair":
		return runPair(ctx, args, stdout, stderr)
	case "token":
		return runToken(ctx, args, stdout, stderr)
	case "config":
		return runConfig(args, stdout, stderr)
	case "selftest":
		return runSelftest(ctx, stdout)
	case "version":
		fmt.Fprintf(stdout, "hubd %s\n", Version())
		return nil
	case "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		return usageError("unknown command %q (try: serve, user, config, version)", cmd)
	}
}

const usage = `hubd: a home-automation hub with a durable MQTT broker.

Commands:
  hubd [serve] [flags]                 run the hub (the default)
  hubd user add NAME --role ROLE [--password-stdin]
  hubd user list
  hubd user del NAME
  hubd user passwd NAME --password-stdin
  hubd pair [--for 5m]                 let onboarding credentials announce devices
  hubd token create NAME [--role service|admin]   an API bearer token
  hubd token list | del NAME
  hubd config check FILE               validate a configuration file
  hubd config example                  print a commented configuration file
  hubd selftest                        check this binary works here (SQLite, broker, TCP)
  hubd version

Run "hubd serve -h" for the flags.
`
