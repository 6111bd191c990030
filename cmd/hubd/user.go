package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"hubd/hub"
	"hubd/hub/auth"
	"hubd/hub/sqlite"
)

// runUser manages users in the database of a data directory. It works
// whether or not hubd is running: SQLite arbitrates, and the running hub
// reads users on every connection.
func runUser(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError("user: missing subcommand (add, list, del, passwd)")
	}
	sub, args := args[0], args[1:]
	c := newStoreCommand("hubd user "+sub, stderr)
	role := c.fs.String("role", "", "role: admin, service, device or onboarding")
	pwStdin := c.fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	wantArgs := 1
	if sub == "list" {
		wantArgs = 0
	}
	pos, store, closeDB, err := c.open(ctx, args, wantArgs)
	if err != nil {
		return err
	}
	defer closeDB()

	switch sub {
	case "add":
		r, err := auth.ParseRole(*role)
		if err != nil {
			return usageError("user add: --role: %v", err)
		}
		pw, generated, err := password(*pwStdin, stdin)
		if err != nil {
			return err
		}
		if _, err := store.Add(ctx, pos[0], r, pw); err != nil {
			return fmt.Errorf("user add %s: %w", pos[0], err)
		}
		if generated {
			fmt.Fprintf(stdout, "Created user %q (%s) with password: %s\n", pos[0], r, pw)
		} else {
			fmt.Fprintf(stdout, "Created user %q (%s)\n", pos[0], r)
		}
	case "list":
		users, err := store.List(ctx)
		if err != nil {
			return fmt.Errorf("user list: %w", err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLE\tCREATED")
		for _, u := range users {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", u.Name, u.Role, u.CreatedAt.Format(time.RFC3339))
		}
		tw.Flush()
	case "del":
		if err := store.Delete(ctx, pos[0]); err != nil {
			return fmt.Errorf("user del %s: %w", pos[0], err)
		}
		fmt.Fprintf(stdout, "Deleted user %q\n", pos[0])
	case "passwd":
		if !*pwStdin {
			return usageError("user passwd: --password-stdin is required")
		}
		pw, _, err := password(true, stdin)
		if err != nil {
			return err
		}
		if err := store.SetPassword(ctx, pos[0], pw); err != nil {
			return fmt.Errorf("user passwd %s: %w", pos[0], err)
		}
		fmt.Fprintf(stdout, "Changed the password of %q\n", pos[0])
	default:
		return usageError("user: unknown subcommand %q (add, list, del, passwd)", sub)
	}
	return nil
}

// storeCommand is a subcommand that works on the user store of a data
// directory (user, token, pair): the common flags, flags anywhere among
// the arguments, and the store opened.
type storeCommand struct {
	name   string
	fs     *flag.FlagSet
	common commonFlags
}

func newStoreCommand(name string, stderr io.Writer) *storeCommand {
	c := &storeCommand{name: name, fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	c.fs.SetOutput(stderr)
	c.common.register(c.fs)
	return c
}

// open parses args, which must hold wantArgs positional arguments, and
// opens the store; the caller defers closeDB.
func (c *storeCommand) open(ctx context.Context, args []string, wantArgs int) (pos []string, store *auth.Store, closeDB func(), err error) {
	pos, err = parseInterspersed(c.fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil, nil, err
		}
		return nil, nil, nil, &exitCodeError{code: 2, err: err}
	}
	if len(pos) != wantArgs {
		return nil, nil, nil, usageError("%s: want %d argument(s), got %d", strings.TrimPrefix(c.name, "hubd "), wantArgs, len(pos))
	}
	set := map[string]bool{}
	c.fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	cfg, err := c.common.load(set)
	if err != nil {
		return nil, nil, nil, err
	}
	store, closeDB, err = openUsers(ctx, cfg.DataDir)
	return pos, store, closeDB, err
}

// openUsers opens the user store of dataDir, creating the database if
// needed.
func openUsers(ctx context.Context, dataDir string) (*auth.Store, func(), error) {
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, nil, fmt.Errorf("data dir: %w", err)
	}
	if err := checkOwner(dataDir); err != nil {
		return nil, nil, err
	}
	db, err := sqlite.Open(ctx, filepath.Join(dataDir, hub.DatabaseFile), nil)
	if err != nil {
		return nil, nil, fmt.Errorf("open database: %w", err)
	}
	store := auth.NewStore(db)
	if err := store.Migrate(ctx); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("open database: %w", err)
	}
	return store, func() { db.Close() }, nil
}

// password reads a password from the first line of stdin, or generates
// one.
func password(fromStdin bool, stdin io.Reader) (pw string, generated bool, err error) {
	if !fromStdin {
		pw, err = auth.GeneratePassword()
		return pw, true, err
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", false, fmt.Errorf("read password from stdin: %w", err)
	}
	pw = strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", false, errors.New("read password from stdin: empty password")
	}
	return pw, false, nil
}

// parseInterspersed parses flags that may come before or after the
// positional arguments, and returns the positionals.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// runConfig validates or prints configuration files.
func runConfig(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError("config: missing subcommand (check FILE, example)")
	}
	switch args[0] {
	case "check":
		if len(args) != 2 {
			return usageError("config check: want one FILE argument")
		}
		if _, err := LoadConfigFile(args[1]); err != nil {
			return &exitCodeError{code: 1, err: err}
		}
		fmt.Fprintf(stdout, "%s: OK\n", args[1])
		return nil
	case "example":
		io.WriteString(stdout, exampleConfig)
		return nil
	default:
		return usageError("config: unknown subcommand %q (check, example)", args[0])
	}
}

// checkOwner refuses to let root work in a data directory that belongs to
// another user (the hubd system user): files root would create there (the
// database's -wal and -shm files) would lock the service out of its own
// database.
func checkOwner(dataDir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	st, err := os.Stat(dataDir)
	if err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok || sys.Uid == 0 {
		return nil
	}
	name := strconv.Itoa(int(sys.Uid))
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	return fmt.Errorf("data dir %s belongs to user %s: run this as that user (sudo -u %s hubd ...), not as root", dataDir, name, name)
}
