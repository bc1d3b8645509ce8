// Package doctor checks whether a live environment can send Phenom's
// account mail: the SES account, the From identity and its DKIM, each pool's
// KMS key, the configuration set and the idempotency table, (delivery.go)
// the SES events, suppression list, delivery table, dead-letter queues and
// alarms, and (dns.go) the DNS records receivers judge the mail by (DMARC and
// DKIM alignment, the MAIL FROM domain's SPF, the Easy DKIM CNAMEs). Each
// check says what it found and, when it fails, what to fix.
//
// It must not know how the mailer sends or where the configuration comes
// from: cmd/mailer hands it the clients and the settings to check, and
// prints what it returns.
package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dynamotypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"
)

// Status of one check.
const (
	OK   = "ok"
	Warn = "warn"
	Fail = "fail"
)

// Check is one line of the report.
type Check struct {
	Name   string `json:"check"`
	Status string `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// Report is every check, in order.
type Report struct {
	Checks []Check `json:"checks"`
	OK     bool    `json:"ok"`
}

// SESAPI is what the doctor asks SES.
type SESAPI interface {
	GetAccount(ctx context.Context, in *sesv2.GetAccountInput, optFns ...func(*sesv2.Options)) (*sesv2.GetAccountOutput, error)
	GetEmailIdentity(ctx context.Context, in *sesv2.GetEmailIdentityInput, optFns ...func(*sesv2.Options)) (*sesv2.GetEmailIdentityOutput, error)
	GetConfigurationSet(ctx context.Context, in *sesv2.GetConfigurationSetInput, optFns ...func(*sesv2.Options)) (*sesv2.GetConfigurationSetOutput, error)
}

// KMSAPI is what the doctor asks KMS.
type KMSAPI interface {
	DescribeKey(ctx context.Context, in *kms.DescribeKeyInput, optFns ...func(*kms.Options)) (*kms.DescribeKeyOutput, error)
	Decrypt(ctx context.Context, in *kms.DecryptInput, optFns ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

// DynamoAPI is what the doctor asks DynamoDB.
type DynamoAPI interface {
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	DescribeTimeToLive(ctx context.Context, in *dynamodb.DescribeTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTimeToLiveOutput, error)
}

// Config is the environment to check.
type Config struct {
	FromDomain       string
	KeyARNs          []string
	ConfigurationSet string
	IdempotencyTable string
	SES              SESAPI
	KMS              KMSAPI
	Dynamo           DynamoAPI // needed only with IdempotencyTable or Delivery.DeliveryTable
	// Delivery holds the delivery checks' settings and clients (delivery.go).
	Delivery DeliveryConfig
	// DNS, when set, runs the DNS checks (dns.go). DKIMDomains are the d=
	// of the mail's DKIM signatures ("" or none: the From domain, which
	// SES's Easy DKIM signs with for a From domain identity).
	DNS         DNSAPI
	DKIMDomains []string
}

// Run performs every check. It never stops early: one report says all.
func Run(ctx context.Context, c Config) Report {
	var r Report
	r.Checks = append(r.Checks, account(ctx, c.SES)...)
	r.Checks = append(r.Checks, identity(ctx, c.SES, c.FromDomain)...)
	r.Checks = append(r.Checks, dnsChecks(ctx, c)...)
	for _, k := range c.KeyARNs {
		r.Checks = append(r.Checks, key(ctx, c.KMS, k))
	}
	if c.ConfigurationSet == "" {
		r.Checks = append(r.Checks, Check{"configuration set", Warn, "MAILER_CONFIGURATION_SET is not set: no SES event destinations (bounces, complaints) for the mailer's sends", "create one and set MAILER_CONFIGURATION_SET"})
	} else {
		r.Checks = append(r.Checks, configSet(ctx, c.SES, c.ConfigurationSet))
	}
	if c.IdempotencyTable == "" {
		r.Checks = append(r.Checks, Check{"idempotency table", Warn, "MAILER_IDEMPOTENCY_TABLE is not set: a repeated delivery of an event sends again", "create the table (deploy/terraform) and set MAILER_IDEMPOTENCY_TABLE"})
	} else {
		r.Checks = append(r.Checks, table(ctx, c.Dynamo, c.IdempotencyTable)...)
	}
	r.Checks = append(r.Checks, delivery(ctx, c)...)
	r.OK = true
	for _, ch := range r.Checks {
		if ch.Status == Fail {
			r.OK = false
		}
	}
	return r
}

func account(ctx context.Context, ses SESAPI) []Check {
	out, err := ses.GetAccount(ctx, &sesv2.GetAccountInput{})
	if err != nil {
		return []Check{{"ses account", Fail, "GetAccount: " + short(err), "check credentials, region and ses:GetAccount permission"}}
	}
	var checks []Check
	if out.SendingEnabled {
		checks = append(checks, Check{Name: "ses sending", Status: OK, Detail: "sending is enabled"})
	} else {
		checks = append(checks, Check{"ses sending", Fail, "sending is paused for the account", "resume sending (aws sesv2 put-account-sending-attributes --sending-enabled) once the cause is fixed"})
	}
	if out.ProductionAccessEnabled {
		checks = append(checks, Check{Name: "ses production access", Status: OK, Detail: "out of the sandbox"})
	} else {
		checks = append(checks, Check{"ses production access", Fail, "the account is in the SES sandbox: only verified recipients, 200 mails a day, 1 a second", "request production access for this region"})
	}
	if q := out.SendQuota; q != nil {
		st := OK
		detail := fmt.Sprintf("%.0f of %.0f sent in the last 24 h, %.0f/s max", q.SentLast24Hours, q.Max24HourSend, q.MaxSendRate)
		fix := ""
		if q.Max24HourSend > 0 && q.SentLast24Hours >= 0.8*q.Max24HourSend {
			st, fix = Warn, "over 80% of the daily quota is used: ask for a higher quota"
		}
		checks = append(checks, Check{"ses quota", st, detail, fix})
	}
	if s := out.EnforcementStatus; s != nil && *s != "HEALTHY" {
		checks = append(checks, Check{"ses enforcement", Warn, "enforcement status " + *s, "read the SES reputation dashboard"})
	}
	return checks
}

func identity(ctx context.Context, ses SESAPI, domain string) []Check {
	out, err := ses.GetEmailIdentity(ctx, &sesv2.GetEmailIdentityInput{EmailIdentity: &domain})
	if err != nil {
		fix := "check ses:GetEmailIdentity permission"
		if isCode(err, "NotFoundException") {
			fix = "create the domain identity with Easy DKIM and publish its three CNAME records"
		}
		return []Check{{"from identity", Fail, domain + ": " + short(err), fix}}
	}
	var checks []Check
	if out.VerifiedForSendingStatus {
		checks = append(checks, Check{Name: "from identity", Status: OK, Detail: domain + " is verified for sending"})
	} else {
		checks = append(checks, Check{"from identity", Fail, domain + " is not verified for sending", "publish the identity's DNS records and wait for verification"})
	}
	d := out.DkimAttributes
	switch {
	case d == nil:
		checks = append(checks, Check{"from dkim", Fail, domain + " has no DKIM attributes", "enable Easy DKIM on the identity"})
	case d.Status != sestypes.DkimStatusSuccess:
		checks = append(checks, Check{"from dkim", Fail, fmt.Sprintf("%s DKIM status is %s", domain, d.Status), "publish the DKIM CNAME records (aws sesv2 get-email-identity shows the tokens); the mailer refuses to send until SUCCESS"})
	case !d.SigningEnabled:
		checks = append(checks, Check{"from dkim", Fail, domain + " DKIM signing is disabled", "aws sesv2 put-email-identity-dkim-attributes --signing-enabled"})
	default:
		checks = append(checks, Check{Name: "from dkim", Status: OK, Detail: fmt.Sprintf("%s DKIM SUCCESS, signing enabled (%s)", domain, d.SigningAttributesOrigin)})
	}
	return checks
}

func key(ctx context.Context, k KMSAPI, arn string) Check {
	name := "kms key " + arn[strings.LastIndexByte(arn, '/')+1:]
	var notes []string
	out, err := k.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &arn})
	switch {
	case err == nil && out.KeyMetadata != nil:
		m := out.KeyMetadata
		if m.KeyState != kmstypes.KeyStateEnabled {
			return Check{name, Fail, fmt.Sprintf("key state %s", m.KeyState), "enable the key (or cancel its deletion); Cognito cannot encrypt codes with it"}
		}
		if m.KeyUsage != kmstypes.KeyUsageTypeEncryptDecrypt {
			return Check{name, Fail, fmt.Sprintf("key usage %s", m.KeyUsage), "Cognito needs a symmetric ENCRYPT_DECRYPT key"}
		}
		notes = append(notes, "enabled, ENCRYPT_DECRYPT")
	case isCode(err, "NotFoundException"):
		return Check{name, Fail, "no such key", "MAILER_KMS_KEY_ARNS must list the pools' key ARNs exactly"}
	case isCode(err, "AccessDeniedException"):
		notes = append(notes, "cannot describe (no kms:DescribeKey; fine for the Lambda role)")
	default:
		return Check{name, Fail, "DescribeKey: " + short(err), "check the key ARN and the network"}
	}
	// A decrypt probe with a blob that is not a ciphertext: KMS answers
	// InvalidCiphertextException when kms:Decrypt is allowed on the key, and
	// AccessDeniedException when it is not.
	_, err = k.Decrypt(ctx, &kms.DecryptInput{KeyId: &arn, CiphertextBlob: []byte("phenom-mailer doctor probe")})
	switch {
	case err == nil, isCode(err, "InvalidCiphertextException"), isCode(err, "IncorrectKeyException"):
		notes = append(notes, "kms:Decrypt allowed")
		return Check{Name: name, Status: OK, Detail: strings.Join(notes, "; ")}
	case isCode(err, "AccessDeniedException"):
		return Check{name, Fail, "kms:Decrypt is denied on this key", "grant the mailer's role kms:Decrypt on the key (deploy/terraform does)"}
	default:
		return Check{name, Fail, "Decrypt probe: " + short(err), "check the key ARN, its state and the network"}
	}
}

func configSet(ctx context.Context, ses SESAPI, name string) Check {
	_, err := ses.GetConfigurationSet(ctx, &sesv2.GetConfigurationSetInput{ConfigurationSetName: &name})
	switch {
	case err == nil:
		return Check{Name: "configuration set", Status: OK, Detail: name + " exists"}
	case isCode(err, "NotFoundException"):
		return Check{"configuration set", Fail, name + " does not exist: every send would fail", "create it or correct MAILER_CONFIGURATION_SET"}
	}
	return Check{"configuration set", Fail, "GetConfigurationSet: " + short(err), "check ses:GetConfigurationSet permission"}
}

func table(ctx context.Context, db DynamoAPI, name string) []Check {
	if db == nil {
		return []Check{{"idempotency table", Fail, "no DynamoDB client", ""}}
	}
	out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &name})
	if err != nil {
		fix := "check dynamodb:DescribeTable permission and the region"
		if isCode(err, "ResourceNotFoundException") {
			fix = "create the table (deploy/terraform) or correct MAILER_IDEMPOTENCY_TABLE; until then every send fails as idempotency_unavailable"
		}
		return []Check{{"idempotency table", Fail, name + ": " + short(err), fix}}
	}
	t := out.Table
	okKey := false
	for _, k := range t.KeySchema {
		if k.AttributeName != nil && *k.AttributeName == "id" && k.KeyType == dynamotypes.KeyTypeHash {
			okKey = true
		}
	}
	for _, a := range t.AttributeDefinitions {
		if a.AttributeName != nil && *a.AttributeName == "id" && a.AttributeType != dynamotypes.ScalarAttributeTypeS {
			okKey = false
		}
	}
	var checks []Check
	switch {
	case !okKey:
		checks = append(checks, Check{"idempotency table", Fail, name + " has no string partition key \"id\"", "recreate it with the schema in docs/reliability.md"})
	case t.TableStatus != dynamotypes.TableStatusActive:
		checks = append(checks, Check{"idempotency table", Fail, fmt.Sprintf("%s is %s", name, t.TableStatus), "wait for ACTIVE"})
	default:
		checks = append(checks, Check{Name: "idempotency table", Status: OK, Detail: name + " is ACTIVE with partition key id (S)"})
	}
	ttl, err := db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: &name})
	switch {
	case err != nil:
		checks = append(checks, Check{"idempotency ttl", Warn, "DescribeTimeToLive: " + short(err), "check dynamodb:DescribeTimeToLive permission"})
	case ttl.TimeToLiveDescription == nil || ttl.TimeToLiveDescription.TimeToLiveStatus != dynamotypes.TimeToLiveStatusEnabled ||
		ttl.TimeToLiveDescription.AttributeName == nil || *ttl.TimeToLiveDescription.AttributeName != "expires_at":
		checks = append(checks, Check{"idempotency ttl", Warn, "TTL on expires_at is not enabled: old keys are never removed", "aws dynamodb update-time-to-live --time-to-live-specification Enabled=true,AttributeName=expires_at"})
	default:
		checks = append(checks, Check{Name: "idempotency ttl", Status: OK, Detail: "TTL on expires_at"})
	}
	return checks
}

// WriteTable prints the report as an aligned table.
func (r Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tSTATUS\tDETAIL")
	for _, c := range r.Checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name, strings.ToUpper(c.Status), c.Detail)
		if c.Fix != "" && c.Status != OK {
			fmt.Fprintf(tw, "\t\t→ %s\n", c.Fix)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	verdict := "this environment can send"
	if !r.OK {
		verdict = "this environment cannot send: fix the FAIL lines above"
	}
	_, err := fmt.Fprintln(w, "\n"+verdict)
	return err
}

// WriteJSON prints the report as one JSON document.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func isCode(err error, code string) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == code
}

func short(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode() + ": " + apiErr.ErrorMessage()
	}
	s := err.Error()
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}
