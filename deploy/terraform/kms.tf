# One symmetric KMS key per pool (LambdaConfig.KMSKeyID). Cognito encrypts
# each code with it through a grant it creates itself; the key policy lets it
# do so only on behalf of that pool, in this account.

data "aws_iam_policy_document" "pool_key" {
  for_each = var.user_pools

  # The account administers the key through IAM (the default key policy);
  # the mailer's role gets kms:Decrypt that way, and nothing else.
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
    sid       = "CognitoCreatesGrantsForThisPool"
    actions   = ["kms:CreateGrant"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cognito-idp.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.pool_arns[each.key]]
    }
  }
}

resource "aws_kms_key" "pool" {
  for_each = var.user_pools

  description             = "Cognito custom sender codes for ${each.key} (${each.value})"
  key_usage               = "ENCRYPT_DECRYPT"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.pool_key[each.key].json
  tags                    = var.tags
}

resource "aws_kms_alias" "pool" {
  for_each = var.user_pools

  name          = "alias/${local.function_name}-${each.key}"
  target_key_id = aws_kms_key.pool[each.key].key_id
}
