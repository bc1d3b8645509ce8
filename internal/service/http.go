package service

import (
	"encoding/json"
	"net/http"
)

// Path is the function URL's one route.
const Path = "/v1/send"

// Response is what the function URL answers: a status, its headers and a
// JSON body.
type Response struct {
	Status  int
	Headers map[string]string
	Body    []byte
}

// responseBody is the JSON of every answer.
type responseBody struct {
	Outcome   string   `json:"outcome"`
	Reason    string   `json:"reason,omitempty"`
	MessageID string   `json:"message_id,omitempty"`
	Errors    []string `json:"errors,omitempty"`
	RequestID string   `json:"request_id,omitempty"`
}

// Retry-After seconds by reason: throttling clears in about a second,
// SES not being ready takes an operator.
var retryAfter = map[string]string{
	"ses_throttled":  "1",
	"dkim_not_ready": "60",
	"ses_not_ready":  "60",
}

// HTTP maps a result to the function URL's answer (README, "Send a mail
// from another Phenom service", has the table).
func (r Result) HTTP() Response {
	status := http.StatusOK
	h := map[string]string{"Content-Type": "application/json"}
	switch r.Outcome {
	case OutcomeSent:
	case OutcomeDuplicate:
		if r.Reason == "in_progress" {
			status = http.StatusConflict
		}
	case OutcomeRefused:
		switch r.Reason {
		case reasonRequestInvalid, reasonUnknownTemplate, reasonEmailInvalid:
			status = http.StatusBadRequest
		default:
			status = http.StatusUnprocessableEntity
		}
	case OutcomeSuppressed:
		status = http.StatusUnprocessableEntity
	default:
		status = http.StatusServiceUnavailable
		if r.Reason == "ses_throttled" {
			status = http.StatusTooManyRequests
		}
		h["Retry-After"] = "5"
		if s, ok := retryAfter[r.Reason]; ok {
			h["Retry-After"] = s
		}
	}
	body, _ := json.Marshal(responseBody{Outcome: r.Outcome, Reason: r.Reason, MessageID: r.MessageID, Errors: r.Errors, RequestID: r.RequestID})
	return Response{Status: status, Headers: h, Body: body}
}

// ErrorResponse is an answer for a request that did not reach the
// handler: wrong method or path.
func ErrorResponse(status int, msg string) Response {
	body, _ := json.Marshal(map[string]string{"error": msg})
	return Response{Status: status, Headers: map[string]string{"Content-Type": "application/json"}, Body: body}
}
