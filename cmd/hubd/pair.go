package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"
)

// runPair opens the pairing window: for the given time, clients that log
// in with an onboarding credential (a user with role onboarding) may
// announce new devices. hubd pair --for 0s closes it.
func runPair(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hubd pair", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var common commonFlags
	common.register(fs)
	d := fs.Duration("for", 5*time.Minute, "how long the window stays open (at most 1h; 0s closes it)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &exitCodeError{code: 2, err: err}
	}
	if fs.NArg() > 0 {
		return usageError("pair: unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	cfg, err := common.load(set)
	if err != nil {
		return err
	}
	store, closeDB, err := openUsers(ctx, cfg.DataDir)
	if err != nil {
		return err
	}
	defer closeDB()
	until, err := store.OpenPairingWindow(ctx, *d)
	if err != nil {
		return usageError("pair: %v", err)
	}
	if *d == 0 {
		fmt.Fprintln(stdout, "Pairing window closed.")
		return nil
	}
	fmt.Fprintf(stdout, "Pairing window open until %s: devices may announce themselves with an onboarding credential.\n", until.Local().Format(time.RFC3339))
	return nil
}
