package ui_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestPairing(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		s := MustOpenServer(t)
		until := time.Date(2026, 11, 27, 0, 5, 0, 0, time.UTC)
		var asked time.Duration
		s.Pairing.OpenPairingWindowFn = func(_ context.Context, d time.Duration) (time.Time, error) {
			asked = d
			return until, nil
		}
		var got struct{ Until time.Time }
		MustDecode(t, s.Call(t, "POST", "/api/pairing", `{"for":"5m"}`), http.StatusOK, &got)
		if asked != 5*time.Minute || !got.Until.Equal(until) {
			t.Errorf("asked %v, got until %v", asked, got.Until)
		}
	})
	t.Run("ErrBadDuration", func(t *testing.T) {
		s := MustOpenServer(t)
		s.Pairing.OpenPairingWindowFn = func(context.Context, time.Duration) (time.Time, error) {
			t.Fatal("called with a bad duration")
			return time.Time{}, nil
		}
		MustError(t, s.Call(t, "POST", "/api/pairing", `{"for":"soon"}`), http.StatusBadRequest, "invalid")
	})
	t.Run("ErrTooLong", func(t *testing.T) {
		s := MustOpenServer(t)
		s.Pairing.OpenPairingWindowFn = func(context.Context, time.Duration) (time.Time, error) {
			return time.Time{}, errors.New("pairing window of 2h0m0s: want 0 to 1h0m0s")
		}
		MustError(t, s.Call(t, "POST", "/api/pairing", `{"for":"2h"}`), http.StatusBadRequest, "invalid")
	})
}
