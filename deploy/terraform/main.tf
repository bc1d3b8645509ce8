# phenom-mailer: Phenom's Amazon Cognito custom email sender.
#
# One deployment serves the pools in var.user_pools. The pools themselves are
# not managed here: wire each one with the lambda_config output (see
# docs/operations.md, "Wire a pool").

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  function_name = "${var.name}-${var.environment}"
  account_id    = data.aws_caller_identity.current.account_id
  partition     = data.aws_partition.current.partition
  # `id` is the region's name in both the 5.x and 6.x providers (6.0 added
  # `region` and deprecated `name`): the module works with either.
  region = data.aws_region.current.id

  # The artefact of `make lambda`, byte for byte the same from any clean
  # checkout; its hash is source_code_hash. Required: a default relative to
  # path.module would only hold when the module is used from this checkout
  # by a relative path (Terraform copies a remote or absolute source into
  # .terraform/modules, where no dist/ exists).
  lambda_zip = var.lambda_zip

  pool_arns = {
    for name, id in var.user_pools :
    name => "arn:${local.partition}:cognito-idp:${local.region}:${local.account_id}:userpool/${id}"
  }

  ses_identity_arn = "arn:${local.partition}:ses:${local.region}:${local.account_id}:identity/${var.ses_identity}"
}
