//go:build !lambda

package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// TestLogAuditEventsAndTrace extends the log audit to the SES events
// function and `mailer trace`: SES events quote the recipient in clear (in
// destination, headers, recipients and at times the diagnostic code), and
// none of it may reach a log line, an outcome line or a trace printed by id.
func TestLogAuditEventsAndTrace(t *testing.T) {
	table, pipe := deliveryStack(t, nil)
	const addr = "test-staging@thephenom.app"
	var captured strings.Builder
	ev := readEvent(t, "ForgotPassword")
	attrs(ev)["email"] = addr
	res, exit, logs := invoke(t, marshal(t, ev))
	if exit != 0 {
		t.Fatalf("send: exit %d", exit)
	}
	captured.WriteString(logs)

	var events []string
	for _, name := range []string{"send", "delivery", "bounce-permanent", "bounce-transient", "bounce-suppressed", "complaint", "reject", "rendering-failure", "delivery-delay", "open"} {
		events = append(events, sesEvent(t, name, res.MessageID, addr))
	}
	// A diagnostic code and an SMTP answer that quote the address, and
	// malformed notifications that carry it.
	events = append(events,
		strings.Replace(sesEvent(t, "bounce-permanent", res.MessageID, addr), "smtp; 550 5.1.1 user unknown", "smtp; 550 5.1.1 <"+addr+">: Recipient address rejected", 1),
		strings.Replace(sesEvent(t, "delivery", res.MessageID, addr), "250 2.6.0 Message received", "250 2.0.0 OK <"+addr+"> queued", 1),
		`{"eventType":"Bounce","mail":{"messageId":"x","destination":["`+addr+`"]},"bounce":{"bouncedRecipients":[{"emailAddress":"`+addr+`"}],"timestamp":"`+addr+`"}}`,
		`{"eventType":"`+addr+`","mail":{"messageId":"x"}}`,
		`{"notificationType":"Bounce","mail":{"messageId":"x","destination":["`+addr+`"]}}`,
		"not json "+addr,
	)
	sums, evLogs := playSES(t, pipe, events...)
	captured.WriteString(evLogs)
	var ignored float64
	for _, s := range sums {
		ignored += s["ignored"].(float64)
	}
	if ignored != 5 {
		t.Errorf("%v notifications ignored, want 5 (the Open event and the 4 malformed ones)", ignored)
	}
	// A failing write, logged.
	if err := pipe.Publish(context.Background(), sesEvent(t, "complaint", res.MessageID, addr)); err != nil {
		t.Fatal(err)
	}
	batches, err := pipe.Receive(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("MAILER_DELIVERY_TABLE", table+"-missing")
	for _, b := range batches {
		out, errOut, _ := runCmd(t, b, "invoke", "--event", "-")
		captured.WriteString(out + errOut)
	}
	t.Setenv("MAILER_DELIVERY_TABLE", table)

	// Traces by id print no address; by address, only the one typed.
	for _, args := range [][]string{
		{"trace", "--message-id", res.MessageID}, {"trace", "--message-id", res.MessageID, "--json"},
		{"trace", "--request-id", res.RequestID}, {"trace", "--request-id", res.RequestID, "--json"},
	} {
		out, errOut, code := runCmd(t, nil, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d", args, code)
		}
		captured.WriteString(out + errOut)
	}
	all := captured.String()
	for _, want := range []string{`"message":"ses event recorded"`, `"message":"ses event ignored"`, `"message":"ses event not recorded; SQS will deliver it again"`, "OnAccountSuppressionList", "t***@thephenom.app>: Recipient address rejected"} {
		if !strings.Contains(all, want) {
			t.Errorf("the audit did not see %q: a path was not exercised", want)
		}
	}
	byAddress, _, _ := runCmd(t, nil, "trace", "--to", addr, "--json")
	byAddressText, _, _ := runCmd(t, nil, "trace", "--to", "qa+reset@thephenom.app")

	for i, s := range codes() {
		if regexp.MustCompile(`(^|[^0-9])` + regexp.QuoteMeta(s) + `([^0-9]|$)`).MatchString(all + byAddress + byAddressText) {
			t.Errorf("secret #%d (a code or temporary password) appears", i)
		}
	}
	if strings.Contains(all, addr) || strings.Contains(strings.ToLower(all), addr) {
		t.Error("the recipient's address appears in clear in the events function's logs or a trace by id")
	}
	if strings.Contains(byAddressText, addr) {
		t.Error("a trace of another address prints this one")
	}
	// By address, the typed address appears only where the operator's
	// input is echoed: the suppression line.
	for _, l := range strings.Split(strings.TrimSpace(byAddress), "\n") {
		var obj map[string]any
		if err := json.Unmarshal([]byte(l), &obj); err != nil {
			t.Fatal(err)
		}
		if obj["kind"] == "mail" && strings.Contains(l, addr) {
			t.Error("a mail line of trace --json prints the full address")
		}
	}
}

// TestLogAuditFailedEvents extends the audit to the failed-events queue:
// Lambda's on-failure records carry the whole Cognito event (the address
// in clear, the code's ciphertext) and an error message that may quote
// both; nothing of it may reach what `mailer trace` prints, in any form.
func TestLogAuditFailedEvents(t *testing.T) {
	c := failedEvents(t)
	var byID, all strings.Builder
	for _, args := range [][]string{
		{"trace", "--request-id", c.withRecord}, {"trace", "--request-id", c.withRecord, "--json"},
		{"trace", "--request-id", c.noRecord}, {"trace", "--request-id", c.noRecord, "--json"},
	} {
		out, errOut, code := runCmd(t, nil, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
		byID.WriteString(out + errOut)
	}
	byAddress, errOut, code := runCmd(t, nil, "trace", "--to", c.addr, "--json")
	if code != 0 {
		t.Fatalf("trace --to: exit %d\n%s", code, errOut)
	}
	byAddressText, errText, _ := runCmd(t, nil, "trace", "--to", c.addr)
	all.WriteString(byID.String() + byAddress + errOut + byAddressText + errText)

	// The paths that could leak were exercised: the error messages quoting
	// the address (in another case) and the ciphertext were shown, scrubbed.
	for _, want := range []string{"write mail for t***@thephenom.app", "SES said <T***@ThePhenom.app> and [redacted]"} {
		if !strings.Contains(all.String(), want) {
			t.Errorf("the audit did not see %q: a path was not exercised\n%s", want, all.String())
		}
	}
	for i, s := range codes() {
		if regexp.MustCompile(`(^|[^0-9])` + regexp.QuoteMeta(s) + `([^0-9]|$)`).MatchString(all.String()) {
			t.Errorf("secret #%d (a code or temporary password) appears", i)
		}
	}
	// The ciphertext, whole or any 24-character piece of it.
	for i := 0; i+24 <= len(c.ciphertext); i += 12 {
		if strings.Contains(all.String(), c.ciphertext[i:i+24]) {
			t.Fatalf("a piece of the code's ciphertext appears (offset %d)", i)
		}
	}
	if strings.Contains(strings.ToLower(byID.String()), c.addr) {
		t.Error("the recipient's address appears in clear in a trace by id")
	}
	for _, l := range strings.Split(strings.TrimSpace(byAddress), "\n") {
		var obj map[string]any
		if err := json.Unmarshal([]byte(l), &obj); err != nil {
			t.Fatal(err)
		}
		if obj["kind"] != "suppression" && strings.Contains(strings.ToLower(l), c.addr) {
			t.Errorf("a %v line of trace --to --json prints the full address: %s", obj["kind"], l)
		}
	}
	for _, l := range strings.Split(byAddressText, "\n") {
		if strings.Contains(strings.ToLower(l), c.addr) && !strings.HasPrefix(l, "1 mail(s) to "+c.addr) &&
			!strings.HasPrefix(l, "1 event(s) to "+c.addr) && !strings.HasPrefix(l, c.addr+" is ") {
			t.Errorf("trace --to prints the address outside the echo of the query: %q", l)
		}
	}
}
