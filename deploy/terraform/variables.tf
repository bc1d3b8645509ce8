variable "environment" {
  description = "Deployment name, e.g. development or production. Part of every resource name and the value of the mails' environment tag (MAILER_ENVIRONMENT)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,31}$", var.environment))
    error_message = "environment must be lower-case letters, digits and dashes, at most 32 characters."
  }
}

variable "user_pools" {
  description = "The Cognito user pools this deployment serves: pool name => pool id (us-east-1_XXXX). Each gets its own KMS key and invoke permission; all must be in the provider's region and account."
  type        = map(string)

  validation {
    condition     = length(var.user_pools) > 0 && alltrue([for id in values(var.user_pools) : can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]_[0-9A-Za-z]+$", id))])
    error_message = "user_pools must name at least one pool, each id shaped like us-east-1_n8gO6SbP6."
  }
}

variable "pool_clients" {
  description = "Optional: each pool's default app client, pool name (a key of user_pools) => app client id. The reset link's cid names it when Cognito gives no client (an admin request sends CLIENT_ID_NOT_APPLICABLE); without one such a link has no cid (MAILER_POOL_CLIENTS)."
  type        = map(string)
  default     = {}

  validation {
    # Cognito's documented pattern for an app client id: [\w+]+, 1 to 128 characters.
    condition     = alltrue([for id in values(var.pool_clients) : can(regex("^[0-9A-Za-z_+]{1,128}$", id)) && id != "CLIENT_ID_NOT_APPLICABLE"])
    error_message = "pool_clients values must be app client ids (letters, digits, _ and +, at most 128 characters)."
  }
}

variable "name" {
  description = "Prefix of every resource name; the function is <name>-<environment>."
  type        = string
  default     = "phenom-mailer"
}

variable "lambda_zip" {
  description = "Path to the zip built by `make lambda` (dist/lambda.zip of a checkout), for example \"$${path.root}/../../dist/lambda.zip\". Required: no default could find the checkout once Terraform copied the module into .terraform/modules. Never an archive_file of a source folder: stray files change its hash."
  type        = string

  validation {
    condition     = endswith(var.lambda_zip, ".zip") && fileexists(var.lambda_zip)
    error_message = "lambda_zip must name an existing .zip: run `make lambda` at the repository root and pass the path of dist/lambda.zip."
  }
}

variable "from" {
  description = "From header of every mail (MAILER_FROM). Its domain must be the SES identity below, verified, with Easy DKIM."
  type        = string
  default     = "Phenom <noreply@thephenom.app>"
}

variable "ses_identity" {
  description = "The verified SES identity the mailer sends as: the From domain (thephenom.app). The role may send only as this identity."
  type        = string
  default     = "thephenom.app"
}

variable "password_reset_url" {
  description = "Target of the ForgotPassword button (PASSWORD_RESET_URL); ?code=…&email=…&cid=… is appended."
  type        = string
  default     = "https://www.thephenom.app/reset-password"
}

variable "web_app_url" {
  description = "The web app the welcome mail (send service) links to (MAILER_WEB_APP_URL, https)."
  type        = string
  default     = "https://www.thephenom.app"

  validation {
    condition     = can(regex("^https://[^/]+", var.web_app_url))
    error_message = "web_app_url must be an absolute https URL."
  }
}

variable "app_store_url" {
  description = "Optional: the iOS app's App Store page, linked from the welcome mail (MAILER_APP_STORE_URL, https). Unset, the mail has no App Store link."
  type        = string
  default     = null

  validation {
    condition     = var.app_store_url == null || can(regex("^https://[^/]+", var.app_store_url))
    error_message = "app_store_url must be an absolute https URL."
  }
}

variable "play_store_url" {
  description = "Optional: the Android app's Google Play page, linked from the welcome mail (MAILER_PLAY_STORE_URL, https). Unset, the mail has no Google Play link."
  type        = string
  default     = null

  validation {
    condition     = var.play_store_url == null || can(regex("^https://[^/]+", var.play_store_url))
    error_message = "play_store_url must be an absolute https URL."
  }
}

variable "memory_size" {
  description = "Lambda memory in MB (arm64). The mailer needs little; more memory also means more CPU for the ECDSA P-384 check of each ciphertext."
  type        = number
  default     = 256
}

variable "timeout" {
  description = "Lambda timeout in seconds. The mailer keeps 1.5 s back from it to settle its idempotency claim and log its line."
  type        = number
  default     = 20
}

variable "log_retention_days" {
  description = "Retention of the function's log group."
  type        = number
  default     = 90
}

variable "maximum_event_age_seconds" {
  description = "How long Lambda keeps retrying an event (asynchronous invocation). 21600 (6 h) is Lambda's maximum; a reset code is valid for 1 hour, an invitation for days."
  type        = number
  default     = 21600
}

variable "kms_deletion_window_days" {
  description = "Waiting period before a pool key scheduled for deletion is gone. Codes in flight cannot be decrypted without it."
  type        = number
  default     = 30
}

variable "inbound" {
  description = <<-EOT
    Optional: keep an inbound copy of the test accounts' mail in S3, for `inboxreader` and the
    reset round trip. rule_set_name is the account's ACTIVE receipt rule set
    (aws ses describe-active-receipt-rule-set); recipients are the test accounts' addresses;
    after names the rule to place this one after (for example the WorkMail rule).
  EOT
  type = object({
    rule_set_name   = string
    recipients      = list(string)
    after           = optional(string)
    bucket_name     = optional(string)
    prefix          = optional(string, "inbound/")
    expiration_days = optional(number, 7)
  })
  default = null
}

variable "roundtrip_github" {
  description = "Optional, with inbound: an IAM role that GitHub Actions assumes through OIDC to read the inbound copy in the reset round-trip workflow. oidc_provider_arn is the account's token.actions.githubusercontent.com provider; ref is the only ref allowed to assume it."
  type = object({
    repository        = string
    oidc_provider_arn = string
    ref               = optional(string, "refs/heads/main")
  })
  default = null
}

variable "tags" {
  description = "Tags for every resource that takes them."
  type        = map(string)
  default     = {}
}

variable "delivery_ttl" {
  description = "How long delivery records live (MAILER_DELIVERY_TTL): a Go duration such as 720h, or Nd days."
  type        = string
  default     = "30d"

  validation {
    condition     = can(regex("^([0-9]+d|([0-9]+(\\.[0-9]+)?(h|m|s))+)$", var.delivery_ttl))
    error_message = "delivery_ttl is a Go duration (720h) or a number of days (30d)."
  }
}

variable "events_timeout" {
  description = "Timeout in seconds of the events function (one batch of up to 10 SES events). The events queue's visibility timeout is six times this."
  type        = number
  default     = 30
}

variable "events_maximum_concurrency" {
  description = "At most this many events functions run at once for the events queue (2 to 1000)."
  type        = number
  default     = 2

  validation {
    condition     = var.events_maximum_concurrency >= 2 && var.events_maximum_concurrency <= 1000
    error_message = "events_maximum_concurrency is between 2 and 1000 (Lambda's limits for an SQS event source)."
  }
}

variable "alarm_emails" {
  description = "Addresses subscribed to the alarms topic (each confirms by mail). Other subscriptions can be added to the alarms_topic_arn output."
  type        = list(string)
  default     = []
}

variable "enable_send_service" {
  description = "Create the send service (issue 12): the send queue and its dead-letter queue, the send function (<name>-<environment>-send, MAILER_SERVICE=true) and its function URL, its alarms, and the send_* outputs. false creates none of it."
  type        = bool
  default     = true
}

variable "service_max_concurrency" {
  description = "At most this many send functions run at once (the queue's event source mapping's maximum_concurrency and the function's reserved concurrency; MAILER_SERVICE_CONCURRENCY): each sends at most ses_max_send_rate / service_max_concurrency mails a second. 2 to 1000 (2 is Lambda's minimum for an SQS event source)."
  type        = number
  default     = 2

  validation {
    condition     = var.service_max_concurrency >= 2 && var.service_max_concurrency <= 1000 && floor(var.service_max_concurrency) == var.service_max_concurrency
    error_message = "service_max_concurrency is a whole number between 2 and 1000 (Lambda's limits for an SQS event source's maximum concurrency)."
  }
}

variable "ses_max_send_rate" {
  description = "Mails a second the send service may use, all instances together (MAILER_SERVICE_RATE); the mailer uses min(this, the account's MaxSendRate from SES GetAccount). Each of the service_max_concurrency functions sends at most ses_max_send_rate / service_max_concurrency a second, so together they stay under it: keep it below the account's MaxSendRate (aws sesv2 get-account) by what the Cognito sender needs."
  type        = number
  default     = 14

  validation {
    condition     = var.ses_max_send_rate > 0
    error_message = "ses_max_send_rate is a number of mails a second, greater than 0."
  }
}

variable "service_timeout" {
  description = "Timeout in seconds of the send function: one batch of up to 10 SQS messages, or one function URL request. The send queue's visibility timeout is six times this; a batch of 10 at the per-instance rate (ses_max_send_rate / service_max_concurrency) must take at most half of it."
  type        = number
  default     = 30

  validation {
    condition     = var.service_timeout >= 3 && var.service_timeout <= 900
    error_message = "service_timeout is between 3 and 900 seconds (Lambda's maximum)."
  }
}
