package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"hubd/hub/sqlite"
)

//go:embed migrations/*.sql
var migrations embed.FS

// User is a stored MQTT user. The password hash never leaves the Store.
type User struct {
	Name      string
	Role      Role
	CreatedAt time.Time
}

const (
	maxNameLen     = 64 // characters
	maxPasswordLen = 72 // bytes: bcrypt ignores anything longer
	// maxCacheEntries bounds the verification cache; past it an arbitrary
	// entry is dropped, costing that user one bcrypt on the next connect.
	maxCacheEntries = 4096
)

// Store keeps MQTT users in the hub's SQLite database, with passwords
// hashed by bcrypt. It is safe for concurrent use.
//
// Verify remembers, in memory only, which password last verified against
// which hash, so that a reconnecting client costs one SQLite read instead
// of one bcrypt. The row is always read, so a password changed or a user
// deleted by another process takes effect at once.
type Store struct {
	db *sqlite.DB

	// cost is the bcrypt cost of new hashes; tests lower it.
	cost int
	// compare checks a password against a hash; tests count calls.
	compare func(hash, password []byte) error
	// key keys the HMAC that stands for a password in the cache, so that
	// the cache holds nothing an offline attacker could look up.
	key [32]byte

	mu    sync.Mutex
	cache map[string]cacheEntry // user name -> last successful verification

	dummyOnce sync.Once
	dummy     []byte // a hash to compare against for unknown users
}

type cacheEntry struct {
	mac  [sha256.Size]byte // HMAC-SHA256(key, password)
	hash string            // the stored hash the password verified against
}

// NewStore returns a Store on db. Call Migrate before using it.
func NewStore(db *sqlite.DB) *Store {
	s := &Store{
		db:      db,
		cost:    bcrypt.DefaultCost,
		compare: bcrypt.CompareHashAndPassword,
		cache:   make(map[string]cacheEntry),
	}
	rand.Read(s.key[:]) // never fails (crypto/rand panics instead)
	return s
}

// Migrate creates or upgrades the users table (migration owner "auth").
func (s *Store) Migrate(ctx context.Context) error {
	if err := s.db.Migrate(ctx, "auth", migrations, "migrations"); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	return nil
}

// Add creates a user with the given role and password. The name must be
// 1-64 letters, digits or ". _ - @"; the password must not be empty nor
// longer than 72 bytes. It returns ErrExists if the name is taken.
func (s *Store) Add(ctx context.Context, name string, role Role, password string) (User, error) {
	if err := validateName(name); err != nil {
		return User{}, fmt.Errorf("add user: %w", err)
	}
	if _, err := ParseRole(string(role)); err != nil {
		return User{}, fmt.Errorf("add user %q: %w", name, err)
	}
	hash, err := s.hash(password)
	if err != nil {
		return User{}, fmt.Errorf("add user %q: %w", name, err)
	}

	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return User{}, fmt.Errorf("add user %q: %w", name, err)
	}
	defer tx.Rollback()

	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE name = ?`, name).Scan(&n); err != nil {
		return User{}, fmt.Errorf("add user %q: %w", name, err)
	}
	if n > 0 {
		return User{}, fmt.Errorf("add user %q: %w", name, ErrExists)
	}
	now := tx.Now.UTC()
	ts := now.Format(time.RFC3339Nano)
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO users (name, role, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
		name, string(role), hash, ts, ts); err != nil {
		return User{}, fmt.Errorf("add user %q: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return User{}, fmt.Errorf("add user %q: %w", name, err)
	}
	s.forget(name)
	return User{Name: name, Role: role, CreatedAt: now}, nil
}

// SetPassword replaces a user's password. It returns ErrNotFound if there
// is no such user.
func (s *Store) SetPassword(ctx context.Context, name, password string) error {
	hash, err := s.hash(password)
	if err != nil {
		return fmt.Errorf("set password of %q: %w", name, err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("set password of %q: %w", name, err)
	}
	defer tx.Rollback()

	res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ?, updated_at = ? WHERE name = ?`,
		hash, tx.Now.UTC().Format(time.RFC3339Nano), name)
	if err != nil {
		return fmt.Errorf("set password of %q: %w", name, err)
	}
	if err := requireOneRow(res); err != nil {
		return fmt.Errorf("set password of %q: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("set password of %q: %w", name, err)
	}
	s.forget(name)
	return nil
}

// Delete removes a user. It returns ErrNotFound if there is no such user.
// Clients already connected as that user stay connected; new connections
// are refused at once.
func (s *Store) Delete(ctx context.Context, name string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete user %q: %w", name, err)
	}
	defer tx.Rollback()

	res, err := tx.ExecContext(ctx, `DELETE FROM users WHERE name = ?`, name)
	if err != nil {
		return fmt.Errorf("delete user %q: %w", name, err)
	}
	if err := requireOneRow(res); err != nil {
		return fmt.Errorf("delete user %q: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("delete user %q: %w", name, err)
	}
	s.forget(name)
	return nil
}

func requireOneRow(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// Reads below are single statements run outside BeginTx: the database
// begins every transaction IMMEDIATE (a write lock), and a CONNECT storm
// must not queue behind the broker's writer for a read.

// List returns all users sorted by name.
func (s *Store) List(ctx context.Context) ([]User, error) {
	rows, err := s.db.SQL().QueryContext(ctx, `SELECT name, role, created_at FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	users := []User{}
	for rows.Next() {
		var u User
		var created string
		if err := rows.Scan(&u.Name, &u.Role, &created); err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		if u.CreatedAt, err = parseTime(created); err != nil {
			return nil, fmt.Errorf("list users: user %q: %w", u.Name, err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return users, nil
}

// Get returns the named user, or ErrNotFound.
func (s *Store) Get(ctx context.Context, name string) (User, error) {
	u, _, err := s.lookup(ctx, name)
	if err != nil {
		return User{}, fmt.Errorf("get user %q: %w", name, err)
	}
	return u, nil
}

// Count returns the number of users.
func (s *Store) Count(ctx context.Context) (int, error) {
	var n int
	if err := s.db.SQL().QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

// Verify checks a user's password and returns the user. An unknown user
// and a wrong password both give ErrBadPassword, after the same amount of
// bcrypt work. Other errors mean the database could not be read.
func (s *Store) Verify(ctx context.Context, name, password string) (User, error) {
	u, hash, err := s.lookup(ctx, name)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return User{}, fmt.Errorf("verify user %q: %w", name, err)
	}
	if err != nil || len(password) > maxPasswordLen {
		// Spend what a real comparison would cost; bcrypt reads only
		// 72 bytes, so a longer password must never match a prefix.
		_ = s.compare(s.dummyHash(), []byte(password))
		return User{}, fmt.Errorf("verify user %q: %w", name, ErrBadPassword)
	}

	mac := s.mac(password)
	s.mu.Lock()
	e, ok := s.cache[name]
	s.mu.Unlock()
	if ok && e.hash == hash && hmac.Equal(e.mac[:], mac[:]) {
		return u, nil
	}

	if err := s.compare([]byte(hash), []byte(password)); err != nil {
		return User{}, fmt.Errorf("verify user %q: %w", name, ErrBadPassword)
	}

	s.mu.Lock()
	if _, ok := s.cache[name]; !ok && len(s.cache) >= maxCacheEntries {
		for k := range s.cache {
			delete(s.cache, k)
			break
		}
	}
	s.cache[name] = cacheEntry{mac: mac, hash: hash}
	s.mu.Unlock()
	return u, nil
}

// lookup reads one user row, returning ErrNotFound if there is none.
func (s *Store) lookup(ctx context.Context, name string) (User, string, error) {
	var u User
	var created, hash string
	err := s.db.SQL().QueryRowContext(ctx,
		`SELECT name, role, password_hash, created_at FROM users WHERE name = ?`, name,
	).Scan(&u.Name, &u.Role, &hash, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, "", ErrNotFound
	} else if err != nil {
		return User{}, "", err
	}
	if u.CreatedAt, err = parseTime(created); err != nil {
		return User{}, "", err
	}
	return u, hash, nil
}

func (s *Store) hash(password string) (string, error) {
	if password == "" {
		return "", errors.New("password is empty")
	}
	if len(password) > maxPasswordLen {
		return "", fmt.Errorf("password is longer than %d bytes", maxPasswordLen)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), s.cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

func (s *Store) mac(password string) [sha256.Size]byte {
	m := hmac.New(sha256.New, s.key[:])
	m.Write([]byte(password))
	var sum [sha256.Size]byte
	m.Sum(sum[:0])
	return sum
}

func (s *Store) forget(name string) {
	s.mu.Lock()
	delete(s.cache, name)
	s.mu.Unlock()
}

// dummyHash returns a hash, made once at the store's cost, that no
// password is checked against for real.
func (s *Store) dummyHash() []byte {
	s.dummyOnce.Do(func() {
		var pw [16]byte
		rand.Read(pw[:])
		s.dummy, _ = bcrypt.GenerateFromPassword(pw[:], s.cost)
	})
	return s.dummy
}

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad timestamp %q: %w", s, err)
	}
	return t, nil
}

// validateName checks a user name: 1-64 letters, digits or ". _ - @".
// MQTT wildcards, "/" and white space are refused, so that a name can be
// substituted for %u in a topic pattern without widening it.
func validateName(name string) error {
	if name == "" {
		return errors.New("user name is empty")
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("user name %q is not valid UTF-8", name)
	}
	if n := utf8.RuneCountInString(name); n > maxNameLen {
		return fmt.Errorf("user name %q is %d characters long (at most %d)", name, n, maxNameLen)
	}
	for _, r := range name {
		switch {
		case unicode.IsLetter(r), unicode.IsDigit(r), r == '.', r == '_', r == '-', r == '@':
		default:
			return fmt.Errorf("user name %q contains %q (allowed: letters, digits, '.', '_', '-', '@')", name, r)
		}
	}
	return nil
}

// GeneratePassword returns 24 random URL-safe characters (144 bits) from
// crypto/rand.
func GeneratePassword() (string, error) {
	var b [18]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
