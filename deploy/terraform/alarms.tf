# Alarms (issue 11), every one named <name>-<environment>-… (local.alarm_prefix,
# MAILER_ALARM_PREFIX for `mailer doctor`), all to one SNS topic whose
# subscriptions the caller sets (var.alarm_emails). Each alarm says when
# it is fine again (ok_actions), and no data is not an alarm: no traffic is
# no failure.
#
# deploy/hcl_test.go holds each metric, namespace, dimension and threshold
# against what the code emits (internal/metrics) and what AWS publishes.

locals {
  alarm_prefix  = "${local.function_name}-"
  alarm_actions = [aws_sns_topic.alarms.arn]
}

resource "aws_sns_topic" "alarms" {
  name              = "${local.function_name}-alarms"
  kms_master_key_id = aws_kms_key.topics.arn
  tags              = var.tags
}

# CloudWatch may publish this deployment's alarms here, and nothing else may.
data "aws_iam_policy_document" "alarms_topic" {
  statement {
    sid       = "CloudWatchPublishesTheseAlarms"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${local.alarm_prefix}*"]
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  arn    = aws_sns_topic.alarms.arn
  policy = data.aws_iam_policy_document.alarms_topic.json
}

resource "aws_sns_topic_subscription" "alarms" {
  for_each = toset(var.alarm_emails)

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

# A reset or invitation mail that failed (retryable: Lambda retries it; after
# the last attempt it lands in the failed-events queue).
resource "aws_cloudwatch_metric_alarm" "failed" {
  alarm_name          = "${local.alarm_prefix}failed"
  alarm_description   = "The mailer had a failed outcome (log field reason says why; docs/operations.md, What to do by reason)."
  namespace           = "Phenom/Mailer"
  metric_name         = "Invocations"
  dimensions          = { Outcome = "failed" }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

# A recipient on SES's suppression list got nothing (`mailer trace --to`).
resource "aws_cloudwatch_metric_alarm" "suppressed" {
  alarm_name          = "${local.alarm_prefix}suppressed"
  alarm_description   = "A mail was not sent: the recipient is on SES's account-level suppression list (mailer trace --to ADDRESS)."
  namespace           = "Phenom/Mailer"
  metric_name         = "Invocations"
  dimensions          = { Outcome = "suppressed" }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

# SES events the events function failed on five times.
resource "aws_cloudwatch_metric_alarm" "events_dlq" {
  alarm_name          = "${local.alarm_prefix}events-dlq"
  alarm_description   = "SES events the events function could not record are waiting in ${aws_sqs_queue.ses_events_dlq.name}."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.ses_events_dlq.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

# Cognito events the sender failed on every attempt: a user who asked for a
# code got none.
resource "aws_cloudwatch_metric_alarm" "failed_events" {
  alarm_name          = "${local.alarm_prefix}failed-events"
  alarm_description   = "Cognito events that failed every attempt are waiting in ${aws_sqs_queue.failed_events.name}: tell the users to ask again (docs/operations.md)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.failed_events.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "events_errors" {
  alarm_name          = "${local.alarm_prefix}events-errors"
  alarm_description   = "The events function ${aws_lambda_function.events.function_name} failed an invocation (its log group says why)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.events.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

# SES's own figures for the account (fractions: 0.02 is 2%). SES reviews an
# account at 5% bounces or 0.1% complaints and may pause sending at 10% or
# 0.5%: these fire well before.
resource "aws_cloudwatch_metric_alarm" "bounce_rate" {
  alarm_name          = "${local.alarm_prefix}bounce-rate"
  alarm_description   = "SES's account bounce rate is at or above 2% (SES reviews the account at 5%)."
  namespace           = "AWS/SES"
  metric_name         = "Reputation.BounceRate"
  statistic           = "Maximum"
  period              = 3600
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 0.02
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "complaint_rate" {
  alarm_name          = "${local.alarm_prefix}complaint-rate"
  alarm_description   = "SES's account complaint rate is at or above 0.05% (SES reviews the account at 0.1%)."
  namespace           = "AWS/SES"
  metric_name         = "Reputation.ComplaintRate"
  statistic           = "Maximum"
  period              = 3600
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 0.0005
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

# Send requests the send function failed on five times (issue 12): mail a
# Phenom service asked for and nobody got.
resource "aws_cloudwatch_metric_alarm" "send_dlq" {
  count = local.send_count

  alarm_name          = "${local.alarm_prefix}send-dlq"
  alarm_description   = "Send requests the send function failed on 5 times are waiting in ${aws_sqs_queue.send_dlq[0].name}: no mail went out for them (docs/operations.md)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.send_dlq[0].name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

# The send function failed an invocation (a crash or a timeout: a batch's
# own failures are reported per message, and are not Errors).
resource "aws_cloudwatch_metric_alarm" "send_errors" {
  count = local.send_count

  alarm_name          = "${local.alarm_prefix}send-errors"
  alarm_description   = "The send function ${aws_lambda_function.send[0].function_name} failed an invocation (its log group says why); SQS redelivers the batch."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.send[0].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}
