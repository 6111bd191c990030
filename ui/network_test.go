package ui_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"hubd/devices"
)

func TestNetwork(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		s := MustOpenServer(t)
		s.Network.CandidatesFn = func(context.Context) ([]devices.Candidate, error) {
			return []devices.Candidate{{
				Instance: "shellyplug-s-1A2B3C", Service: "_shelly._tcp", Host: "shellyplug.local",
				Addresses: []string{"192.168.1.20"}, Port: 80, TXT: map[string]string{"gen": "2"},
			}}, nil
		}
		var got []devices.Candidate
		MustDecode(t, s.Call(t, "GET", "/api/network", ""), http.StatusOK, &got)
		if len(got) != 1 || got[0].Instance != "shellyplug-s-1A2B3C" || got[0].TXT["gen"] != "2" {
			t.Errorf("candidates = %+v", got)
		}
	})

	t.Run("OKEmpty", func(t *testing.T) {
		s := MustOpenServer(t)
		s.Network.CandidatesFn = func(context.Context) ([]devices.Candidate, error) { return nil, nil }
		if resp := s.Call(t, "GET", "/api/network", ""); strings.TrimSpace(string(resp.Body)) != "[]" {
			t.Errorf("body %s, want []", resp.Body)
		}
	})

	t.Run("ErrInternal", func(t *testing.T) {
		s := MustOpenServer(t)
		s.Network.CandidatesFn = func(context.Context) ([]devices.Candidate, error) { return nil, errors.New("mdns: socket closed") }
		MustError(t, s.Call(t, "GET", "/api/network", ""), http.StatusInternalServerError, devices.EINTERNAL)
	})
}
