package persist

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"hubd/hub/sqlite"
)

func openTestDB(t testing.TB) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "test.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestWriterGroupCommit: many concurrent writers waiting for durability
// share transactions, and every write is in the database when its wait
// returns.
func TestWriterGroupCommit(t *testing.T) {
	db := openTestDB(t)
	w := newWriter(db.SQL(), slog.New(slog.DiscardHandler), 5*time.Millisecond)
	defer w.close()

	const writers, each = 8, 25
	var wg sync.WaitGroup
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < each; j++ {
				err := w.sync(context.Background(), stmt{
					`INSERT INTO mqtt_retained (topic, created, expiry, version, packet) VALUES (?, 0, 0, 5, x'00')`,
					[]any{topicName(i, j)},
				})
				if err != nil {
					t.Error(err)
					return
				}
				var n int
				if err := db.SQL().QueryRow(`SELECT count(*) FROM mqtt_retained WHERE topic = ?`, topicName(i, j)).Scan(&n); err != nil || n != 1 {
					t.Errorf("%s not stored after sync returned: n=%d err=%v", topicName(i, j), n, err)
				}
			}
		}(i)
	}
	wg.Wait()
	commits, statements := w.commits.Load(), w.statement.Load()
	if statements != writers*each {
		t.Fatalf("statements = %d, want %d", statements, writers*each)
	}
	if commits >= statements {
		t.Errorf("%d commits for %d writes: no grouping", commits, statements)
	}
	t.Logf("%d writes in %d commits", statements, commits)
}

// TestWriterIsolatesBadWrite: a failing statement fails its own batch
// only; the others in the same transaction still commit.
func TestWriterIsolatesBadWrite(t *testing.T) {
	db := openTestDB(t)
	w := newWriter(db.SQL(), slog.New(slog.DiscardHandler), 20*time.Millisecond)
	defer w.close()

	good := make(chan error, 1)
	bad := make(chan error, 1)
	w.submit(batch{stmts: []stmt{{`INSERT INTO mqtt_retained (topic, created, expiry, version, packet) VALUES ('ok', 0, 0, 5, x'00')`, nil}}, done: good})
	w.submit(batch{stmts: []stmt{{`INSERT INTO no_such_table VALUES (1)`, nil}}, done: bad})
	if err := <-good; err != nil {
		t.Errorf("good write: %v", err)
	}
	if err := <-bad; err == nil {
		t.Errorf("bad write: no error")
	}
	var n int
	if err := db.SQL().QueryRow(`SELECT count(*) FROM mqtt_retained WHERE topic = 'ok'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("good write not stored: n=%d err=%v", n, err)
	}
}

func topicName(i, j int) string {
	return "t/" + string(rune('a'+i)) + "/" + string(rune('a'+j))
}
