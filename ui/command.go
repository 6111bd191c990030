package ui

import "net/http"

// handleCommandView answers GET /api/commands/{id} with a command and its
// current status.
func (s *Server) handleCommandView(w http.ResponseWriter, r *http.Request) {
	cmd, err := s.Commands.FindCommand(r.Context(), r.PathValue("id"))
	if err != nil {
		Error(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, cmd)
}
