package failure

// Reason is an outcome reason: a stable snake_case name that appears in the
// log line and the JSON result. Use only the constants below; each is in
// Reasons with its class.
type Reason string

// Class is what a reason does to the invocation.
type Class int

const (
	// ClassPermanent: outcome refused; a retry cannot help, nothing was
	// sent, and Lambda is told success so that it does not retry.
	ClassPermanent Class = iota + 1
	// ClassRetryable: outcome failed; nothing was sent, and Lambda is told
	// an error so that it retries.
	ClassRetryable
	// ClassSuppressed: outcome suppressed; the recipient is on SES's
	// suppression list, nothing was sent (permanent).
	ClassSuppressed
	// ClassDuplicate: outcome duplicate; the event was already handled.
	ClassDuplicate
)

func (c Class) String() string {
	switch c {
	case ClassPermanent:
		return "permanent"
	case ClassRetryable:
		return "retryable"
	case ClassSuppressed:
		return "suppressed"
	case ClassDuplicate:
		return "duplicate"
	}
	return "unknown"
}

// The reasons. Their class and meaning are in Reasons, the one list.
const (
	ReasonEventInvalid           Reason = "event_invalid"
	ReasonUnknownTrigger         Reason = "unknown_trigger"
	ReasonEmailMissing           Reason = "email_missing"
	ReasonEmailInvalid           Reason = "email_invalid"
	ReasonCodeMissing            Reason = "code_missing"
	ReasonPoolNotAllowed         Reason = "pool_not_allowed"
	ReasonPoolMismatch           Reason = "pool_mismatch"
	ReasonPoolContextMissing     Reason = "pool_context_missing"
	ReasonCiphertextInvalid      Reason = "ciphertext_invalid"
	ReasonRenderFailed           Reason = "render_failed"
	ReasonMIMEFailed             Reason = "mime_failed"
	ReasonDKIMSignFailed         Reason = "dkim_sign_failed"
	ReasonSESRejected            Reason = "ses_rejected"
	ReasonKMSUnavailable         Reason = "kms_unavailable"
	ReasonDecryptSetup           Reason = "decrypt_setup"
	ReasonDKIMNotReady           Reason = "dkim_not_ready"
	ReasonSESThrottled           Reason = "ses_throttled"
	ReasonSESNotReady            Reason = "ses_not_ready"
	ReasonSESUnavailable         Reason = "ses_unavailable"
	ReasonMaildirFailed          Reason = "maildir_failed"
	ReasonIdempotencyUnavailable Reason = "idempotency_unavailable"
	ReasonDeadline               Reason = "deadline"
	ReasonInternal               Reason = "internal"
	ReasonSuppressedBounce       Reason = "suppressed_bounce"
	ReasonSuppressedComplaint    Reason = "suppressed_complaint"
	ReasonAlreadySent            Reason = "already_sent"
	ReasonInProgress             Reason = "in_progress"
	ReasonAlreadyHandled         Reason = "already_handled"
	ReasonRequestInvalid         Reason = "request_invalid"
	ReasonUnknownTemplate        Reason = "unknown_template"
	ReasonIdempotencyConflict    Reason = "idempotency_conflict"
)

// ReasonInfo is one reason, its class and one line of meaning.
type ReasonInfo struct {
	Reason  Reason
	Class   Class
	Meaning string
}

// Reasons is every outcome reason the mailer gives. The README's reason
// table lists the same reasons with the same classes (a test checks it).
var Reasons = []ReasonInfo{
	{ReasonEventInvalid, ClassPermanent, "the event is not JSON, is too large or names no user pool"},
	{ReasonUnknownTrigger, ClassPermanent, "the trigger source is not a custom email sender trigger"},
	{ReasonEmailMissing, ClassPermanent, "the user has no email attribute"},
	{ReasonEmailInvalid, ClassPermanent, "the email attribute is not one bare address SES can send to"},
	{ReasonCodeMissing, ClassPermanent, "the event carries no encrypted code, or it decrypts to nothing"},
	{ReasonPoolNotAllowed, ClassPermanent, "the event's user pool is not an allowed pool"},
	{ReasonPoolMismatch, ClassPermanent, "the ciphertext was made for another user pool"},
	{ReasonPoolContextMissing, ClassPermanent, "the ciphertext has no userpool-id encryption context"},
	{ReasonCiphertextInvalid, ClassPermanent, "the encrypted code is not a valid Encryption SDK message for an allowed key"},
	{ReasonRequestInvalid, ClassPermanent, "a service request is not JSON, is over 64 KiB, has unknown fields or fails its template's schema"},
	{ReasonUnknownTemplate, ClassPermanent, "a service request names no service template"},
	{ReasonIdempotencyConflict, ClassPermanent, "a service request reuses an idempotency key with a different request"},
	{ReasonRenderFailed, ClassPermanent, "the template cannot render the mail"},
	{ReasonMIMEFailed, ClassPermanent, "the mail cannot be written as MIME within RFC 5322's limits"},
	{ReasonDKIMSignFailed, ClassPermanent, "the mailer's own DKIM key cannot sign the mail"},
	{ReasonSESRejected, ClassPermanent, "SES rejected the mail (MessageRejected, BadRequestException)"},
	{ReasonKMSUnavailable, ClassRetryable, "KMS throttled, failed, could not be reached or refused for a reason an operator can fix"},
	{ReasonDecryptSetup, ClassRetryable, "the decrypt keyring could not be set up"},
	{ReasonDKIMNotReady, ClassRetryable, "the From domain is not an SES identity with DKIM SUCCESS and signing enabled"},
	{ReasonSESThrottled, ClassRetryable, "SES throttled the call"},
	{ReasonSESNotReady, ClassRetryable, "SES sending is paused or the account, MAIL FROM or configuration set is not ready"},
	{ReasonSESUnavailable, ClassRetryable, "SES failed or could not be reached"},
	{ReasonMaildirFailed, ClassRetryable, "the Maildir delivery could not write the mail"},
	{ReasonIdempotencyUnavailable, ClassRetryable, "the idempotency table could not be read or written"},
	{ReasonDeadline, ClassRetryable, "the invocation's deadline passed"},
	{ReasonInternal, ClassRetryable, "anything unclassified"},
	{ReasonSuppressedBounce, ClassSuppressed, "the recipient is on the suppression list for a bounce"},
	{ReasonSuppressedComplaint, ClassSuppressed, "the recipient is on the suppression list for a complaint"},
	{ReasonAlreadySent, ClassDuplicate, "the event was already sent"},
	{ReasonInProgress, ClassDuplicate, "another delivery of the event is in progress"},
	{ReasonAlreadyHandled, ClassDuplicate, "the event was already handled, in a state not reported"},
}

var classOf = func() map[Reason]Class {
	m := make(map[Reason]Class, len(Reasons))
	for _, r := range Reasons {
		m[r.Reason] = r.Class
	}
	return m
}()

// Class returns r's class, and 0 when r is not one of Reasons.
func (r Reason) Class() Class { return classOf[r] }
