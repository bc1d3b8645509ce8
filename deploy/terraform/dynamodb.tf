# The idempotency table (MAILER_IDEMPOTENCY_TABLE), the schema
# docs/reliability.md describes: partition key `id` (string), TTL attribute
# `expires_at` (epoch seconds). One conditional PutItem and one UpdateItem or
# DeleteItem per invocation: on-demand capacity.

resource "aws_dynamodb_table" "idempotency" {
  name         = "${local.function_name}-idempotency"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "id"

  attribute {
    name = "id"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  server_side_encryption {
    enabled = true
  }

  tags = var.tags
}
