package auth

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"hubd/hub/sqlite"
)

// MustOpenDB opens a migrated database file in a temporary directory.
func MustOpenDB(tb testing.TB) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "hubd.db"), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := NewStore(db).Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return db
}

// MustOpenStore returns a Store on a fresh database, hashing at bcrypt's
// minimum cost to keep tests fast, and counting password comparisons.
func MustOpenStore(tb testing.TB) (*Store, *atomic.Int64) {
	tb.Helper()
	return newTestStore(MustOpenDB(tb))
}

func newTestStore(db *sqlite.DB) (*Store, *atomic.Int64) {
	s := NewStore(db)
	s.cost = bcrypt.MinCost
	var n atomic.Int64
	s.compare = func(hash, pw []byte) error {
		n.Add(1)
		return bcrypt.CompareHashAndPassword(hash, pw)
	}
	return s, &n
}

func MustAdd(tb testing.TB, s *Store, name string, role Role, password string) User {
	tb.Helper()
	u, err := s.Add(context.Background(), name, role, password)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

func TestParseRole(t *testing.T) {
	for _, s := range []string{"admin", "service", "device", "onboarding"} {
		if r, err := ParseRole(s); err != nil || string(r) != s {
			t.Errorf("ParseRole(%q) = %q, %v", s, r, err)
		}
	}
	for _, s := range []string{"", "anonymous", "Admin", "root"} {
		_, err := ParseRole(s)
		if err == nil {
			t.Errorf("ParseRole(%q): no error", s)
			continue
		}
		if got := err.Error(); !strings.Contains(got, `"`+s+`"`) || !strings.Contains(got, "admin, service, device or onboarding") {
			t.Errorf("ParseRole(%q) error %q: want the value and the allowed roles", s, got)
		}
	}
}

func TestMigrate_Twice(t *testing.T) {
	db := MustOpenDB(t)
	if err := NewStore(db).Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestStore_Add(t *testing.T) {
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		s, _ := MustOpenStore(t)
		u := MustAdd(t, s, "kitchen-sensor.1@home_", RoleDevice, "pw")
		if got, want := u.Name, "kitchen-sensor.1@home_"; got != want {
			t.Errorf("Name = %q, want %q", got, want)
		}
		if u.CreatedAt.IsZero() {
			t.Error("CreatedAt is zero")
		}
		got, err := s.Get(ctx, u.Name)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != u.Name || got.Role != RoleDevice || !got.CreatedAt.Equal(u.CreatedAt) {
			t.Errorf("Get = %+v, want %+v", got, u)
		}
	})
	t.Run("Unicode", func(t *testing.T) {
		s, _ := MustOpenStore(t)
		MustAdd(t, s, "Jürgen", RoleAdmin, "pw")
		MustAdd(t, s, strings.Repeat("ü", 64), RoleAdmin, "pw")
	})
	t.Run("ErrExists", func(t *testing.T) {
		s, _ := MustOpenStore(t)
		MustAdd(t, s, "bob", RoleDevice, "pw")
		if _, err := s.Add(ctx, "bob", RoleAdmin, "other"); !errors.Is(err, ErrExists) {
			t.Fatalf("err = %v, want ErrExists", err)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		s, _ := MustOpenStore(t)
		for _, tc := range []struct {
			name, password string
			role           Role
		}{
			{"", "pw", RoleDevice},
			{strings.Repeat("a", 65), "pw", RoleDevice},
			{"a+b", "pw", RoleDevice},
			{"a#", "pw", RoleDevice},
			{"a/b", "pw", RoleDevice},
			{"a b", "pw", RoleDevice},
			{"a\tb", "pw", RoleDevice},
			{"a\x00", "pw", RoleDevice},
			{"a%u", "pw", RoleDevice},
			{"\xff", "pw", RoleDevice},
			{"bob", "", RoleDevice},
			{"bob", strings.Repeat("x", 73), RoleDevice},
			{"bob", "pw", RoleAnonymous},
			{"bob", "pw", ""},
		} {
			if _, err := s.Add(ctx, tc.name, tc.role, tc.password); err == nil {
				t.Errorf("Add(%q, %q, %q): no error", tc.name, tc.role, tc.password)
			}
		}
		if n, err := s.Count(ctx); err != nil || n != 0 {
			t.Errorf("Count = %d, %v; want 0", n, err)
		}
	})
}

func TestStore_ListCountDelete(t *testing.T) {
	ctx := context.Background()
	s, _ := MustOpenStore(t)
	if users, err := s.List(ctx); err != nil || len(users) != 0 {
		t.Fatalf("List = %v, %v; want empty", users, err)
	}
	for _, n := range []string{"zed", "Alice", "bob", "alice"} {
		MustAdd(t, s, n, RoleDevice, "pw")
	}
	users, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range users {
		names = append(names, u.Name)
	}
	if got, want := strings.Join(names, ","), "Alice,alice,bob,zed"; got != want {
		t.Errorf("List = %s, want %s", got, want)
	}
	if n, err := s.Count(ctx); err != nil || n != 4 {
		t.Errorf("Count = %d, %v; want 4", n, err)
	}

	if err := s.Delete(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "bob"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete: err = %v, want ErrNotFound", err)
	}
	if _, err := s.Get(ctx, "bob"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get deleted: err = %v, want ErrNotFound", err)
	}
	if n, _ := s.Count(ctx); n != 3 {
		t.Errorf("Count = %d, want 3", n)
	}
	if err := s.SetPassword(ctx, "bob", "pw"); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetPassword of deleted: err = %v, want ErrNotFound", err)
	}
	if err := s.SetPassword(ctx, "alice", ""); err == nil {
		t.Error("SetPassword empty: no error")
	}
}

func TestStore_Verify(t *testing.T) {
	ctx := context.Background()
	s, compares := MustOpenStore(t)
	MustAdd(t, s, "bob", RoleService, "secret")

	t.Run("OK", func(t *testing.T) {
		u, err := s.Verify(ctx, "bob", "secret")
		if err != nil {
			t.Fatal(err)
		}
		if u.Name != "bob" || u.Role != RoleService {
			t.Errorf("Verify = %+v", u)
		}
	})
	t.Run("ErrBadPassword", func(t *testing.T) {
		for _, tc := range []struct{ name, pw string }{
			{"bob", "wrong"},
			{"bob", ""},
			{"bob", "secret" + strings.Repeat("x", 80)},
			{"nobody", "secret"},
			{"", ""},
		} {
			before := compares.Load()
			if _, err := s.Verify(ctx, tc.name, tc.pw); !errors.Is(err, ErrBadPassword) {
				t.Errorf("Verify(%q, %q): err = %v, want ErrBadPassword", tc.name, tc.pw, err)
			}
			// Unknown users cost a bcrypt comparison too.
			if got := compares.Load() - before; got != 1 {
				t.Errorf("Verify(%q, %q): %d bcrypt comparisons, want 1", tc.name, tc.pw, got)
			}
		}
	})
	t.Run("Cached", func(t *testing.T) {
		before := compares.Load()
		for range 3 {
			if _, err := s.Verify(ctx, "bob", "secret"); err != nil {
				t.Fatal(err)
			}
		}
		if got := compares.Load() - before; got != 0 {
			t.Errorf("%d bcrypt comparisons for cached verifications, want 0", got)
		}
		// A wrong password is never a cache hit and does not evict.
		if _, err := s.Verify(ctx, "bob", "wrong"); !errors.Is(err, ErrBadPassword) {
			t.Fatalf("err = %v, want ErrBadPassword", err)
		}
		if _, err := s.Verify(ctx, "bob", "secret"); err != nil {
			t.Fatal(err)
		}
		if got := compares.Load() - before; got != 1 {
			t.Errorf("%d bcrypt comparisons, want 1 (the wrong password)", got)
		}
	})
}

func TestStore_VerifyCacheInvalidation(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	s, _ := newTestStore(db)
	other, _ := newTestStore(db) // another process sharing the file
	MustAdd(t, s, "bob", RoleDevice, "old")
	MustAdd(t, s, "eve", RoleDevice, "pw")
	for _, name := range []string{"bob", "eve"} {
		pw := map[string]string{"bob": "old", "eve": "pw"}[name]
		if _, err := s.Verify(ctx, name, pw); err != nil { // now cached
			t.Fatal(err)
		}
	}

	t.Run("SetPassword", func(t *testing.T) {
		if err := s.SetPassword(ctx, "bob", "new"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Verify(ctx, "bob", "old"); !errors.Is(err, ErrBadPassword) {
			t.Errorf("old password after SetPassword: err = %v, want ErrBadPassword", err)
		}
		if _, err := s.Verify(ctx, "bob", "new"); err != nil {
			t.Errorf("new password: %v", err)
		}
	})
	t.Run("SetPasswordElsewhere", func(t *testing.T) {
		if err := other.SetPassword(ctx, "bob", "newer"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Verify(ctx, "bob", "new"); !errors.Is(err, ErrBadPassword) {
			t.Errorf("password changed by another store: err = %v, want ErrBadPassword", err)
		}
		if _, err := s.Verify(ctx, "bob", "newer"); err != nil {
			t.Errorf("new password: %v", err)
		}
	})
	t.Run("SetSamePasswordElsewhere", func(t *testing.T) {
		// Same password, new salt: the cached hash no longer matches,
		// so bcrypt runs again and succeeds.
		if err := other.SetPassword(ctx, "bob", "newer"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Verify(ctx, "bob", "newer"); err != nil {
			t.Error(err)
		}
	})
	t.Run("DeleteElsewhere", func(t *testing.T) {
		if err := other.Delete(ctx, "eve"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Verify(ctx, "eve", "pw"); !errors.Is(err, ErrBadPassword) {
			t.Errorf("deleted user: err = %v, want ErrBadPassword", err)
		}
	})
	t.Run("DeleteAndAddAgain", func(t *testing.T) {
		if err := s.Delete(ctx, "bob"); err != nil {
			t.Fatal(err)
		}
		MustAdd(t, other, "bob", RoleAdmin, "newer")
		u, err := s.Verify(ctx, "bob", "newer")
		if err != nil {
			t.Fatal(err)
		}
		if u.Role != RoleAdmin {
			t.Errorf("Role = %q, want admin (read from the row, not the cache)", u.Role)
		}
	})
}

func TestStore_VerifyConcurrent(t *testing.T) {
	ctx := context.Background()
	s, _ := MustOpenStore(t)
	MustAdd(t, s, "bob", RoleDevice, "pw")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 10 {
				pw := "pw"
				if (i+j)%3 == 0 {
					pw = "bad"
				}
				_, err := s.Verify(ctx, "bob", pw)
				if (pw == "pw") != (err == nil) {
					t.Errorf("Verify(bob, %q): %v", pw, err)
				}
				if j == 5 && i == 0 {
					if err := s.SetPassword(ctx, "carol", "x"); !errors.Is(err, ErrNotFound) {
						t.Errorf("SetPassword: %v", err)
					}
				}
			}
		})
	}
	wg.Wait()
}

// TestStore_NoPlaintext checks that a password appears nowhere in the
// database: not in the column, not in the file or its WAL.
func TestStore_NoPlaintext(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	s := NewStore(db) // the real cost
	const password = "Plaintext-Canary-7f3a9c"
	MustAdd(t, s, "bob", RoleDevice, password+"-old")
	if err := s.SetPassword(ctx, "bob", password); err != nil {
		t.Fatal(err)
	}

	rows, err := db.SQL().QueryContext(ctx, `SELECT name, password_hash FROM users`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, hash string
		if err := rows.Scan(&name, &hash); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(hash, password) || strings.Contains(hash, "Canary") {
			t.Errorf("%s: password_hash contains the password", name)
		}
		cost, err := bcrypt.Cost([]byte(hash))
		if err != nil {
			t.Errorf("%s: password_hash is not bcrypt: %v", name, err)
		} else if cost != bcrypt.DefaultCost {
			t.Errorf("%s: bcrypt cost %d, want %d", name, cost, bcrypt.DefaultCost)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}

	sawRows := false // proves the scan reads where the rows are
	for _, path := range []string{db.Path(), db.Path() + "-wal"} {
		buf, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(buf, []byte(password)) {
			t.Errorf("%s contains the plaintext password", filepath.Base(path))
		}
		sawRows = sawRows || bytes.Contains(buf, []byte("$2a$"))
	}
	if !sawRows {
		t.Error("neither the database nor its WAL holds a bcrypt hash")
	}
}

func TestGeneratePassword(t *testing.T) {
	seen := map[string]bool{}
	for range 20 {
		pw, err := GeneratePassword()
		if err != nil {
			t.Fatal(err)
		}
		if len(pw) != 24 {
			t.Errorf("len(%q) = %d, want 24", pw, len(pw))
		}
		for _, r := range pw {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				t.Errorf("%q: %q is not URL-safe", pw, r)
			}
		}
		if seen[pw] {
			t.Errorf("%q generated twice", pw)
		}
		seen[pw] = true
	}
}
