package ui

import (
	"context"
	"net/http"
	"time"

	"hubd/devices"
)

// PairingWindow opens the window during which onboarding credentials may
// announce new devices.
type PairingWindow interface {
	OpenPairingWindow(ctx context.Context, d time.Duration) (until time.Time, err error)
}

// pairingRequest is the body of POST /api/pairing: {"for": "5m"}; "0s"
// closes the window.
type pairingRequest struct {
	For string `json:"for"`
}

// handlePairing answers POST /api/pairing with {"until": time}.
func (s *Server) handlePairing(w http.ResponseWriter, r *http.Request) {
	var req pairingRequest
	if err := decodeJSON(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	d, err := time.ParseDuration(req.For)
	if err != nil {
		Error(w, r, devices.Errorf(devices.EINVALID, "for: %q is not a duration such as \"5m\"", req.For))
		return
	}
	until, err := s.Pairing.OpenPairingWindow(r.Context(), d)
	if err != nil {
		Error(w, r, devices.Errorf(devices.EINVALID, "%v", err))
		return
	}
	if p, ok := principalFrom(r.Context()); ok {
		logger(r).Info("pairing window opened", "by", p.Name, "until", until)
	}
	writeJSON(w, r, http.StatusOK, map[string]time.Time{"until": until})
}
