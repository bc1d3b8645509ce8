package client_test

import (
	"context"
	"errors"
	"log"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/Phenom-earth/phenom-mailer/client"
)

// Send a notice over the service queue (the default) and over the function
// URL (to get SES's message id back). The queue URL and the function URL
// are the Terraform outputs send_queue_url and send_function_url; the
// caller's role needs send_caller_policy_json.
func Example() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	req := client.Request{
		Template: "notice",
		To:       "ada@example.com",
		Locale:   "es",
		Data: map[string]any{
			"subject":    "Your export is ready",
			"heading":    "Export ready",
			"paragraphs": []string{"Your dossier export finished."},
			"button":     map[string]string{"label": "Download", "url": "https://www.thephenom.app/exports/42"},
		},
		IdempotencyKey: "order-42-export",
		Tags:           map[string]string{"service": "hasura"},
	}

	// Over SQS: the mailer sends it within seconds and retries what fails
	// for a passing reason.
	queue := client.NewSQS(sqs.NewFromConfig(cfg), "https://sqs.eu-west-1.amazonaws.com/123456789012/phenom-mailer-prod-send")
	if _, err := queue.Send(ctx, req); err != nil {
		log.Fatal(err)
	}

	// Over the function URL: the outcome now.
	url := client.NewURL("https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws/",
		cfg.Credentials, cfg.Region, &http.Client{Timeout: 30 * time.Second})
	resp, err := url.Send(ctx, req)
	var refused *client.RefusedError
	var retry *client.RetryableError
	switch {
	case errors.As(err, &refused):
		log.Printf("not sent, fix the request: %s %v", refused.Reason, refused.Errors)
	case errors.As(err, &retry):
		log.Printf("send again in %s (%s)", retry.RetryAfter, retry.Reason)
	case err != nil:
		log.Fatal(err)
	default:
		log.Printf("%s: SES message %s", resp.Outcome, resp.MessageID)
	}
}
