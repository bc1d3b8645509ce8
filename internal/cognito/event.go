// Package cognito models the Amazon Cognito custom email sender trigger and
// holds the Handler that turns one event into one mail: decrypt the code,
// render the message, send it. It must not know Lambda, environment
// variables or any AWS package (internal/arch_test.go holds it to that);
// it depends on the small interfaces it declares.
package cognito

import (
	"strings"

	"github.com/Phenom-earth/phenom-mailer/templates"
)

// TriggerSource is the event's triggerSource, for example
// "CustomEmailSender_ForgotPassword".
type TriggerSource string

// The eight trigger sources Cognito sends to a custom email sender.
const (
	TriggerSignUp                      TriggerSource = "CustomEmailSender_SignUp"
	TriggerResendCode                  TriggerSource = "CustomEmailSender_ResendCode"
	TriggerForgotPassword              TriggerSource = "CustomEmailSender_ForgotPassword"
	TriggerUpdateUserAttribute         TriggerSource = "CustomEmailSender_UpdateUserAttribute"
	TriggerVerifyUserAttribute         TriggerSource = "CustomEmailSender_VerifyUserAttribute"
	TriggerAdminCreateUser             TriggerSource = "CustomEmailSender_AdminCreateUser"
	TriggerAccountTakeOverNotification TriggerSource = "CustomEmailSender_AccountTakeOverNotification"
	TriggerAuthentication              TriggerSource = "CustomEmailSender_Authentication"
)

// TriggerSources lists every trigger source the mailer handles, in a fixed
// order: the Cognito templates of templates.Registry, prefixed.
var TriggerSources = func() []TriggerSource {
	var out []TriggerSource
	for _, name := range templates.Names(templates.Cognito) {
		out = append(out, TriggerSource(triggerPrefix+name))
	}
	return out
}()

const triggerPrefix = "CustomEmailSender_"

// Name is the trigger source without its "CustomEmailSender_" prefix
// ("ForgotPassword"): the name templates and preview files use.
func (t TriggerSource) Name() string { return strings.TrimPrefix(string(t), triggerPrefix) }

// Known reports whether t is one of the eight trigger sources.
func (t TriggerSource) Known() bool {
	_, ok := t.Template()
	return ok
}

// Template is the registry entry of the trigger's mail; ok is false for an
// unknown trigger source.
func (t TriggerSource) Template() (tmpl templates.Template, ok bool) {
	if !strings.HasPrefix(string(t), triggerPrefix) {
		return templates.Template{}, false
	}
	tmpl, ok = templates.Lookup(t.Name())
	return tmpl, ok && tmpl.Kind == templates.Cognito
}

// HasCode reports whether events of this trigger carry an encrypted code
// (the registry's Code). Account-takeover notices are the only ones that do
// not.
func (t TriggerSource) HasCode() bool {
	tmpl, ok := t.Template()
	return ok && tmpl.Code
}

// Event is the custom email sender event. aws-lambda-go has no type for it,
// so it is declared here, with the header every Cognito user-pool trigger
// shares.
type Event struct {
	Header
	Request  Request  `json:"request"`
	Response Response `json:"response"`
}

// Header is the part every Cognito user-pool trigger event shares (the
// fields and JSON names of aws-lambda-go's CognitoEventUserPoolsHeader,
// declared here so that this package imports no AWS package).
type Header struct {
	Version       string        `json:"version"`
	TriggerSource string        `json:"triggerSource"`
	Region        string        `json:"region"`
	UserPoolID    string        `json:"userPoolId"`
	CallerContext CallerContext `json:"callerContext"`
	UserName      string        `json:"userName"`
}

// CallerContext says which SDK and app client made the request.
type CallerContext struct {
	AWSSDKVersion string `json:"awsSdkVersion"`
	ClientID      string `json:"clientId"`
}

// Request is the request part of the event.
type Request struct {
	// Type is "customEmailSenderRequestV1".
	Type string `json:"type"`
	// Code is the base64 Encryption SDK message holding the code (or the
	// temporary password for AdminCreateUser). It is null for
	// account-takeover notices.
	Code *string `json:"code"`
	// ClientMetadata is absent or null unless the app passed it, and
	// Cognito does not reliably pass it to custom senders.
	ClientMetadata map[string]string `json:"clientMetadata"`
	// UserAttributes are all strings ("true", not true).
	UserAttributes map[string]string `json:"userAttributes"`
}

// Response is empty: Cognito expects no response fields.
type Response struct{}

// Trigger returns the event's trigger source.
func (e *Event) Trigger() TriggerSource { return TriggerSource(e.TriggerSource) }

// Ciphertext returns the encrypted code, or "" when there is none.
func (e *Event) Ciphertext() string {
	if e.Request.Code == nil {
		return ""
	}
	return *e.Request.Code
}

// Attr returns a user attribute, or "".
func (e *Event) Attr(name string) string { return e.Request.UserAttributes[name] }
