//go:build !lambda

package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
)

// loadAWSConfig is the SDK's whole default chain for people: environment,
// shared config and credentials files, SSO, web identity, containers, IMDS.
// The Lambda build reads the environment only (awsconfig_lambda.go).
func loadAWSConfig(ctx context.Context) (aws.Config, error) {
	return awsconfig.LoadDefaultConfig(ctx)
}
