# The function's role: decrypt with the pool keys, send as the From identity
# through the configuration set, claim events in the idempotency table, ask
# the suppression list, write its delivery records, hand failed events to
# its on-failure queue, write its own log group. Nothing else.

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "mailer" {
  name               = local.function_name
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "mailer" {
  statement {
    sid       = "DecryptCognitoCodes"
    actions   = ["kms:Decrypt"]
    resources = [for key in aws_kms_key.pool : key.arn]
  }

  statement {
    sid       = "SendAsIdentity"
    actions   = ["ses:SendEmail", "ses:SendRawEmail"]
    resources = [local.ses_identity_arn, aws_sesv2_configuration_set.mailer.arn]
  }

  # The DKIM gate (MAILER_REQUIRE_DKIM) reads the identity before sending.
  statement {
    sid       = "ReadIdentityDKIM"
    actions   = ["ses:GetEmailIdentity"]
    resources = [local.ses_identity_arn]
  }

  statement {
    sid       = "IdempotencyClaims"
    actions   = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
    resources = [aws_dynamodb_table.idempotency.arn]
  }

  # One delivery record per event, after SES accepted (MAILER_DELIVERY_TABLE).
  statement {
    sid       = "WriteDeliveryRecords"
    actions   = ["dynamodb:PutItem"]
    resources = [aws_dynamodb_table.deliveries.arn]
  }

  # The suppression check before each send (MAILER_CHECK_SUPPRESSION): the
  # address's entry, and, for a listed address, the reasons the account
  # suppresses (GetAccount). Neither the account-level suppression list nor
  # the account has a resource ARN of its own.
  statement {
    sid       = "CheckSuppressionList"
    actions   = ["ses:GetAccount", "ses:GetSuppressedDestination"]
    resources = ["*"]
  }

  # Lambda's on-failure destination sends as the function's role.
  statement {
    sid       = "OnFailureDestination"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.failed_events.arn]
  }

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.mailer.arn}:*"]
  }
}

resource "aws_iam_role_policy" "mailer" {
  name   = "mailer"
  role   = aws_iam_role.mailer.id
  policy = data.aws_iam_policy_document.mailer.json
}
