# SES delivery events (issue 11): the configuration set publishes every event
# that says what became of a mail to an SNS topic; the topic feeds an SQS
# queue (with its dead-letter queue), and the events function, the same
# bootstrap as the sender, records each event in the delivery table.
#
# Why SNS and not EventBridge: SNS -> SQS wraps each SES event in SNS's
# documented JSON envelope (`Message` is the event), one shape the events
# function decodes; a configuration set publishes to a topic of its own
# account with a topic policy scoped to this configuration set; nothing has
# to be added to the account's default event bus (shared with phenom-infra);
# and moto delivers SNS -> SQS, so the tests run the real wiring. Raw message
# delivery stays off: the envelope keeps SNS's MessageId (the same on SNS
# retries) for the function's duplicate check.

locals {
  events_function_name = "${local.function_name}-events"

  # What says what became of a mail. OPEN, CLICK and SUBSCRIPTION are
  # tracking features the mailer does not use.
  ses_event_types = ["SEND", "DELIVERY", "BOUNCE", "COMPLAINT", "REJECT", "DELIVERY_DELAY", "RENDERING_FAILURE"]
}

# The events name recipients in clear: the topic is encrypted with a key of
# this account that SES (to publish) may use. An AWS managed key (alias/aws/sns)
# cannot be used: its policy cannot let SES or CloudWatch in.
data "aws_iam_policy_document" "topics_key" {
  statement {
    sid       = "AccountAdministersThroughIAM"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "SESAndCloudWatchPublishToEncryptedTopics"
    actions   = ["kms:GenerateDataKey*", "kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["ses.amazonaws.com", "cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_kms_key" "topics" {
  description             = "SNS topics of ${local.function_name}: SES events and alarms"
  key_usage               = "ENCRYPT_DECRYPT"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.topics_key.json
  tags                    = var.tags
}

resource "aws_kms_alias" "topics" {
  name          = "alias/${local.function_name}-topics"
  target_key_id = aws_kms_key.topics.key_id
}

resource "aws_sns_topic" "ses_events" {
  name              = "${local.function_name}-ses-events"
  kms_master_key_id = aws_kms_key.topics.arn
  tags              = var.tags
}

# SES may publish here for this configuration set only, in this account.
data "aws_iam_policy_document" "ses_events_topic" {
  statement {
    sid       = "SESPublishesThisConfigurationSet"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.ses_events.arn]
    principals {
      type        = "Service"
      identifiers = ["ses.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [aws_sesv2_configuration_set.mailer.arn]
    }
  }
}

resource "aws_sns_topic_policy" "ses_events" {
  arn    = aws_sns_topic.ses_events.arn
  policy = data.aws_iam_policy_document.ses_events_topic.json
}

resource "aws_sesv2_configuration_set_event_destination" "ses_events" {
  configuration_set_name = aws_sesv2_configuration_set.mailer.configuration_set_name
  event_destination_name = "delivery-events"

  event_destination {
    enabled              = true
    matching_event_types = local.ses_event_types

    sns_destination {
      topic_arn = aws_sns_topic.ses_events.arn
    }
  }

  depends_on = [aws_sns_topic_policy.ses_events]
}

# A message the function failed on 5 times goes here (the events-dlq alarm),
# and stays 14 days: long enough to look at it after a weekend.
resource "aws_sqs_queue" "ses_events_dlq" {
  name                      = "${local.function_name}-ses-events-dlq"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

resource "aws_sqs_queue" "ses_events" {
  name                    = "${local.function_name}-ses-events"
  sqs_managed_sse_enabled = true
  # Lambda's guidance for an SQS event source: at least six times the
  # function's timeout, so a batch in flight is not handed out twice.
  visibility_timeout_seconds = 6 * var.events_timeout
  message_retention_seconds  = 345600

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.ses_events_dlq.arn
    maxReceiveCount     = 5
  })

  tags = var.tags
}

# Only the events topic may send to the queue.
data "aws_iam_policy_document" "ses_events_queue" {
  statement {
    sid       = "EventsTopicSends"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.ses_events.arn]
    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_sns_topic.ses_events.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "ses_events" {
  queue_url = aws_sqs_queue.ses_events.id
  policy    = data.aws_iam_policy_document.ses_events_queue.json
}

resource "aws_sns_topic_subscription" "ses_events" {
  topic_arn = aws_sns_topic.ses_events.arn
  protocol  = "sqs"
  endpoint  = aws_sqs_queue.ses_events.arn
  # Off: the body is SNS's envelope, whose Message is the SES event (the
  # shape the events function decodes).
  raw_message_delivery = false

  depends_on = [aws_sqs_queue_policy.ses_events]
}

# The events function: the same zip, its own role.

data "aws_iam_policy_document" "events" {
  statement {
    sid       = "ReadEventsQueue"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
    resources = [aws_sqs_queue.ses_events.arn]
  }

  # What SES reported, added to the record of the mail's message id.
  statement {
    sid       = "RecordDeliveryEvents"
    actions   = ["dynamodb:PutItem"]
    resources = [aws_dynamodb_table.deliveries.arn]
  }

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.events.arn}:*"]
  }
}

resource "aws_iam_role" "events" {
  name               = local.events_function_name
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "events" {
  name   = "events"
  role   = aws_iam_role.events.id
  policy = data.aws_iam_policy_document.events.json
}

resource "aws_cloudwatch_log_group" "events" {
  name              = "/aws/lambda/${local.events_function_name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_lambda_function" "events" {
  function_name = local.events_function_name
  description   = "Records the SES events of ${local.function_name}'s mail in ${aws_dynamodb_table.deliveries.name}"
  role          = aws_iam_role.events.arn

  runtime       = "provided.al2023"
  architectures = ["arm64"]
  handler       = "bootstrap"
  memory_size   = 128
  timeout       = var.events_timeout

  # The sender's zip: the bootstrap serves whichever event it is given.
  filename         = local.lambda_zip
  source_code_hash = filebase64sha256(local.lambda_zip)

  # Read by cmd/mailer/config.go; no KMS keys or pools: this function never
  # decrypts or sends.
  environment {
    variables = local.delivery_environment
  }

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.events, aws_iam_role_policy.events]
}

resource "aws_lambda_event_source_mapping" "ses_events" {
  event_source_arn = aws_sqs_queue.ses_events.arn
  function_name    = aws_lambda_function.events.arn
  batch_size       = 10
  # The function returns the records it could not record; SQS redelivers
  # those alone, and the DLQ takes one after 5 receives.
  function_response_types = ["ReportBatchItemFailures"]

  # A burst of events never takes more than this many concurrent functions
  # (2 is SQS event sources' minimum).
  scaling_config {
    maximum_concurrency = var.events_maximum_concurrency
  }
}
