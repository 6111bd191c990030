package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"hubd/hub/auth"
)

// runToken manages API bearer tokens: hubd token create NAME [--role
// service|admin], hubd token list, hubd token del NAME.
func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError("token: missing subcommand (create, list, del)")
	}
	sub, args := args[0], args[1:]
	c := newStoreCommand("hubd token "+sub, stderr)
	role := c.fs.String("role", "service", "role of the token: service or admin")
	want := 1
	if sub == "list" {
		want = 0
	}
	pos, store, closeDB, err := c.open(ctx, args, want)
	if err != nil {
		return err
	}
	defer closeDB()

	switch sub {
	case "create":
		r, err := auth.ParseRole(*role)
		if err != nil {
			return usageError("token create: --role: %v", err)
		}
		secret, _, err := store.CreateToken(ctx, pos[0], r)
		if err != nil {
			return fmt.Errorf("token create %s: %w", pos[0], err)
		}
		fmt.Fprintf(stdout, "Created token %q (%s). Use it as \"Authorization: Bearer %s\"; it is shown only once.\n%s\n", pos[0], r, secret, secret)
	case "list":
		tokens, err := store.ListTokens(ctx)
		if err != nil {
			return fmt.Errorf("token list: %w", err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLE\tCREATED\tLAST USED")
		for _, t := range tokens {
			last := "never"
			if t.LastUsedAt != nil {
				last = t.LastUsedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, t.Role, t.CreatedAt.Format(time.RFC3339), last)
		}
		tw.Flush()
	case "del":
		if err := store.DeleteToken(ctx, pos[0]); err != nil {
			return fmt.Errorf("token del %s: %w", pos[0], err)
		}
		fmt.Fprintf(stdout, "Deleted token %q\n", pos[0])
	default:
		return usageError("token: unknown subcommand %q (create, list, del)", sub)
	}
	return nil
}
