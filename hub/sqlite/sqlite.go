// Package sqlite owns hubd's single SQLite database: opening it with the
// right pragmas, recovering from a corrupt file, and running the versioned
// migrations that every other package brings for its own tables.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver
)

// DB is the hub's database handle. It is safe for concurrent use; writes are
// serialised by SQLite itself (transactions begin IMMEDIATE) and by each
// owner's own writer where throughput matters.
type DB struct {
	db   *sql.DB
	path string
	log  *slog.Logger

	// Now returns the current time; tests replace it.
	Now func() time.Time
}

// Open opens (creating if needed) the database file at path. A file that
// cannot be opened or fails SQLite's integrity check is renamed to
// "<path>.corrupt-<time>" (with its -wal and -shm companions), the fact is
// logged at error level, and a fresh database is created in its place: a
// hub that loses its state must still come up.
func Open(ctx context.Context, path string, log *slog.Logger) (*DB, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db, err := open(ctx, path)
	if err == nil {
		return &DB{db: db, path: path, log: log, Now: time.Now}, nil
	}
	if errors.Is(err, errUnusable) {
		return nil, err
	}
	aside := fmt.Sprintf("%s.corrupt-%s", path, time.Now().UTC().Format("20060102T150405Z"))
	log.Error("database is corrupt: moved aside, starting on a fresh one",
		"path", path, "moved_to", aside, "error", err)
	if rerr := os.Rename(path, aside); rerr != nil {
		return nil, fmt.Errorf("move corrupt database %s aside: %w", path, rerr)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if _, serr := os.Stat(path + suffix); serr == nil {
			_ = os.Rename(path+suffix, aside+suffix)
		}
	}
	db, err = open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("open fresh database %s: %w", path, err)
	}
	return &DB{db: db, path: path, log: log, Now: time.Now}, nil
}

// errUnusable marks failures that a fresh file would not cure (a missing
// directory, no permission): hubd must report them, not hide them.
var errUnusable = errors.New("database unusable")

func open(ctx context.Context, path string) (*sql.DB, error) {
	if dir := dirOf(path); dir != "" {
		st, err := os.Stat(dir)
		if err != nil {
			return nil, fmt.Errorf("%w: data dir %s: %v", errUnusable, dir, err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("%w: data dir %s is not a directory", errUnusable, dir)
		}
	}
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600); err != nil {
		return nil, fmt.Errorf("%w: %v", errUnusable, err)
	} else {
		f.Close()
	}

	// Pragmas go in the DSN so that every pooled connection gets them.
	// synchronous=FULL: a commit is on disk before it returns, so an
	// acknowledgement given after a commit survives a power cut; the
	// broker's writer batches commits to keep fsyncs few.
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "FULL")
	q.Set("_busy_timeout", "10000")
	q.Set("_foreign_keys", "on")
	q.Set("_txlock", "immediate")
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()

	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, err
	}
	var res string
	if err := db.QueryRowContext(ctx, "PRAGMA quick_check").Scan(&res); err != nil {
		db.Close()
		return nil, fmt.Errorf("integrity check: %w", err)
	}
	if res != "ok" {
		db.Close()
		return nil, fmt.Errorf("integrity check: %s", res)
	}
	return db, nil
}

func dirOf(p string) string {
	i := strings.LastIndexByte(p, os.PathSeparator)
	if i < 0 {
		return ""
	}
	if i == 0 {
		return "/"
	}
	return p[:i]
}

// Path returns the database file's path.
func (db *DB) Path() string { return db.path }

// SQL returns the underlying handle for packages that run their own queries.
func (db *DB) SQL() *sql.DB { return db.db }

// Close closes the database. After a clean close the WAL is checkpointed.
func (db *DB) Close() error {
	if db == nil || db.db == nil {
		return nil
	}
	return db.db.Close()
}

// Ping runs a trivial read that goes through SQLite's pager, proving the
// database is open and readable.
func (db *DB) Ping(ctx context.Context) error {
	var n int
	return db.db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(&n)
}

// Tx is a transaction with the time fixed when it began.
type Tx struct {
	*sql.Tx
	Now time.Time
}

// BeginTx starts a transaction. Callers defer Rollback and end writes with
// Commit; reads never commit.
func (db *DB) BeginTx(ctx context.Context, opts *sql.TxOptions) (*Tx, error) {
	tx, err := db.db.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &Tx{Tx: tx, Now: db.Now().UTC()}, nil
}

// Migrate applies, in name order, every "*.sql" file of fsys under dir that
// has not yet been recorded for owner. Each file runs in its own
// transaction together with its record in schema_migrations, so a failed
// migration leaves no trace. Each package calls Migrate with its own owner
// name and its own embedded files: tables belong to the package that
// creates them.
func (db *DB) Migrate(ctx context.Context, owner string, fsys fs.FS, dir string) error {
	if _, err := db.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		owner TEXT NOT NULL,
		name TEXT NOT NULL,
		applied_at TEXT NOT NULL,
		PRIMARY KEY (owner, name)
	)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	names, err := fs.Glob(fsys, path.Join(dir, "*.sql"))
	if err != nil {
		return fmt.Errorf("list %s migrations: %w", owner, err)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := db.migrateFile(ctx, owner, fsys, name); err != nil {
			return fmt.Errorf("migrate %s %s: %w", owner, path.Base(name), err)
		}
	}
	return nil
}

func (db *DB) migrateFile(ctx context.Context, owner string, fsys fs.FS, name string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	var n int
	base := path.Base(name)
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE owner = ? AND name = ?`, owner, base).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	buf, err := fs.ReadFile(fsys, name)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, string(buf)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (owner, name, applied_at) VALUES (?, ?, ?)`,
		owner, base, tx.Now.Format(time.RFC3339)); err != nil {
		return err
	}
	return tx.Commit()
}
