# Optional (var.inbound): an SES receipt rule that copies the test accounts'
# mail, raw and unmodified, into an S3 bucket, where `inboxreader` and the
# reset round trip read it. The bucket encrypts on its side (SSE-S3): giving
# the S3 action a KMS key instead would make SES encrypt client-side, and a
# plain GetObject could not read the mail.
#
# Optional with it (var.roundtrip_github): the role the round-trip workflow
# assumes through GitHub's OIDC provider to read that copy.

locals {
  inbound           = var.inbound == null ? [] : [var.inbound]
  inbound_rule_name = "${local.function_name}-test-accounts"
  inbound_rule_arn  = "arn:${local.partition}:ses:${local.region}:${local.account_id}:receipt-rule-set/${try(var.inbound.rule_set_name, "")}:receipt-rule/${local.inbound_rule_name}"
  roundtrip         = var.inbound == null || var.roundtrip_github == null ? [] : [var.roundtrip_github]

  # S3 bucket names are 3 to 63 characters. <function_name>-inbound-<account>
  # fits while the function name has at most 42 (63 - 9 - 12); a longer one
  # (a long name or environment) keeps its first 33 characters and adds 8 hex
  # of its SHA-256, so that two long environments still get two buckets.
  inbound_bucket_full    = "${local.function_name}-inbound-${local.account_id}"
  inbound_bucket_default = length(local.inbound_bucket_full) <= 63 ? local.inbound_bucket_full : "${substr(local.function_name, 0, 33)}-${substr(sha256(local.function_name), 0, 8)}-inbound-${local.account_id}"
}

resource "aws_s3_bucket" "inbound" {
  count = length(local.inbound)

  bucket = coalesce(var.inbound.bucket_name, local.inbound_bucket_default)
  tags   = var.tags
}

resource "aws_s3_bucket_server_side_encryption_configuration" "inbound" {
  count = length(local.inbound)

  bucket = aws_s3_bucket.inbound[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "inbound" {
  count = length(local.inbound)

  bucket                  = aws_s3_bucket.inbound[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "inbound" {
  count = length(local.inbound)

  bucket = aws_s3_bucket.inbound[0].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

# The copies hold reset codes: they do not outlive their use.
resource "aws_s3_bucket_lifecycle_configuration" "inbound" {
  count = length(local.inbound)

  bucket = aws_s3_bucket.inbound[0].id
  rule {
    id     = "expire-test-mail"
    status = "Enabled"
    filter {
      prefix = var.inbound.prefix
    }
    expiration {
      days = var.inbound.expiration_days
    }
  }
}

data "aws_iam_policy_document" "inbound_bucket" {
  count = length(local.inbound)

  statement {
    sid       = "SESWritesTestAccountMail"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.inbound[0].arn}/${var.inbound.prefix}*"]
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
      values   = [local.inbound_rule_arn]
    }
  }

  statement {
    sid       = "TLSOnly"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.inbound[0].arn, "${aws_s3_bucket.inbound[0].arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "inbound" {
  count = length(local.inbound)

  bucket = aws_s3_bucket.inbound[0].id
  policy = data.aws_iam_policy_document.inbound_bucket[0].json

  depends_on = [aws_s3_bucket_public_access_block.inbound]
}

resource "aws_ses_receipt_rule" "test_accounts" {
  count = length(local.inbound)

  name          = local.inbound_rule_name
  rule_set_name = var.inbound.rule_set_name
  after         = var.inbound.after
  recipients    = var.inbound.recipients
  enabled       = true
  scan_enabled  = true

  # No kms_key_arn here: the bucket encrypts (see the top of this file).
  s3_action {
    bucket_name       = aws_s3_bucket.inbound[0].id
    object_key_prefix = var.inbound.prefix
    position          = 1
  }

  # SES writes a test object when the rule is created: the bucket must
  # already let it, and already encrypt.
  depends_on = [
    aws_s3_bucket_policy.inbound,
    aws_s3_bucket_server_side_encryption_configuration.inbound,
  ]
}

data "aws_iam_policy_document" "roundtrip_assume" {
  count = length(local.roundtrip)

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [var.roundtrip_github.oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = ["repo:${var.roundtrip_github.repository}:ref:${var.roundtrip_github.ref}"]
    }
  }
}

resource "aws_iam_role" "roundtrip" {
  count = length(local.roundtrip)

  name               = "${local.function_name}-roundtrip"
  assume_role_policy = data.aws_iam_policy_document.roundtrip_assume[0].json
  tags               = var.tags
}

# ForgotPassword, ConfirmForgotPassword and the SRP sign-in are public Cognito
# calls: the round trip needs AWS credentials only to read the inbound copy.
data "aws_iam_policy_document" "roundtrip" {
  count = length(local.roundtrip)

  statement {
    sid       = "ListTestMail"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.inbound[0].arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.inbound.prefix}*"]
    }
  }

  statement {
    sid       = "ReadTestMail"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.inbound[0].arn}/${var.inbound.prefix}*"]
  }
}

resource "aws_iam_role_policy" "roundtrip" {
  count = length(local.roundtrip)

  name   = "read-test-mail"
  role   = aws_iam_role.roundtrip[0].id
  policy = data.aws_iam_policy_document.roundtrip[0].json
}
