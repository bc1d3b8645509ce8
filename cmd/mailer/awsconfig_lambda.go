//go:build lambda

package main

import (
	"context"
	"errors"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go/logging"
)

// loadAWSConfig, in the Lambda build, reads the AWS configuration from the
// environment Lambda gives the function, and nothing else: the region
// (AWS_REGION, else AWS_DEFAULT_REGION), the execution role's credentials
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN; Lambda sets
// them for the execution environment's life, which is what the SDK's
// default chain would find first there too) and the endpoint variables
// (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>,
// AWS_IGNORE_CONFIGURED_ENDPOINT_URLS) as the SDK reads them. Leaving out
// config.LoadDefaultConfig leaves out its credential chain (SSO, SSO OIDC,
// STS, sign-in clients, shared files): their package initialisation and the
// chain's set-up, paid on every cold start. `go run ./cmd/mailer` keeps the
// whole chain (awsconfig.go).
func loadAWSConfig(_ context.Context) (aws.Config, error) {
	return lambdaAWSConfig(os.Getenv)
}

func lambdaAWSConfig(getenv func(string) string) (aws.Config, error) {
	region := getenv("AWS_REGION")
	if region == "" {
		region = getenv("AWS_DEFAULT_REGION")
	}
	id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	if id == "" || secret == "" {
		return aws.Config{}, errors.New("aws config: the Lambda build reads credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY only, and they are not set")
	}
	creds := aws.Credentials{
		AccessKeyID: id, SecretAccessKey: secret, SessionToken: getenv("AWS_SESSION_TOKEN"),
		AccountID: getenv("AWS_ACCOUNT_ID"), Source: "EnvConfigCredentials",
	}
	cfg := aws.Config{
		Region: region,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return creds, nil
		}),
		HTTPClient: awshttp.NewBuildableClient(),
		Logger:     logging.NewStandardLogger(os.Stderr),
	}
	if !strings.EqualFold(getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"), "true") {
		if v := getenv("AWS_ENDPOINT_URL"); v != "" {
			cfg.BaseEndpoint = aws.String(v)
		}
		cfg.ConfigSources = []any{envEndpoints(getenv)}
	}
	return cfg, nil
}

// envEndpoints answers the service clients' question for a service's own
// endpoint (AWS_ENDPOINT_URL_KMS, AWS_ENDPOINT_URL_SESV2, …) as the SDK's
// config.EnvConfig does: the SDK id upper-cased, spaces as underscores.
type envEndpoints func(string) string

func (e envEndpoints) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	v := e("AWS_ENDPOINT_URL_" + strings.ReplaceAll(strings.ToUpper(sdkID), " ", "_"))
	return v, v != "", nil
}
