package persist

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// errClosed is returned to writes submitted after the writer stopped.
var errClosed = errors.New("storage writer closed")

// stmt is one SQL statement with its arguments.
type stmt struct {
	query string
	args  []any
}

// batch is a unit of writes that commit together or not at all. done, if
// set, receives the commit's result.
type batch struct {
	stmts []stmt
	done  chan error
}

// writer is the broker's single SQLite writer. Writes from many clients
// queue up while a commit is running and go into the next transaction
// together (group commit), and commits start at most once per interval, so
// a steady stream of small writes costs a bounded number of fsyncs.
type writer struct {
	db       *sql.DB
	log      *slog.Logger
	interval time.Duration

	mu      sync.Mutex
	pending []batch
	wake    chan struct{}
	closed  bool

	stopped chan struct{}

	commits   atomic.Int64
	statement atomic.Int64
}

func newWriter(db *sql.DB, log *slog.Logger, interval time.Duration) *writer {
	w := &writer{
		db:       db,
		log:      log,
		interval: interval,
		wake:     make(chan struct{}, 1),
		stopped:  make(chan struct{}),
	}
	go w.loop()
	return w
}

// submit queues b. It never blocks on the database.
func (w *writer) submit(b batch) {
	if len(b.stmts) == 0 && b.done == nil {
		return
	}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		if b.done != nil {
			b.done <- errClosed
		}
		return
	}
	w.pending = append(w.pending, b)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// sync queues b and waits until it is committed.
func (w *writer) sync(ctx context.Context, stmts ...stmt) error {
	done := make(chan error, 1)
	w.submit(batch{stmts: stmts, done: done})
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close commits everything queued and stops the writer.
func (w *writer) close() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		<-w.stopped
		return
	}
	w.closed = true
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	<-w.stopped
}

func (w *writer) loop() {
	defer close(w.stopped)
	var last time.Time
	for {
		<-w.wake
		if wait := w.interval - time.Since(last); wait > 0 {
			time.Sleep(wait)
		}
		w.mu.Lock()
		todo := w.pending
		w.pending = nil
		closed := w.closed
		w.mu.Unlock()

		if len(todo) > 0 {
			last = time.Now()
			w.commit(todo)
		}
		if closed {
			w.mu.Lock()
			empty := len(w.pending) == 0
			w.mu.Unlock()
			if empty {
				return
			}
			select {
			case w.wake <- struct{}{}:
			default:
			}
		}
	}
}

// commit runs every statement of todo in one transaction and tells each
// waiter the result. If the transaction fails as a whole, each batch is
// retried in a transaction of its own so that one bad write cannot take
// its neighbours down with it.
func (w *writer) commit(todo []batch) {
	err := w.exec(todo)
	if err != nil && len(todo) > 1 {
		w.log.Warn("storage batch failed, retrying writes one by one", "error", err, "batches", len(todo))
		for i := range todo {
			err := w.exec(todo[i : i+1])
			if err != nil {
				w.log.Error("storage write failed", "error", err)
			}
			if todo[i].done != nil {
				todo[i].done <- err
			}
		}
		return
	}
	if err != nil {
		w.log.Error("storage commit failed", "error", err)
	}
	for _, b := range todo {
		if b.done != nil {
			b.done <- err
		}
	}
}

func (w *writer) exec(todo []batch) error {
	tx, err := w.db.Begin()
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	prepared := map[string]*sql.Stmt{}
	n := 0
	for _, b := range todo {
		for _, s := range b.stmts {
			ps, ok := prepared[s.query]
			if !ok {
				if ps, err = tx.Prepare(s.query); err != nil {
					return fmt.Errorf("prepare %q: %w", s.query, err)
				}
				prepared[s.query] = ps
			}
			if _, err := ps.Exec(s.args...); err != nil {
				return fmt.Errorf("exec %q: %w", s.query, err)
			}
			n++
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	w.commits.Add(1)
	w.statement.Add(int64(n))
	return nil
}
