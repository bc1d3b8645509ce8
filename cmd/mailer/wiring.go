package main

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/Phenom-earth/phenom-mailer/internal/awsretry"
	"github.com/Phenom-earth/phenom-mailer/internal/send"
)

// newSuppressionList is the SES suppression-list look-up. GetSuppressedDestination
// only reads, so it is retried like any repeatable call, within the
// handler's budget for it (cognito.DefaultSuppressionTimeout).
func newSuppressionList(awsCfg aws.Config) *send.SuppressionList {
	return &send.SuppressionList{Client: sesv2.NewFromConfig(awsCfg, func(o *sesv2.Options) {
		o.Retryer = awsretry.Repeatable(3, 500*time.Millisecond)
	})}
}

// newSender builds the sender from cfg: the From address, DKIM signing
// when configured, and the Maildir or SES transport. The handler and
// `mailer preview --send-to` share it, so a preview goes out exactly as a
// real mail would.
func newSender(cfg SendConfig, awsCfg aws.Config) (*send.Sender, error) {
	from, err := send.ParseFrom(cfg.From)
	if err != nil {
		return nil, err
	}
	sender := &send.Sender{From: from}
	if cfg.DKIMSelector != "" {
		sender.DKIM, err = send.NewDKIM(cfg.DKIMDomain, cfg.DKIMSelector, cfg.DKIMPrivateKey)
		if err != nil {
			return nil, err
		}
	}
	if cfg.MaildirPath != "" {
		sender.Transport = &send.Maildir{Path: cfg.MaildirPath}
	} else {
		sender.Transport = &send.SES{
			Client: sesv2.NewFromConfig(awsCfg, func(o *sesv2.Options) {
				o.Retryer = awsretry.NoResend(5, 2*time.Second)
			}),
			ConfigurationSet: cfg.ConfigurationSet,
			RequireDKIM:      cfg.RequireDKIM,
		}
	}
	return sender, nil
}
