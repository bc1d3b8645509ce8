package awsretry

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

// sesBackend answers every SendEmail with a message id and counts them.
func sesBackend(t *testing.T) (string, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		n.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"MessageId":"0100-test"}`)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String(), &n
}

func send(t *testing.T, url string, r aws.Retryer) error {
	t.Helper()
	c := sesv2.New(sesv2.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(url), Retryer: r,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.SendEmail(ctx, &sesv2.SendEmailInput{
		FromEmailAddress: aws.String("noreply@thephenom.app"),
		Destination:      &types.Destination{ToAddresses: []string{"qa@thephenom.app"}},
		Content:          &types.EmailContent{Raw: &types.RawMessage{Data: []byte("Subject: x\r\n\r\nx")}},
	})
	return err
}

func proxy(t *testing.T, target string) *standin.FaultProxy {
	t.Helper()
	p, err := standin.StartFaultProxy(target, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestNoResendRetriesThrottlingAnd5xx(t *testing.T) {
	url, sent := sesBackend(t)
	p := proxy(t, url)
	p.Queue(standin.Throttle(429, "TooManyRequestsException"), standin.ServerError(), standin.Throttle(429, "TooManyRequestsException"))
	if err := send(t, p.URL, NoResend(5, 50*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if sent.Load() != 1 || p.Count(standin.Status) != 3 {
		t.Fatalf("backend got %d sends after %d faults; want 1 after 3", sent.Load(), p.Count(standin.Status))
	}
}

func TestNoResendDoesNotRepeatAnAmbiguousSend(t *testing.T) {
	url, sent := sesBackend(t)
	p := proxy(t, url)
	p.Queue(standin.Fault{Kind: standin.Reset})
	if err := send(t, p.URL, NoResend(5, 50*time.Millisecond)); err == nil {
		t.Fatal("a reset connection was reported as a send")
	}
	if p.Count(standin.Reset)+p.Count(standin.Pass) != 1 || sent.Load() != 0 {
		t.Fatalf("%d attempts, %d sends; want one attempt and no send", p.Count(standin.Reset)+p.Count(standin.Pass), sent.Load())
	}
}

func TestRepeatableRetriesResets(t *testing.T) {
	url, sent := sesBackend(t)
	p := proxy(t, url)
	p.Queue(standin.Fault{Kind: standin.Reset}, standin.Fault{Kind: standin.Reset})
	if err := send(t, p.URL, Repeatable(5, 50*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if sent.Load() != 1 {
		t.Fatalf("backend got %d calls, want 1", sent.Load())
	}
}

func TestRetriesStopAtTheDeadline(t *testing.T) {
	url, sent := sesBackend(t)
	p := proxy(t, url)
	f := standin.Throttle(429, "TooManyRequestsException")
	p.Always(&f)
	c := sesv2.New(sesv2.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(p.URL), Retryer: NoResend(100, time.Second),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := c.SendEmail(ctx, &sesv2.SendEmailInput{
		FromEmailAddress: aws.String("noreply@thephenom.app"),
		Destination:      &types.Destination{ToAddresses: []string{"qa@thephenom.app"}},
		Content:          &types.EmailContent{Raw: &types.RawMessage{Data: []byte("x")}},
	})
	if err == nil || sent.Load() != 0 {
		t.Fatalf("err %v, %d sends; want a failure and none", err, sent.Load())
	}
	if ctx.Err() == nil {
		t.Fatal("the retryer gave up before the deadline although attempts remained")
	}
}
