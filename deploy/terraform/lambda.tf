# The function, its log group, its asynchronous-invocation policy and the
# permission for Cognito to invoke it from the served pools only.

locals {
  # What every function that records a delivery reads (the sender, the
  # events function, the send service).
  delivery_environment = {
    MAILER_DELIVERY_TABLE = aws_dynamodb_table.deliveries.name
    MAILER_DELIVERY_TTL   = var.delivery_ttl
  }

  # What both senders (Cognito's and the send service) read to render and
  # send: written once, so the two cannot drift apart. The app stores'
  # links are set only when given (unset, the welcome mail leaves them out).
  send_environment = merge(
    local.delivery_environment,
    {
      MAILER_IDEMPOTENCY_TABLE = aws_dynamodb_table.idempotency.name
      MAILER_FROM              = var.from
      MAILER_CONFIGURATION_SET = aws_sesv2_configuration_set.mailer.configuration_set_name
      MAILER_ENVIRONMENT       = var.environment
      PASSWORD_RESET_URL       = var.password_reset_url
      MAILER_WEB_APP_URL       = var.web_app_url
    },
    var.app_store_url == null ? {} : { MAILER_APP_STORE_URL = var.app_store_url },
    var.play_store_url == null ? {} : { MAILER_PLAY_STORE_URL = var.play_store_url },
  )
}

resource "aws_cloudwatch_log_group" "mailer" {
  name              = "/aws/lambda/${local.function_name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_lambda_function" "mailer" {
  function_name = local.function_name
  description   = "Cognito custom email sender for ${join(", ", keys(var.user_pools))}"
  role          = aws_iam_role.mailer.arn

  runtime       = "provided.al2023"
  architectures = ["arm64"]
  handler       = "bootstrap"
  memory_size   = var.memory_size
  timeout       = var.timeout

  # Built by `make lambda`; never an archive_file over a source folder.
  filename         = local.lambda_zip
  source_code_hash = filebase64sha256(local.lambda_zip)

  # Every name here is read by cmd/mailer/config.go (`mailer help`);
  # deploy/terraform_test.go holds the two together.
  environment {
    variables = merge(
      local.send_environment,
      {
        MAILER_KMS_KEY_ARNS  = join(",", [for key in aws_kms_key.pool : key.arn])
        MAILER_ALLOWED_POOLS = join(",", values(var.user_pools))
        MAILER_POOL_CLIENTS  = join(",", [for pool, client in var.pool_clients : "${var.user_pools[pool]}=${client}"])
        # Not used by the function: read by `mailer doctor`, which the
        # playbook runs with this function's environment (docs/operations.md).
        MAILER_EVENTS_DLQ_URL          = aws_sqs_queue.ses_events_dlq.url
        MAILER_FAILED_EVENTS_QUEUE_URL = aws_sqs_queue.failed_events.url
        MAILER_ALARM_PREFIX            = local.alarm_prefix
      },
      # For the doctor too, with the send service only: set, the doctor
      # checks the send dead-letter queue and requires the send-dlq and
      # send-errors alarms; unset, it reports the send service as not checked.
      var.enable_send_service ? { MAILER_SEND_DLQ_URL = aws_sqs_queue.send_dlq[0].url } : {},
    )
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = alltrue([for id in values(var.user_pools) : startswith(id, "${local.region}_")])
      error_message = "Every pool in user_pools must be in the provider's region (${local.region})."
    }
    precondition {
      condition     = alltrue([for pool in keys(var.pool_clients) : contains(keys(var.user_pools), pool)])
      error_message = "Every key of pool_clients must be a pool name of user_pools."
    }
  }

  # The log group exists (with its retention) before the first invocation,
  # and the role can decrypt and send before Cognito can invoke.
  depends_on = [aws_cloudwatch_log_group.mailer, aws_iam_role_policy.mailer]
}

# Cognito invokes the custom sender asynchronously: Lambda retries a failed
# invocation twice and keeps a throttled event for up to this long. An event
# that failed every attempt (or grew too old) is not dropped: Lambda sends
# it, with the error, to the failed-events queue (the failed-events alarm;
# `mailer doctor` counts it; docs/operations.md says what to do with it).
resource "aws_lambda_function_event_invoke_config" "mailer" {
  function_name                = aws_lambda_function.mailer.function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = var.maximum_event_age_seconds

  destination_config {
    on_failure {
      destination = aws_sqs_queue.failed_events.arn
    }
  }

  # The role may send to the queue before Lambda is told to.
  depends_on = [aws_iam_role_policy.mailer]
}

# Lambda's on-failure records for the sender: the request context, the
# error, and the Cognito event as it came (its code still encrypted). 14
# days, SQS's maximum retention.
resource "aws_sqs_queue" "failed_events" {
  name                      = "${local.function_name}-failed-events"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

resource "aws_lambda_permission" "cognito" {
  for_each = var.user_pools

  statement_id   = "cognito-${each.key}"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.mailer.function_name
  principal      = "cognito-idp.amazonaws.com"
  source_arn     = local.pool_arns[each.key]
  source_account = local.account_id
}
