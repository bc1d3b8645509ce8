# Phenom's deployment of the mailer: account 657033058608, us-east-1.
#
# One root, two environments, each with its own state:
#
#   make lambda                                      # at the repository root
#   terraform init -backend-config=development.s3.tfbackend
#   terraform plan -var-file=development.tfvars -out=development.plan
#
# development serves phenom-dev-local and phenom-staging (the pools the
# phenom-dev-cognito-custom-message Lambda serves today); production serves
# phenom-prod. Deploying wires nothing: each pool is switched over on its own
# (docs/operations.md, "Cut over from custom_message").

terraform {
  required_version = ">= 1.5.0"

  # Partial configuration: development.s3.tfbackend or production.s3.tfbackend.
  backend "s3" {}

  required_providers {
    # 6.x is what Phenom deploys with (the lock file pins the exact
    # version); 5.100 is the provider deploy/tofu_test.go can apply this root
    # with (no registry is reachable where the tests run). The module uses
    # only what both have; < 7.0 keeps an untried major out.
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100, < 7.0"
    }
  }
}

provider "aws" {
  region              = "us-east-1"
  allowed_account_ids = ["657033058608"]

  default_tags {
    tags = {
      Project     = "phenom-mailer"
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}

variable "environment" {
  description = "development or production"
  type        = string

  validation {
    condition     = contains(["development", "production"], var.environment)
    error_message = "environment is development or production."
  }
}

variable "alarm_emails" {
  description = "Who gets the mailer's alarms (failed and suppressed mail, dead letters, SES reputation): set it in <environment>.tfvars or with -var; each address confirms its subscription by mail. Empty: the alarms only show in the console."
  type        = list(string)
  default     = []
}

variable "github_repository" {
  description = "owner/name of the repository whose reset round-trip workflow may read the test accounts' mail."
  type        = string
  default     = "Phenom-earth/phenom-mailer"
}

locals {
  environments = {
    development = {
      pools = {
        "phenom-dev-local" = "us-east-1_AkG9mnbjA"
        "phenom-staging"   = "us-east-1_n8gO6SbP6"
      }
      # Each pool's app client for reset links Cognito names no client
      # for (an admin request): the hasura clients, the ones the apps and
      # www.thephenom.app/reset-password reset through.
      pool_clients = {
        "phenom-dev-local" = "2eq1vf0nvl5o3rha2vshm8j0mn"
        "phenom-staging"   = "6sjjnkaeagnqgkmbl1mr5rtfsr"
      }
      test_accounts = ["test-devlocal@thephenom.app", "test-staging@thephenom.app"]
      roundtrip     = true
    }
    production = {
      pools = {
        "phenom-prod" = "us-east-1_knEL7cqS3"
      }
      # phenom-prod-hasura-client: the inventory lists it as
      # 8uun49ru7f3fdvmlc12vqig3a, 25 characters where every other client id
      # has 26. Confirm it (aws cognito-idp list-user-pool-clients
      # --user-pool-id us-east-1_knEL7cqS3) before setting it here; until
      # then production links for admin requests carry no cid.
      pool_clients  = {}
      test_accounts = ["test-prod@thephenom.app"]
      roundtrip     = false
    }
  }
  env = local.environments[var.environment]
}

# The account's one active receipt rule set (today it delivers *@thephenom.app
# to WorkMail); the test-account rule is added to it, before the others, and
# does not stop them.
data "aws_ses_active_receipt_rule_set" "current" {}

# GitHub's OIDC provider, already in the account for phenom-infra's CI.
data "aws_iam_openid_connect_provider" "github" {
  count = local.env.roundtrip ? 1 : 0
  url   = "https://token.actions.githubusercontent.com"
}

module "mailer" {
  source = "../.."

  environment  = var.environment
  user_pools   = local.env.pools
  pool_clients = local.env.pool_clients

  # The defaults, spelled out: what Phenom sends today.
  from               = "Phenom <noreply@thephenom.app>"
  ses_identity       = "thephenom.app"
  password_reset_url = "https://www.thephenom.app/reset-password"

  # dist/lambda.zip at the repository root, built by `make lambda`.
  lambda_zip = "${path.root}/../../../../dist/lambda.zip"

  inbound = {
    rule_set_name = data.aws_ses_active_receipt_rule_set.current.rule_set_name
    recipients    = local.env.test_accounts
  }

  alarm_emails = var.alarm_emails

  roundtrip_github = local.env.roundtrip ? {
    repository        = var.github_repository
    oidc_provider_arn = data.aws_iam_openid_connect_provider.github[0].arn
  } : null
}

output "function_name" {
  value = module.mailer.function_name
}

output "source_code_hash" {
  value = module.mailer.source_code_hash
}

output "lambda_config" {
  value = module.mailer.lambda_config
}

output "update_user_pool_lambda_config" {
  value = module.mailer.update_user_pool_lambda_config
}

output "kms_key_arns" {
  value = module.mailer.kms_key_arns
}

output "idempotency_table_name" {
  value = module.mailer.idempotency_table_name
}

output "configuration_set_name" {
  value = module.mailer.configuration_set_name
}

output "log_group_name" {
  value = module.mailer.log_group_name
}

output "inbound_source" {
  value = module.mailer.inbound_source
}

output "roundtrip_role_arn" {
  value = module.mailer.roundtrip_role_arn
}

output "events_function_name" {
  value = module.mailer.events_function_name
}

output "delivery_table_name" {
  value = module.mailer.delivery_table_name
}

output "events_dlq_url" {
  value = module.mailer.events_dlq_url
}

output "failed_events_queue_url" {
  value = module.mailer.failed_events_queue_url
}

output "alarms_topic_arn" {
  value = module.mailer.alarms_topic_arn
}

output "alarm_prefix" {
  value = module.mailer.alarm_prefix
}

output "send_queue_url" {
  value = module.mailer.send_queue_url
}

output "send_dlq_url" {
  value = module.mailer.send_dlq_url
}

output "send_function_name" {
  value = module.mailer.send_function_name
}

output "send_function_url" {
  value = module.mailer.send_function_url
}

output "send_caller_policy_json" {
  value = module.mailer.send_caller_policy_json
}
