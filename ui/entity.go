package ui

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"hubd/devices"
)

// handleEntityList answers GET /api/entities with an array of entities
// and their state.
func (s *Server) handleEntityList(w http.ResponseWriter, r *http.Request) {
	list, err := s.Entities.FindEntities(r.Context())
	if err != nil {
		Error(w, r, err)
		return
	}
	if list == nil {
		list = []devices.EntityView{}
	}
	writeJSON(w, r, http.StatusOK, list)
}

// handleEntityView answers GET /api/entities/{id} with one entity and its
// state.
func (s *Server) handleEntityView(w http.ResponseWriter, r *http.Request) {
	e, err := s.Entities.FindEntity(r.Context(), r.PathValue("id"))
	if err != nil {
		Error(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, e)
}

// handleEntityCommand answers POST /api/entities/{id}/command, whose body
// is a devices.CommandRequest, with 202 Accepted and the recorded
// command; Location names the command, to follow its status.
func (s *Server) handleEntityCommand(w http.ResponseWriter, r *http.Request) {
	var req devices.CommandRequest
	if err := decodeJSON(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	id := r.PathValue("id")
	cmd, err := s.Commands.Send(r.Context(), id, req)
	if err != nil {
		Error(w, r, err)
		return
	}
	audit(r, "api: command sent", "entity", id, "command", cmd.ID)
	w.Header().Set("Location", "/api/commands/"+url.PathEscape(cmd.ID))
	writeJSON(w, r, http.StatusAccepted, cmd)
}

// decodeJSON reads a request body of at most 64 KiB holding exactly one
// JSON value into v, refusing fields v does not have.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if r.ContentLength > maxBodyBytes {
		return devices.Errorf(eTooLarge, "Request body is larger than %d bytes.", maxBodyBytes)
	}
	body := http.MaxBytesReader(w, r.Body, maxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		// Only white space may follow.
		if err = dec.Decode(&json.RawMessage{}); err == io.EOF {
			return nil
		} else if err == nil {
			return devices.Errorf(devices.EINVALID, "Request body holds more than one JSON value.")
		}
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return devices.Errorf(eTooLarge, "Request body is larger than %d bytes.", maxBodyBytes)
	case errors.Is(err, io.EOF):
		return devices.Errorf(devices.EINVALID, "Request body is empty: want a JSON object.")
	}
	return devices.Errorf(devices.EINVALID, "Invalid request body: %s.", strings.TrimPrefix(err.Error(), "json: "))
}
