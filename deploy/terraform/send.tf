# The send service (issue 12): other Phenom services send a branded mail
# through the mailer. A queue (with its dead-letter queue) and a function URL
# with AWS_IAM auth feed a third function, the same bootstrap as the sender,
# run with MAILER_SERVICE=true. Off with enable_send_service = false.
#
# Pacing: SES refuses (throttles) what goes past the account's MaxSendRate.
# Each instance of the send function sends at most
# min(ses_max_send_rate, MaxSendRate) / service_max_concurrency mails a
# second (internal/pace), and at most service_max_concurrency instances run:
# per-instance rate x concurrency stays under the account's rate. Two
# settings make the "at most" hold:
#   - the event source mapping's maximum_concurrency bounds the instances SQS
#     starts, and
#   - reserved concurrency (the same number) bounds them all, function URL
#     invocations included (the mapping's bound does not see those).
# The price of the second: a URL call that finds every instance busy gets
# Lambda's 429 (the client retries it), and a batch that finds them all
# taken by URL calls is throttled; Lambda's poller retries it while its
# messages are invisible (6 x the timeout) before SQS hands them out again
# (5 receives, then the dead-letter queue and its alarm).

locals {
  send_function_name = "${local.function_name}-send"
  send_count         = var.enable_send_service ? 1 : 0
}

# A message received 5 times (retryable failures, a crashed batch) goes
# here and stays 14 days. The mailer refuses a bad request without a retry
# (recorded and deleted): what lands here is what kept failing for a
# passing reason.
resource "aws_sqs_queue" "send_dlq" {
  count = local.send_count

  name                      = "${local.send_function_name}-dlq"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

# No queue policy: the queue is this account's, and a principal of this
# account may send when its identity policy allows it (the
# send_caller_policy_json output). Encrypted with SQS's own keys, so a
# caller needs no KMS permission.
resource "aws_sqs_queue" "send" {
  count = local.send_count

  name                    = local.send_function_name
  sqs_managed_sse_enabled = true
  # Lambda's guidance for an SQS event source: at least six times the
  # function's timeout, so a batch in flight is not handed out twice.
  visibility_timeout_seconds = 6 * var.service_timeout
  message_retention_seconds  = 345600

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.send_dlq[0].arn
    maxReceiveCount     = 5
  })

  tags = var.tags
}

# The send function's role: send as the From identity, the SES checks
# before a send, the idempotency claims, the delivery records, the queue,
# its logs. No KMS: the service path decrypts nothing.
data "aws_iam_policy_document" "send" {
  count = local.send_count

  statement {
    sid       = "SendAsIdentity"
    actions   = ["ses:SendEmail", "ses:SendRawEmail"]
    resources = [local.ses_identity_arn, aws_sesv2_configuration_set.mailer.arn]
  }

  # The readiness checks (DKIM SUCCESS, MAIL FROM verified) read the identity.
  statement {
    sid       = "ReadIdentity"
    actions   = ["ses:GetEmailIdentity"]
    resources = [local.ses_identity_arn]
  }

  # GetAccount: the account's MaxSendRate (the pacing) and whether sending
  # is enabled; GetSuppressedDestination: the suppression check
  # (MAILER_CHECK_SUPPRESSION, on by default). Neither the account nor its
  # suppression list has a resource ARN.
  statement {
    sid       = "ReadAccountAndSuppressionList"
    actions   = ["ses:GetAccount", "ses:GetSuppressedDestination"]
    resources = ["*"]
  }

  statement {
    sid       = "IdempotencyClaims"
    actions   = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
    resources = [aws_dynamodb_table.idempotency.arn]
  }

  statement {
    sid       = "WriteDeliveryRecords"
    actions   = ["dynamodb:PutItem"]
    resources = [aws_dynamodb_table.deliveries.arn]
  }

  # What Lambda's poller needs to feed the function from the queue.
  statement {
    sid       = "ReadSendQueue"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
    resources = [aws_sqs_queue.send[0].arn]
  }

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.send[0].arn}:*"]
  }
}

resource "aws_iam_role" "send" {
  count = local.send_count

  name               = local.send_function_name
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "send" {
  count = local.send_count

  name   = "send"
  role   = aws_iam_role.send[0].id
  policy = data.aws_iam_policy_document.send[0].json
}

resource "aws_cloudwatch_log_group" "send" {
  count = local.send_count

  name              = "/aws/lambda/${local.send_function_name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_lambda_function" "send" {
  count = local.send_count

  function_name = local.send_function_name
  description   = "Sends the mail of other Phenom services for ${local.function_name} (queue ${local.send_function_name} and its function URL)"
  role          = aws_iam_role.send[0].arn

  runtime       = "provided.al2023"
  architectures = ["arm64"]
  handler       = "bootstrap"
  memory_size   = var.memory_size
  timeout       = var.service_timeout

  # The sender's zip: the bootstrap serves whichever event it is given.
  filename         = local.lambda_zip
  source_code_hash = filebase64sha256(local.lambda_zip)

  # See the top of this file: with the mapping's maximum_concurrency, this
  # keeps every instance, URL calls included, within MAILER_SERVICE_CONCURRENCY.
  reserved_concurrent_executions = var.service_max_concurrency

  # Read by cmd/mailer/config.go: the settings both senders share, and the
  # service's own. No KMS keys or pools: the service path decrypts nothing.
  environment {
    variables = merge(local.send_environment, {
      MAILER_SERVICE             = "true"
      MAILER_SERVICE_CONCURRENCY = var.service_max_concurrency
      MAILER_SERVICE_RATE        = var.ses_max_send_rate
    })
  }

  tags = var.tags

  lifecycle {
    # A batch of 10 paced at the per-instance rate must fit in half the
    # timeout (the rest is for SES's answers and the claims): else each
    # batch would run out of time, come back, and end in the DLQ.
    precondition {
      condition     = 10 * var.service_max_concurrency / var.ses_max_send_rate <= var.service_timeout / 2
      error_message = "A batch of 10 at ses_max_send_rate / service_max_concurrency mails a second must take at most half of service_timeout: raise ses_max_send_rate or service_timeout, or lower service_max_concurrency."
    }
  }

  depends_on = [aws_cloudwatch_log_group.send, aws_iam_role_policy.send]
}

resource "aws_lambda_event_source_mapping" "send" {
  count = local.send_count

  event_source_arn = aws_sqs_queue.send[0].arn
  function_name    = aws_lambda_function.send[0].arn
  batch_size       = 10
  # The function returns the messages to retry (retryable failures, a key
  # still in flight); SQS redelivers those alone. Refused ones are deleted.
  function_response_types = ["ReportBatchItemFailures"]

  # At most this many batches at once: the divisor of the per-instance rate
  # (MAILER_SERVICE_CONCURRENCY). 2 is SQS event sources' minimum.
  scaling_config {
    maximum_concurrency = var.service_max_concurrency
  }
}

# POST /v1/send for callers that want SES's message id back. AWS_IAM: Lambda
# checks the SigV4 signature and the caller's policy before the function
# runs, and passes the caller in requestContext.authorizer.iam. No
# resource-based policy: callers are this account's principals, allowed by
# their identity policy (send_caller_policy_json).
resource "aws_lambda_function_url" "send" {
  count = local.send_count

  function_name      = aws_lambda_function.send[0].function_name
  authorization_type = "AWS_IAM"
}

# What a caller's role or user attaches to be allowed to send. Function URLs
# created from October 2025 need both lambda:InvokeFunctionUrl and
# lambda:InvokeFunction; the second is limited to calls through the URL with
# the condition key lambda:InvokedViaFunctionUrl (Bool), so the policy does
# not also allow invoking the function directly. AWS Lambda Developer Guide,
# "Control access to Lambda function URLs":
# https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html
data "aws_iam_policy_document" "send_caller" {
  count = local.send_count

  statement {
    sid       = "SendThroughQueue"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.send[0].arn]
  }

  statement {
    sid       = "CallFunctionURL"
    actions   = ["lambda:InvokeFunctionUrl"]
    resources = [aws_lambda_function.send[0].arn]
    condition {
      test     = "StringEquals"
      variable = "lambda:FunctionUrlAuthType"
      values   = ["AWS_IAM"]
    }
  }

  statement {
    sid       = "InvokeThroughFunctionURL"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.send[0].arn]
    condition {
      test     = "Bool"
      variable = "lambda:InvokedViaFunctionUrl"
      values   = ["true"]
    }
  }
}
