package ui

import (
	"net/http"

	"hubd/devices"
)

// handleNetwork answers GET /api/network with an array of the devices
// mDNS found on the LAN.
func (s *Server) handleNetwork(w http.ResponseWriter, r *http.Request) {
	list, err := s.Network.Candidates(r.Context())
	if err != nil {
		Error(w, r, err)
		return
	}
	if list == nil {
		list = []devices.Candidate{}
	}
	writeJSON(w, r, http.StatusOK, list)
}
