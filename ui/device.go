package ui

import (
	"context"
	"net/http"

	"hubd/devices"
)

// handleDeviceList answers GET /api/devices with an array of devices,
// optionally only those of one ?status= (pending, paired or ignored).
func (s *Server) handleDeviceList(w http.ResponseWriter, r *http.Request) {
	var filter devices.DeviceFilter
	if q := r.URL.Query(); q.Has("status") {
		st := devices.Status(q.Get("status"))
		if !st.Valid() {
			Error(w, r, devices.Errorf(devices.EINVALID, "Invalid status %q: want %s, %s or %s.",
				st, devices.StatusPending, devices.StatusPaired, devices.StatusIgnored))
			return
		}
		filter.Status = &st
	}
	list, err := s.Devices.FindDevices(r.Context(), filter)
	if err != nil {
		Error(w, r, err)
		return
	}
	if list == nil {
		list = []devices.Device{}
	}
	writeJSON(w, r, http.StatusOK, list)
}

// handleDeviceView answers GET /api/devices/{id} with one device.
func (s *Server) handleDeviceView(w http.ResponseWriter, r *http.Request) {
	d, err := s.Devices.FindDevice(r.Context(), r.PathValue("id"))
	if err != nil {
		Error(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, d)
}

// handleDevicePair answers POST /api/devices/{id}/pair with the paired
// device.
func (s *Server) handleDevicePair(w http.ResponseWriter, r *http.Request) {
	s.changeDevice(w, r, "device paired", s.Devices.Pair)
}

// handleDeviceUnpair answers POST /api/devices/{id}/unpair with the
// device, pending again.
func (s *Server) handleDeviceUnpair(w http.ResponseWriter, r *http.Request) {
	s.changeDevice(w, r, "device unpaired", s.Devices.Unpair)
}

// handleDeviceIgnore answers POST /api/devices/{id}/ignore with the
// ignored device.
func (s *Server) handleDeviceIgnore(w http.ResponseWriter, r *http.Request) {
	s.changeDevice(w, r, "device ignored", s.Devices.Ignore)
}

// changeDevice applies a change of status and answers with the device.
func (s *Server) changeDevice(w http.ResponseWriter, r *http.Request, msg string,
	change func(ctx context.Context, id string) (devices.Device, error)) {
	id := r.PathValue("id")
	d, err := change(r.Context(), id)
	if err != nil {
		Error(w, r, err)
		return
	}
	audit(r, "api: "+msg, "device", id)
	writeJSON(w, r, http.StatusOK, d)
}

// handleDeviceDelete answers DELETE /api/devices/{id} with 204 No Content.
func (s *Server) handleDeviceDelete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := s.Devices.DeleteDevice(r.Context(), id); err != nil {
		Error(w, r, err)
		return
	}
	audit(r, "api: device deleted", "device", id)
	w.WriteHeader(http.StatusNoContent)
}
