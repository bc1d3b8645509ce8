package benchrun

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
)

// sesFloor times n calls of each SES operation the mailer's cold path
// makes, through the slow stand-in from this (warm) process: what the
// stand-in itself takes on top of SESLatency, which no change to the mailer
// can remove. GetEmailIdentity (the DKIM check) and SendEmail are one
// after the other on the mailer's first event.
func (s *stack) sesFloor(ctx context.Context, n int) (identity, send Series, err error) {
	c := sesv2.New(sesv2.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(s.slowSES.URL),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if _, err := c.GetEmailIdentity(ctx, &sesv2.GetEmailIdentityInput{EmailIdentity: aws.String("thephenom.app")}); err != nil {
			return identity, send, err
		}
		identity = append(identity, msOf(time.Since(t0)))
		t0 = time.Now()
		if _, err := c.SendEmail(ctx, &sesv2.SendEmailInput{
			FromEmailAddress: aws.String("Phenom <noreply@thephenom.app>"),
			Destination:      &types.Destination{ToAddresses: []string{"floor@thephenom.app"}},
			Content: &types.EmailContent{Simple: &types.Message{
				Subject: &types.Content{Data: aws.String("floor")},
				Body:    &types.Body{Text: &types.Content{Data: aws.String("floor")}},
			}},
		}); err != nil {
			return identity, send, err
		}
		send = append(send, msOf(time.Since(t0)))
	}
	return identity, send, nil
}
