package ui

import (
	"net/http"

	"hubd/devices"
)

// Codes the API adds to devices' for refusals that only HTTP makes. They
// appear in the "code" field of error responses.
const (
	eForbidden        = "forbidden"          // 403: authenticated, but not allowed
	eMethodNotAllowed = "method_not_allowed" // 405
	eTooLarge         = "too_large"          // 413: request body over 64 KiB
)

// statuses maps every error code to its HTTP status. A code not listed is
// treated as internal.
var statuses = map[string]int{
	devices.EINVALID:      http.StatusBadRequest,
	devices.EUNAUTHORIZED: http.StatusUnauthorized,
	eForbidden:            http.StatusForbidden,
	devices.ENOTFOUND:     http.StatusNotFound,
	eMethodNotAllowed:     http.StatusMethodNotAllowed,
	devices.ECONFLICT:     http.StatusConflict,
	eTooLarge:             http.StatusRequestEntityTooLarge,
	devices.EINTERNAL:     http.StatusInternalServerError,
}

const internalMessage = "Internal error."

// errorResponse is the body of every error response.
type errorResponse struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// Error answers a request with err: a *devices.Error's code picks the
// status and its message is shown; any other error (or an unknown code) is
// logged and shown as "Internal error." with code "internal". A 401 also
// asks for Basic credentials (WWW-Authenticate: Basic realm="hubd").
//
// Codes and statuses: invalid 400, unauthorized 401, forbidden 403,
// not_found 404, method_not_allowed 405, conflict 409, too_large 413,
// internal 500.
func Error(w http.ResponseWriter, r *http.Request, err error) {
	code, msg := devices.ErrorCode(err), devices.ErrorMessage(err)
	status, ok := statuses[code]
	if !ok || code == devices.EINTERNAL {
		logger(r).Error("http: internal error", "method", r.Method, "path", r.URL.Path, "error", err)
		status, code, msg = http.StatusInternalServerError, devices.EINTERNAL, internalMessage
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="hubd"`)
	}
	writeJSON(w, r, status, errorResponse{Error: msg, Code: code})
}
