// Command initfloor links only the libraries the mailer's Lambda build
// cannot do without, and does nothing: the AWS SDK's clients for the three
// services the Lambda calls (KMS, SES v2, DynamoDB), the AWS Encryption SDK
// with its material providers, and aws-lambda-go. `make bench` times its
// package initialisation beside the Lambda binary's: no change to the
// mailer's own code can take its initialisation below this program's.
// A test holds that each of these packages is linked into the Lambda build.
package main

import (
	_ "github.com/aws/aws-cryptographic-material-providers-library/releases/go/mpl/awscryptographymaterialproviderssmithygenerated"
	_ "github.com/aws/aws-cryptographic-material-providers-library/releases/go/mpl/awscryptographymaterialproviderssmithygeneratedtypes"
	_ "github.com/aws/aws-encryption-sdk/releases/go/encryption-sdk/awscryptographyencryptionsdksmithygenerated"
	_ "github.com/aws/aws-encryption-sdk/releases/go/encryption-sdk/awscryptographyencryptionsdksmithygeneratedtypes"
	_ "github.com/aws/aws-lambda-go/lambda"
	_ "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	_ "github.com/aws/aws-sdk-go-v2/service/kms"
	_ "github.com/aws/aws-sdk-go-v2/service/sesv2"
)

func main() {}
