//go:build lambda

package main

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
)

// The Lambda build's AWS configuration from the environment: region,
// credentials and endpoints as the SDK's default chain reads them there
// (go test -tags lambda,lambda.norpc ./cmd/mailer -run LambdaAWSConfig).
func TestLambdaAWSConfig(t *testing.T) {
	env := map[string]string{
		"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-east-1",
		"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "token",
		"AWS_ENDPOINT_URL_SESV2": "http://127.0.0.1:4566",
	}
	for k, v := range env {
		t.Setenv(k, v) // the service clients read AWS_ENDPOINT_URL* themselves too
	}
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_KMS", "")
	cfg, err := lambdaAWSConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "eu-west-1" {
		t.Errorf("region %q", cfg.Region)
	}
	c, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil || c.AccessKeyID != "AKIDEXAMPLE" || c.SecretAccessKey != "secret" || c.SessionToken != "token" {
		t.Errorf("credentials %v, %v", c.AccessKeyID, err)
	}
	if got := sesv2.NewFromConfig(cfg).Options().BaseEndpoint; got == nil || *got != "http://127.0.0.1:4566" {
		t.Errorf("SES endpoint %v, want AWS_ENDPOINT_URL_SESV2", got)
	}
	if got := kms.NewFromConfig(cfg).Options().BaseEndpoint; got != nil {
		t.Errorf("KMS endpoint %q, want none (the region's)", *got)
	}

	env["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"] = "true"
	if cfg, _ = lambdaAWSConfig(func(k string) string { return env[k] }); len(cfg.ConfigSources) != 0 || cfg.BaseEndpoint != nil {
		t.Errorf("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true still configures endpoints")
	}
	delete(env, "AWS_REGION")
	if cfg, _ = lambdaAWSConfig(func(k string) string { return env[k] }); cfg.Region != "us-east-1" {
		t.Errorf("region %q, want AWS_DEFAULT_REGION's", cfg.Region)
	}
	delete(env, "AWS_SECRET_ACCESS_KEY")
	if _, err := lambdaAWSConfig(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "AWS_SECRET_ACCESS_KEY") {
		t.Errorf("no secret key: %v", err)
	}
}
