//go:build !lambda

package main

import "testing"

// With MAILER_SERVICE=true too, `mailer invoke` hands an SQS batch of SES
// notifications to the events handler, as the bootstrap does: the shape
// of the event decides, not the setting.
func TestInvokeSESEventsWithTheSendService(t *testing.T) {
	_, pipe := deliveryStack(t, map[string]string{"MAILER_SERVICE": "true"})
	sums, logs := playSES(t, pipe, sesEvent(t, "delivery", "0100018c-service-events-test", "test-staging@thephenom.app"))
	if len(sums) != 1 || sums[0]["received"] != float64(1) || sums[0]["recorded"] != float64(1) {
		t.Fatalf("summaries %v, want one batch with the event recorded", sums)
	}
	assertNoSecrets(t, "logs", logs, "test-staging@thephenom.app")
}
