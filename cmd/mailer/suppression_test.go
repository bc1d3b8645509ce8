package main

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/Phenom-earth/phenom-mailer/internal/cognito"
	"github.com/Phenom-earth/phenom-mailer/internal/metrics"
	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
	"github.com/Phenom-earth/phenom-mailer/internal/timing"
)

// The suppression check against the SES stand-in (moto behind the proxy
// that emulates SES v2's suppression list), through fault proxies on
// 127.0.0.1 that count what reaches it.

func isSuppressionLookup(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/v2/email/suppression/")
}

func isSendEmail(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Path == "/v2/email/outbound-emails"
}

func suppress(t testing.TB, addr string, reason sestypes.SuppressionListReason) time.Time {
	t.Helper()
	before := time.Now().Add(-time.Second)
	if _, err := motoStandin.SESClient().PutSuppressedDestination(context.Background(), &sesv2.PutSuppressedDestinationInput{
		EmailAddress: aws.String(addr), Reason: reason,
	}); err != nil {
		t.Fatal(err)
	}
	return before
}

// countedProxy is a proxy in front of the SES stand-in whose faults apply
// to the requests match accepts, and which counts them.
type countedProxy struct {
	*standin.FaultProxy
	n atomic.Int32
}

func (c *countedProxy) matched() int { return int(c.n.Load()) }

// sesProxy puts a countedProxy in front of the SES stand-in and points the
// mailer's SES client at it.
func sesProxy(t testing.TB, match func(*http.Request) bool) *countedProxy {
	t.Helper()
	c := &countedProxy{}
	p, err := standin.StartFaultProxy(motoStandin.URL, func(r *http.Request) bool {
		if match(r) {
			c.n.Add(1)
			return true
		}
		return false
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	c.FaultProxy = p
	t.Setenv("AWS_ENDPOINT_URL_SESV2", p.URL)
	return c
}

func TestInvokeSuppressedRecipient(t *testing.T) {
	for _, tt := range []struct {
		sesReason sestypes.SuppressionListReason
		reason    string
	}{
		{sestypes.SuppressionListReasonBounce, cognito.ReasonSuppressedBounce},
		{sestypes.SuppressionListReasonComplaint, cognito.ReasonSuppressedComplaint},
	} {
		t.Run(string(tt.sesReason), func(t *testing.T) {
			fs := newFaultStack(t, true, nil)
			before := suppress(t, "qa+reset@thephenom.app", tt.sesReason)
			sends := sesProxy(t, isSendEmail)
			ev := marshal(t, readEvent(t, "ForgotPassword"))
			res, exit, logs := invoke(t, ev)
			if exit != exitRefused || res.Outcome != cognito.OutcomeSuppressed || res.Reason != tt.reason {
				t.Fatalf("exit %d, %s/%s (%s); want exit 3, suppressed/%s", exit, res.Outcome, res.Reason, res.Error, tt.reason)
			}
			if n := sends.matched(); n != 0 {
				t.Fatalf("%d SendEmail requests reached SES for a suppressed recipient", n)
			}
			if n := len(sentMails(t)); n != 0 {
				t.Fatalf("moto holds %d mails", n)
			}
			s := res.Suppression
			if s == nil || s.Reason != string(tt.sesReason) || s.LastUpdate.Before(before) || s.LastUpdate.After(time.Now()) {
				t.Fatalf("outcome suppression = %+v", s)
			}
			for _, want := range []string{`"outcome":"suppressed"`, `"reason":"` + tt.reason + `"`, `"suppression":{"reason":"` + string(tt.sesReason) + `","last_update":"`} {
				if !strings.Contains(logs, want) {
					t.Errorf("the logs lack %s", want)
				}
			}
			if !strings.Contains(logs, `"Outcome":"suppressed"`) {
				t.Error("the EMF record does not count Outcome=suppressed")
			}
			assertNoSecrets(t, "logs", logs, "qa+reset@thephenom.app", "836251")
			// The claim is settled: a redelivery of the same event sends nothing.
			res, _, _ = invoke(t, ev)
			if res.Outcome != cognito.OutcomeDuplicate || sends.matched() != 0 {
				t.Fatalf("redelivery: %s/%s, %d sends", res.Outcome, res.Reason, sends.matched())
			}
			_ = fs
		})
	}
}

func TestInvokeNotSuppressedIsSent(t *testing.T) {
	newFaultStack(t, false, nil)
	suppress(t, "someone-else@thephenom.app", sestypes.SuppressionListReasonBounce)
	lookups := sesProxy(t, isSuppressionLookup)
	res, exit, logs := invoke(t, marshal(t, readEvent(t, "ForgotPassword")))
	if exit != 0 || res.Outcome != cognito.OutcomeSent || res.SuppressionCheckFailed {
		t.Fatalf("exit %d, %+v", exit, res)
	}
	if n := lookups.matched(); n != 1 {
		t.Errorf("%d suppression look-ups, want 1", n)
	}
	if n := len(sentMails(t)); n != 1 {
		t.Errorf("%d mails", n)
	}
	if strings.Contains(logs, metrics.SuppressionCheckErrors) {
		t.Error("a successful look-up was counted as an error")
	}
}

func TestInvokeSuppressionLookupFailureStillSends(t *testing.T) {
	tests := []struct {
		name  string
		fault standin.Fault
	}{
		{"denied", standin.Fault{Kind: standin.Status, Status: 403, Body: `{"__type":"AccessDeniedException","message":"User is not authorized to perform ses:GetSuppressedDestination"}`}},
		{"throttled throughout", standin.Throttle(429, "TooManyRequestsException")},
		{"unreachable", standin.Fault{Kind: standin.Reset}},
		{"slower than its budget", standin.Fault{Kind: standin.Delay, Delay: 5 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			newFaultStack(t, true, nil)
			suppress(t, "qa+reset@thephenom.app", sestypes.SuppressionListReasonBounce)
			faults := sesProxy(t, isSuppressionLookup)
			faults.Always(&tt.fault)
			res, exit, logs := invoke(t, marshal(t, readEvent(t, "ForgotPassword")))
			if exit != 0 || res.Outcome != cognito.OutcomeSent {
				t.Fatalf("exit %d, %s/%s: a failed look-up must never block the mail", exit, res.Outcome, res.Reason)
			}
			// The look-up's own time, bounded by its 2 s budget (with room
			// for a loaded machine), not the whole invocation's: the
			// slow fault holds its answer 5 s.
			if ms := res.Stages.Suppression; ms > 3500 {
				t.Errorf("the look-up held the mail for %.0f ms (its budget is %v)", ms, cognito.DefaultSuppressionTimeout)
			}

			if !res.SuppressionCheckFailed {
				t.Error("outcome does not say the look-up failed")
			}
			if n := len(sentMails(t)); n != 1 {
				t.Fatalf("%d mails", n)
			}
			if !strings.Contains(logs, "suppression check failed") {
				t.Error("the failure is not logged")
			}
			if !strings.Contains(logs, `"`+metrics.SuppressionCheckErrors+`":1`) {
				t.Error("the failure is not counted in the EMF record")
			}
			assertNoSecrets(t, "logs", logs, "qa+reset@thephenom.app", "qa%2Breset", "836251")
		})
	}
}

// SES's API matches case, its sending does not: an address the user typed
// with capitals is found listed lower-cased.
func TestInvokeSuppressedWhateverTheCase(t *testing.T) {
	newFaultStack(t, false, nil)
	suppress(t, "qa+reset@thephenom.app", sestypes.SuppressionListReasonBounce)
	ev := readEvent(t, "ForgotPassword")
	attrs(ev)["email"] = "QA+Reset@thephenom.app"
	res, exit, _ := invoke(t, marshal(t, ev))
	if exit != exitRefused || res.Outcome != cognito.OutcomeSuppressed {
		t.Fatalf("exit %d, %s/%s", exit, res.Outcome, res.Reason)
	}
}

// SES drops a mail only when the entry's reason is one the account
// suppresses: with BOUNCE only, an address listed for a complaint is sent.
func TestInvokeSuppressionFollowsTheAccountsReasons(t *testing.T) {
	newFaultStack(t, false, nil)
	if _, err := motoStandin.SESClient().PutAccountSuppressionAttributes(context.Background(), &sesv2.PutAccountSuppressionAttributesInput{
		SuppressedReasons: []sestypes.SuppressionListReason{sestypes.SuppressionListReasonBounce},
	}); err != nil {
		t.Fatal(err)
	}
	suppress(t, "qa+reset@thephenom.app", sestypes.SuppressionListReasonComplaint)
	res, exit, _ := invoke(t, marshal(t, readEvent(t, "ForgotPassword")))
	if exit != 0 || res.Outcome != cognito.OutcomeSent {
		t.Fatalf("exit %d, %s/%s: SES would send to it", exit, res.Outcome, res.Reason)
	}
	suppress(t, "qa+reset@thephenom.app", sestypes.SuppressionListReasonBounce)
	res, exit, _ = invoke(t, marshal(t, readEvent(t, "SignUp")))
	if res.Outcome != cognito.OutcomeSent {
		t.Fatalf("another recipient: %s/%s", res.Outcome, res.Reason)
	}
	ev := readEvent(t, "SignUp")
	attrs(ev)["email"] = "qa+reset@thephenom.app"
	res, exit, _ = invoke(t, marshal(t, ev))
	if exit != exitRefused || res.Outcome != cognito.OutcomeSuppressed || res.Reason != cognito.ReasonSuppressedBounce {
		t.Fatalf("listed for a bounce: exit %d, %s/%s", exit, res.Outcome, res.Reason)
	}
}

func TestInvokeSuppressionCheckOff(t *testing.T) {
	newFaultStack(t, false, nil)
	suppress(t, "qa+reset@thephenom.app", sestypes.SuppressionListReasonBounce)
	lookups := sesProxy(t, isSuppressionLookup)
	t.Setenv("MAILER_CHECK_SUPPRESSION", "false")
	res, exit, _ := invoke(t, marshal(t, readEvent(t, "ForgotPassword")))
	if exit != 0 || res.Outcome != cognito.OutcomeSent {
		t.Fatalf("exit %d, %s/%s", exit, res.Outcome, res.Reason)
	}
	if n := lookups.matched(); n != 0 {
		t.Fatalf("%d suppression look-ups with MAILER_CHECK_SUPPRESSION=false", n)
	}
}

// TestColdPathChecksRunConcurrently injects the same latency on the From
// identity's DKIM check (SES GetEmailIdentity) and on KMS: one after the
// other they would take at least the sum; the cold invocation's duration is
// below it. The margin is the whole injected delay, so a slow machine does
// not make it fail.
func TestColdPathChecksRunConcurrently(t *testing.T) {
	const delay = 500 * time.Millisecond
	fs := newFaultStack(t, false, nil)
	fs.kms.Always(&standin.Fault{Kind: standin.Delay, Delay: delay})
	ses := sesProxy(t, func(r *http.Request) bool {
		return r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v2/email/identities/")
	})
	ses.Always(&standin.Fault{Kind: standin.Delay, Delay: delay})
	res, exit, _ := invoke(t, marshal(t, readEvent(t, "ForgotPassword")))
	if exit != 0 || res.Outcome != cognito.OutcomeSent {
		t.Fatalf("exit %d, %s/%s", exit, res.Outcome, res.Reason)
	}
	if ses.Count(standin.Delay) != 1 || fs.kms.Count(standin.Delay) < 1 {
		t.Fatalf("delayed: %d identity checks, %d KMS calls", ses.Count(standin.Delay), fs.kms.Count(standin.Delay))
	}
	sum := time.Duration(fs.kms.Count(standin.Delay)+ses.Count(standin.Delay)) * delay
	if res.Stages.KMSWait < timing.MS(delay) {
		t.Fatalf("stages %+v: the injected KMS delay was not waited for", res.Stages)
	}
	// The DKIM check starts during the setup (cognito.Handler.Warm) and the
	// event shares it: one delayed identity request (above), not two.
	if got := time.Duration(res.DurationMS * float64(time.Millisecond)); got >= sum {
		t.Errorf("cold invocation took %v, not below the %v the DKIM check and KMS take one after the other", got, sum)
	}
}
