package standin

import (
	"encoding/json"
	"net/http"
)

// The answers of the SES v2 operations the proxy emulates (suppression.go,
// eventdest.go, mailfrom.go): SES v2 speaks REST-JSON, with the error type in
// the X-Amzn-ErrorType header and the message in a {"message": ...} body.

// sesJSON writes a successful SES v2 answer.
func sesJSON(w http.ResponseWriter, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Requestid", "standin-ses")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// sesError writes an SES v2 error.
func sesError(w http.ResponseWriter, status int, code, msg string) {
	b, _ := json.Marshal(map[string]string{"message": msg})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Errortype", code)
	w.Header().Set("X-Amzn-Requestid", "standin-ses")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
