package main

import (
	"context"
	"fmt"
	"io"
	"time"
)

// runPair opens the pairing window: for the given time, clients that log
// in with an onboarding credential (a user with role onboarding) may
// announce new devices. hubd pair --for 0s closes it.
func runPair(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newStoreCommand("hubd pair", stderr)
	d := c.fs.Duration("for", 5*time.Minute, "how long the window stays open (at most 1h; 0s closes it)")
	_, store, closeDB, err := c.open(ctx, args, 0)
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
