package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"hubd/devices"
	"hubd/hub/sqlite"
)

// MustCreateToken creates a token or fails the test.
func MustCreateToken(tb testing.TB, s *Store, name string, role Role) (string, Token) {
	tb.Helper()
	secret, tok, err := s.CreateToken(context.Background(), name, role)
	if err != nil {
		tb.Fatal(err)
	}
	return secret, tok
}

// fakeClock replaces db.Now with a clock the test sets.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock(db *sqlite.DB) *fakeClock {
	c := &fakeClock{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	db.Now = c.Now
	return c
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

func TestStore_CreateToken(t *testing.T) {
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		s, _ := MustOpenStore(t)
		clock := newFakeClock(s.db)
		secret, tok, err := s.CreateToken(ctx, "home-assistant", RoleService)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(secret, "hubd_") {
			t.Errorf("secret %q does not start with hubd_", secret)
		}
		raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(secret, "hubd_"))
		if err != nil {
			t.Errorf("secret %q: not base64url: %v", secret, err)
		} else if got, want := len(raw), 32; got != want {
			t.Errorf("secret holds %d random bytes, want %d", got, want)
		}
		if got, want := len(secret), tokenLen; got != want {
			t.Errorf("len(secret) = %d, want %d", got, want)
		}
		if tok.ID <= 0 || tok.Name != "home-assistant" || tok.Role != RoleService ||
			!tok.CreatedAt.Equal(clock.Now()) || tok.LastUsedAt != nil {
			t.Errorf("token = %+v", tok)
		}

		secret2, tok2 := MustCreateToken(t, s, "ops@laptop", RoleAdmin)
		if secret2 == secret {
			t.Error("two tokens got the same secret")
		}
		if tok2.ID == tok.ID {
			t.Errorf("two tokens got the same id %d", tok.ID)
		}
	})

	t.Run("OKSameNameAsUser", func(t *testing.T) {
		s, _ := MustOpenStore(t)
		MustAdd(t, s, "alice", RoleAdmin, "pw")
		MustCreateToken(t, s, "alice", RoleAdmin)
	})

	t.Run("ErrExists", func(t *testing.T) {
		s, _ := MustOpenStore(t)
		MustCreateToken(t, s, "ci", RoleService)
		_, _, err := s.CreateToken(ctx, "ci", RoleAdmin)
		if !errors.Is(err, ErrExists) {
			t.Fatalf("err = %v, want ErrExists", err)
		}
		if got := err.Error(); !strings.Contains(got, "token") || strings.Contains(got, "user") {
			t.Errorf("error %q: want it to speak of a token", got)
		}
	})

	t.Run("ErrNameInvalid", func(t *testing.T) {
		s, _ := MustOpenStore(t)
		for _, name := range []string{"", "a b", "a/b", "a+b", "a#", "\xff", strings.Repeat("x", 65)} {
			_, _, err := s.CreateToken(ctx, name, RoleService)
			if got, want := devices.ErrorCode(err), devices.EINVALID; got != want {
				t.Errorf("CreateToken(%q): code %q (%v), want %q", name, got, err, want)
			}
		}
		MustCreateToken(t, s, strings.Repeat("x", 64), RoleService)
	})

	t.Run("ErrRole", func(t *testing.T) {
		s, _ := MustOpenStore(t)
		for _, role := range []Role{RoleDevice, RoleAnonymous, "", "root", "Admin"} {
			_, _, err := s.CreateToken(ctx, "t", role)
			if got, want := devices.ErrorCode(err), devices.EINVALID; got != want {
				t.Errorf("role %q: code %q (%v), want %q", role, got, err, want)
				continue
			}
			if msg := devices.ErrorMessage(err); !strings.Contains(msg, "admin") || !strings.Contains(msg, "service") {
				t.Errorf("role %q: message %q does not name the allowed roles", role, msg)
			}
		}
		if tokens, err := s.ListTokens(ctx); err != nil || len(tokens) != 0 {
			t.Errorf("ListTokens = %v, %v; want none", tokens, err)
		}
	})

	t.Run("ErrRoleInDatabase", func(t *testing.T) {
		// The table refuses a device token even if Go code were bypassed.
		s, _ := MustOpenStore(t)
		_, err := s.db.SQL().ExecContext(ctx,
			`INSERT INTO api_tokens (name, role, secret_sha256, created_at) VALUES ('d', 'device', zeroblob(32), '2025-01-01T00:00:00Z')`)
		if err == nil {
			t.Error("the table accepted a device token")
		}
	})
}

func TestStore_VerifyToken(t *testing.T) {
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		s, _ := MustOpenStore(t)
		clock := newFakeClock(s.db)
		secret, want := MustCreateToken(t, s, "ci", RoleService)
		now := clock.Add(time.Hour)
		got, err := s.VerifyToken(ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != want.ID || got.Name != "ci" || got.Role != RoleService || !got.CreatedAt.Equal(want.CreatedAt) {
			t.Errorf("VerifyToken = %+v, want %+v", got, want)
		}
		if got.LastUsedAt == nil || !got.LastUsedAt.Equal(now) {
			t.Errorf("LastUsedAt = %v, want %v", got.LastUsedAt, now)
		}
	})

	t.Run("ErrBadPassword", func(t *testing.T) {
		s, _ := MustOpenStore(t)
		secret, _ := MustCreateToken(t, s, "ci", RoleService)
		other := "hubd_" + base64.RawURLEncoding.EncodeToString(make([]byte, 32))
		last := "A"
		if strings.HasSuffix(secret, last) {
			last = "B"
		}
		flipped := secret[:len(secret)-1] + last
		for name, bad := range map[string]string{
			"Empty":     "",
			"Prefix":    "hubd_",
			"Unknown":   other,
			"Flipped":   flipped,
			"Longer":    secret + "x",
			"Shorter":   secret[:len(secret)-1],
			"NoPrefix":  strings.TrimPrefix(secret, "hubd_"),
			"Uppercase": "HUBD_" + strings.TrimPrefix(secret, "hubd_"),
		} {
			if bad == secret {
				t.Fatalf("%s: test secret equals the real one", name)
			}
			if _, err := s.VerifyToken(ctx, bad); !errors.Is(err, ErrBadPassword) {
				t.Errorf("%s: err = %v, want ErrBadPassword", name, err)
			}
		}
	})

	t.Run("ErrDeleted", func(t *testing.T) {
		s, _ := MustOpenStore(t)
		secret, _ := MustCreateToken(t, s, "ci", RoleService)
		keep, _ := MustCreateToken(t, s, "keep", RoleAdmin)
		if _, err := s.VerifyToken(ctx, secret); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteToken(ctx, "ci"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.VerifyToken(ctx, secret); !errors.Is(err, ErrBadPassword) {
			t.Errorf("deleted token: err = %v, want ErrBadPassword", err)
		}
		if _, err := s.VerifyToken(ctx, keep); err != nil {
			t.Errorf("other token: %v", err)
		}
	})

	t.Run("ErrUserPassword", func(t *testing.T) {
		// A user's password is no token, even one shaped like a token.
		s, _ := MustOpenStore(t)
		pw := "hubd_" + base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
		MustAdd(t, s, "hubd", RoleAdmin, pw)
		if _, err := s.VerifyToken(ctx, pw); !errors.Is(err, ErrBadPassword) {
			t.Errorf("err = %v, want ErrBadPassword", err)
		}
	})
}

// TestStore_VerifyTokenLastUsed checks that last_used_at moves at most
// once a minute.
func TestStore_VerifyTokenLastUsed(t *testing.T) {
	ctx := context.Background()
	s, _ := MustOpenStore(t)
	clock := newFakeClock(s.db)
	secret, _ := MustCreateToken(t, s, "ci", RoleService)

	stored := func() *time.Time {
		t.Helper()
		tokens, err := s.ListTokens(ctx)
		if err != nil || len(tokens) != 1 {
			t.Fatalf("ListTokens = %v, %v", tokens, err)
		}
		return tokens[0].LastUsedAt
	}
	if got := stored(); got != nil {
		t.Fatalf("before use: LastUsedAt = %v, want nil", got)
	}

	t0 := clock.Now()
	for _, step := range []struct {
		at, want time.Duration // since t0
	}{
		{0, 0},                          // first use: written
		{30 * time.Second, 0},           // too soon
		{59 * time.Second, 0},           // still too soon
		{time.Minute, time.Minute},      // a minute on: written
		{30 * time.Second, time.Minute}, // clock back 30 s: kept
		{-time.Hour, -time.Hour},        // clock back an hour: rewritten once
		{-time.Hour + 10*time.Second, -time.Hour},
	} {
		now := clock.Add(t0.Add(step.at).Sub(clock.Now()))
		tok, err := s.VerifyToken(ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		want := t0.Add(step.want)
		if got := stored(); got == nil || !got.Equal(want) {
			t.Errorf("at %v: stored LastUsedAt = %v, want %v", now, got, want)
		}
		if tok.LastUsedAt == nil || !tok.LastUsedAt.Equal(want) {
			t.Errorf("at %v: returned LastUsedAt = %v, want %v", now, tok.LastUsedAt, want)
		}
	}
}

func TestStore_VerifyTokenConcurrent(t *testing.T) {
	ctx := context.Background()
	s, _ := MustOpenStore(t)
	secret, _ := MustCreateToken(t, s, "ci", RoleService)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range cap(errs) {
		wg.Go(func() {
			if _, err := s.VerifyToken(ctx, secret); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestStore_ListTokens(t *testing.T) {
	ctx := context.Background()
	s, _ := MustOpenStore(t)
	tokens, err := s.ListTokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tokens == nil || len(tokens) != 0 {
		t.Errorf("ListTokens on an empty store = %#v, want an empty slice", tokens)
	}

	secret, _ := MustCreateToken(t, s, "zeta", RoleService)
	MustCreateToken(t, s, "alpha", RoleAdmin)
	if _, err := s.VerifyToken(ctx, secret); err != nil {
		t.Fatal(err)
	}
	tokens, err = s.ListTokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(tokens) != 2 {
		t.Fatalf("ListTokens = %+v, want 2", tokens)
	}
	if got, want := tokens[0].Name+","+tokens[1].Name, "alpha,zeta"; got != want {
		t.Errorf("names = %s, want %s", got, want)
	}
	if tokens[0].Role != RoleAdmin || tokens[1].Role != RoleService {
		t.Errorf("roles = %s, %s", tokens[0].Role, tokens[1].Role)
	}
	if tokens[0].LastUsedAt != nil || tokens[1].LastUsedAt == nil {
		t.Errorf("LastUsedAt = %v, %v; want nil, set", tokens[0].LastUsedAt, tokens[1].LastUsedAt)
	}
}

func TestStore_DeleteToken(t *testing.T) {
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		s, _ := MustOpenStore(t)
		MustCreateToken(t, s, "a", RoleService)
		MustCreateToken(t, s, "b", RoleService)
		if err := s.DeleteToken(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		tokens, err := s.ListTokens(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(tokens) != 1 || tokens[0].Name != "b" {
			t.Errorf("after delete: %+v", tokens)
		}
		// The name is free again.
		MustCreateToken(t, s, "a", RoleAdmin)
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		s, _ := MustOpenStore(t)
		MustAdd(t, s, "alice", RoleAdmin, "pw") // a user is not a token
		err := s.DeleteToken(ctx, "alice")
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
		if got := err.Error(); !strings.Contains(got, "token") || strings.Contains(got, "user") {
			t.Errorf("error %q: want it to speak of a token", got)
		}
		if _, err := s.Get(ctx, "alice"); err != nil {
			t.Errorf("user alice: %v", err)
		}
	})
}

// TestStore_TokensNoSecret checks that a token's secret appears nowhere in
// the database, neither in a column nor in the file or its WAL, while its
// SHA-256 does.
func TestStore_TokensNoSecret(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	s := NewStore(db)
	var secrets []string
	for _, name := range []string{"ci", "backup"} {
		secret, _ := MustCreateToken(t, s, name, RoleService)
		if _, err := s.VerifyToken(ctx, secret); err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, secret)
	}

	rows, err := db.SQL().QueryContext(ctx, `SELECT name, secret_sha256 FROM api_tokens ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i := 0
	for ; rows.Next(); i++ {
		var name string
		var stored []byte
		if err := rows.Scan(&name, &stored); err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256([]byte(secrets[i])); !bytes.Equal(stored, sum[:]) {
			t.Errorf("%s: secret_sha256 = %x, want the SHA-256 of the secret", name, stored)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if i != len(secrets) {
		t.Fatalf("%d rows, want %d", i, len(secrets))
	}

	sawHash := false // proves the scan reads where the rows are
	for _, path := range []string{db.Path(), db.Path() + "-wal"} {
		buf, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		for _, secret := range secrets {
			body := strings.TrimPrefix(secret, "hubd_")
			raw, _ := base64.RawURLEncoding.DecodeString(body)
			if bytes.Contains(buf, []byte(body)) || bytes.Contains(buf, raw) {
				t.Errorf("%s contains a token secret", filepath.Base(path))
			}
			sum := sha256.Sum256([]byte(secret))
			sawHash = sawHash || bytes.Contains(buf, sum[:])
		}
	}
	if !sawHash {
		t.Error("neither the database nor its WAL holds a token's SHA-256")
	}
}
