output "function_name" {
  description = "The mailer function; its log group is /aws/lambda/<function_name>."
  value       = aws_lambda_function.mailer.function_name
}

output "function_arn" {
  description = "The ARN Cognito invokes (LambdaConfig.CustomEmailSender.LambdaArn)."
  value       = aws_lambda_function.mailer.arn
}

output "source_code_hash" {
  description = "Base64 SHA-256 of the deployed zip; `make lambda` prints the same value for a local build."
  value       = aws_lambda_function.mailer.source_code_hash
}

output "log_group_name" {
  value = aws_cloudwatch_log_group.mailer.name
}

output "role_arn" {
  value = aws_iam_role.mailer.arn
}

output "idempotency_table_name" {
  value = aws_dynamodb_table.idempotency.name
}

output "configuration_set_name" {
  value = aws_sesv2_configuration_set.mailer.configuration_set_name
}

output "kms_key_arns" {
  description = "Pool name => the pool's KMS key ARN (LambdaConfig.KMSKeyID)."
  value       = { for name, key in aws_kms_key.pool : name => key.arn }
}

# What each pool's lambda_config needs, for the aws_cognito_user_pool that
# manages the pool (docs/operations.md, "Wire a pool"):
#
#   lambda_config {
#     custom_email_sender {
#       lambda_arn     = module.mailer.lambda_config["phenom-staging"].custom_email_sender.lambda_arn
#       lambda_version = "V1_0"
#     }
#     kms_key_id = module.mailer.lambda_config["phenom-staging"].kms_key_id
#   }
output "lambda_config" {
  description = "Pool name => the pool's lambda_config settings: custom_email_sender { lambda_arn, lambda_version = \"V1_0\" } and kms_key_id."
  value = {
    for name, id in var.user_pools : name => {
      user_pool_id = id
      custom_email_sender = {
        lambda_arn     = aws_lambda_function.mailer.arn
        lambda_version = "V1_0"
      }
      kms_key_id = aws_kms_key.pool[name].arn
    }
  }
}

output "update_user_pool_lambda_config" {
  description = "Pool name => the JSON to MERGE into the pool's current LambdaConfig for `aws cognito-idp update-user-pool` (which resets every setting it is not sent: see docs/operations.md)."
  value = {
    for name, id in var.user_pools : name => jsonencode({
      CustomEmailSender = {
        LambdaArn     = aws_lambda_function.mailer.arn
        LambdaVersion = "V1_0"
      }
      KMSKeyID = aws_kms_key.pool[name].arn
    })
  }
}

output "inbound_source" {
  description = "The --source for inboxreader: s3://bucket/prefix of the test accounts' inbound copy (null without var.inbound)."
  value       = length(local.inbound) == 0 ? null : "s3://${aws_s3_bucket.inbound[0].id}/${var.inbound.prefix}"
}

output "roundtrip_role_arn" {
  description = "The role the reset round-trip workflow assumes (the AWS_ROUNDTRIP_ROLE_ARN repository variable); null without var.roundtrip_github."
  value       = length(local.roundtrip) == 0 ? null : aws_iam_role.roundtrip[0].arn
}

output "events_function_name" {
  description = "The function that records SES events (issue 11); its log group is /aws/lambda/<events_function_name>."
  value       = aws_lambda_function.events.function_name
}

output "delivery_table_name" {
  description = "The delivery records (MAILER_DELIVERY_TABLE), read by `mailer trace`."
  value       = aws_dynamodb_table.deliveries.name
}

output "ses_events_queue_url" {
  value = aws_sqs_queue.ses_events.url
}

output "events_dlq_url" {
  description = "SES events the events function failed on 5 times (MAILER_EVENTS_DLQ_URL)."
  value       = aws_sqs_queue.ses_events_dlq.url
}

output "failed_events_queue_url" {
  description = "Cognito events the sender failed on every attempt (MAILER_FAILED_EVENTS_QUEUE_URL)."
  value       = aws_sqs_queue.failed_events.url
}

output "alarms_topic_arn" {
  description = "Every alarm's SNS topic: subscribe on-call here (var.alarm_emails subscribes addresses)."
  value       = aws_sns_topic.alarms.arn
}

output "alarm_prefix" {
  description = "The start of every alarm's name (MAILER_ALARM_PREFIX)."
  value       = local.alarm_prefix
}

output "send_queue_url" {
  description = "The send service's queue: a message body is one send request (null without enable_send_service)."
  value       = one(aws_sqs_queue.send[*].url)
}

output "send_dlq_url" {
  description = "Send requests the send function failed on 5 times (MAILER_SEND_DLQ_URL; null without enable_send_service)."
  value       = one(aws_sqs_queue.send_dlq[*].url)
}

output "send_function_name" {
  description = "The send service's function; its log group is /aws/lambda/<send_function_name> (null without enable_send_service)."
  value       = one(aws_lambda_function.send[*].function_name)
}

output "send_function_url" {
  description = "The send service's function URL (AWS_IAM auth): POST <url>v1/send, signed with SigV4 for the service lambda (null without enable_send_service)."
  value       = one(aws_lambda_function_url.send[*].function_url)
}

output "send_caller_policy_json" {
  description = "The IAM policy a caller's role or user attaches to be allowed to send: sqs:SendMessage on the send queue, lambda:InvokeFunctionUrl (AWS_IAM) and lambda:InvokeFunction through the function URL on the send function (null without enable_send_service)."
  value       = one(data.aws_iam_policy_document.send_caller[*].json)
}
