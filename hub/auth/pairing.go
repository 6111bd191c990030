package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// MaxPairingWindow is the longest a pairing window may stay open.
const MaxPairingWindow = time.Hour

const pairingKey = "pairing_until"

// OpenPairingWindow lets onboarding credentials connect and announce
// devices for d (at most MaxPairingWindow); d of 0 closes the window. It
// returns when the window closes. A running hub sees the change at once:
// the window is read from the database on every check.
func (s *Store) OpenPairingWindow(ctx context.Context, d time.Duration) (time.Time, error) {
	if d < 0 || d > MaxPairingWindow {
		return time.Time{}, fmt.Errorf("pairing window of %v: want 0 to %v", d, MaxPairingWindow)
	}
	until := s.db.Now().UTC().Add(d).Truncate(time.Second)
	if _, err := s.db.SQL().ExecContext(ctx, `INSERT INTO auth_settings (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, pairingKey, until.Format(time.RFC3339)); err != nil {
		return time.Time{}, fmt.Errorf("open pairing window: %w", err)
	}
	return until, nil
}

// PairingWindow returns when the pairing window closes (or closed); the
// zero time if it was never opened.
func (s *Store) PairingWindow(ctx context.Context) (time.Time, error) {
	var v string
	err := s.db.SQL().QueryRowContext(ctx, `SELECT value FROM auth_settings WHERE key = ?`, pairingKey).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	} else if err != nil {
		return time.Time{}, fmt.Errorf("read pairing window: %w", err)
	}
	return time.Parse(time.RFC3339, v)
}
