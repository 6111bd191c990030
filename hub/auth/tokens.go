package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"hubd/devices"
)

// Token is an API bearer token. Its secret is shown once, by CreateToken,
// and never stored: the Store keeps only its SHA-256.
type Token struct {
	ID        int64
	Name      string
	Role      Role
	CreatedAt time.Time
	// LastUsedAt is when VerifyToken last accepted the token, to the
	// minute; nil if it never has.
	LastUsedAt *time.Time
}

const (
	// TokenPrefix starts every token secret, so that a leaked one is easy
	// to recognise (and for secret scanners to find).
	TokenPrefix = "hubd_"
	// tokenBytes is the number of random bytes in a secret.
	tokenBytes = 32
	// tokenLen is the length of a secret: the prefix and the random bytes
	// in unpadded base64url.
	tokenLen = len(TokenPrefix) + (tokenBytes*8+5)/6
	// lastUsedEvery is how stale last_used_at may get before VerifyToken
	// writes it again; it keeps a busy API client from writing on every
	// request.
	lastUsedEvery = time.Minute
)

// tokenError reads as a token's error but matches the Store's sentinel
// errors (ErrExists, ErrNotFound) with errors.Is, whose own text speaks of
// users.
type tokenError struct {
	msg string
	err error
}

func (e *tokenError) Error() string { return e.msg }
func (e *tokenError) Unwrap() error { return e.err }

// CreateToken creates an API token and returns its secret, which is
// "hubd_" followed by 32 random bytes in unpadded base64url. The secret is
// returned only here: the Store keeps its SHA-256 alone.
//
// The name follows the rule for user names (1-64 letters, digits or
// ". _ - @") and must be unique among tokens: ErrExists otherwise. Only the
// admin and service roles can hold a token. An invalid name or role is a
// *devices.Error with code EINVALID.
func (s *Store) CreateToken(ctx context.Context, name string, role Role) (secret string, t Token, err error) {
	if validateName(name) != nil {
		return "", Token{}, devices.Errorf(devices.EINVALID,
			"Token name %q is invalid: use 1-%d letters, digits, '.', '_', '-' or '@'.", name, maxNameLen)
	}
	if role != RoleAdmin && role != RoleService {
		return "", Token{}, devices.Errorf(devices.EINVALID,
			"Token role %q is invalid: want %s or %s.", role, RoleAdmin, RoleService)
	}
	var b [tokenBytes]byte
	rand.Read(b[:]) // never fails (crypto/rand panics instead)
	secret = TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(secret))

	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return "", Token{}, fmt.Errorf("create token %q: %w", name, err)
	}
	defer tx.Rollback()

	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM api_tokens WHERE name = ?`, name).Scan(&n); err != nil {
		return "", Token{}, fmt.Errorf("create token %q: %w", name, err)
	}
	if n > 0 {
		return "", Token{}, &tokenError{fmt.Sprintf("create token %q: a token of that name already exists", name), ErrExists}
	}
	now := tx.Now.UTC()
	res, err := tx.ExecContext(ctx,
		`INSERT INTO api_tokens (name, role, secret_sha256, created_at) VALUES (?, ?, ?, ?)`,
		name, string(role), sum[:], now.Format(time.RFC3339Nano))
	if err != nil {
		return "", Token{}, fmt.Errorf("create token %q: %w", name, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return "", Token{}, fmt.Errorf("create token %q: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return "", Token{}, fmt.Errorf("create token %q: %w", name, err)
	}
	return secret, Token{ID: id, Name: name, Role: role, CreatedAt: now}, nil
}

// ListTokens returns all tokens sorted by name, without their secrets
// (which the Store does not have).
func (s *Store) ListTokens(ctx context.Context) ([]Token, error) {
	rows, err := s.db.SQL().QueryContext(ctx,
		`SELECT id, name, role, created_at, last_used_at FROM api_tokens ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	tokens := []Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		tokens = append(tokens, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return tokens, nil
}

// DeleteToken revokes a token: VerifyToken refuses its secret at once. It
// returns ErrNotFound if there is no token of that name.
func (s *Store) DeleteToken(ctx context.Context, name string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete token %q: %w", name, err)
	}
	defer tx.Rollback()

	res, err := tx.ExecContext(ctx, `DELETE FROM api_tokens WHERE name = ?`, name)
	if err != nil {
		return fmt.Errorf("delete token %q: %w", name, err)
	}
	if err := requireOneRow(res); errors.Is(err, ErrNotFound) {
		return &tokenError{fmt.Sprintf("delete token %q: no such token", name), ErrNotFound}
	} else if err != nil {
		return fmt.Errorf("delete token %q: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("delete token %q: %w", name, err)
	}
	return nil
}

// VerifyToken returns the token whose secret this is. An unknown,
// revoked or malformed secret gives ErrBadPassword; other errors mean the
// database could not be read or written.
//
// The secret is looked up by its SHA-256, so lookup timing can tell an
// attacker nothing about secrets that exist; the stored hash is then
// compared in constant time all the same. On success, last_used_at is
// recorded if it is unset or more than a minute old, so a busy client
// costs one write a minute at most.
func (s *Store) VerifyToken(ctx context.Context, secret string) (Token, error) {
	if len(secret) != tokenLen || !strings.HasPrefix(secret, TokenPrefix) {
		return Token{}, fmt.Errorf("verify token: %w", ErrBadPassword)
	}
	sum := sha256.Sum256([]byte(secret))

	var stored []byte
	t, err := scanToken(s.db.SQL().QueryRowContext(ctx,
		`SELECT id, name, role, created_at, last_used_at, secret_sha256 FROM api_tokens WHERE secret_sha256 = ?`, sum[:],
	), &stored)
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, fmt.Errorf("verify token: %w", ErrBadPassword)
	} else if err != nil {
		return Token{}, fmt.Errorf("verify token: %w", err)
	}
	if subtle.ConstantTimeCompare(stored, sum[:]) != 1 {
		return Token{}, fmt.Errorf("verify token: %w", ErrBadPassword)
	}

	now := s.db.Now().UTC()
	if t.LastUsedAt != nil {
		// Within a minute either way: after the clock steps back, the
		// time is rewritten once rather than on every request.
		if d := now.Sub(*t.LastUsedAt); d < lastUsedEvery && d > -lastUsedEvery {
			return t, nil
		}
	}
	// Compare-and-set on the value read, so that concurrent requests with
	// one token write it once. The Store alone writes the column, always
	// as UTC RFC 3339, so the value read formats back to the same text.
	// One statement: no transaction needed.
	var prev any
	if t.LastUsedAt != nil {
		prev = t.LastUsedAt.Format(time.RFC3339Nano)
	}
	if _, err := s.db.SQL().ExecContext(ctx,
		`UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND last_used_at IS ?`,
		now.Format(time.RFC3339Nano), t.ID, prev,
	); err != nil {
		return Token{}, fmt.Errorf("verify token %q: record use: %w", t.Name, err)
	}
	t.LastUsedAt = &now
	return t, nil
}

// rowScanner is a *sql.Row or *sql.Rows.
type rowScanner interface {
	Scan(dest ...any) error
}

// scanToken reads the columns id, name, role, created_at and last_used_at,
// then any more into extra.
func scanToken(row rowScanner, extra ...any) (Token, error) {
	var t Token
	var created string
	var lastUsed sql.NullString
	dest := append([]any{&t.ID, &t.Name, &t.Role, &created, &lastUsed}, extra...)
	if err := row.Scan(dest...); err != nil {
		return Token{}, err
	}
	var err error
	if t.CreatedAt, err = parseTime(created); err != nil {
		return Token{}, fmt.Errorf("token %q: %w", t.Name, err)
	}
	if lastUsed.Valid {
		lu, err := parseTime(lastUsed.String)
		if err != nil {
			return Token{}, fmt.Errorf("token %q: %w", t.Name, err)
		}
		t.LastUsedAt = &lu
	}
	return t, nil
}
