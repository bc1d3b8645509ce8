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

# The delivery records (MAILER_DELIVERY_TABLE, issue 11): what the sender did
# with each event and what SES reported for its message id. Partition key
# `pk`, sort key `sk`, TTL attribute `expires_at` (epoch seconds,
# MAILER_DELIVERY_TTL after the write), and the index `by-recipient` on the
# recipient's lookup hash for `mailer trace --to`. The item layout is the
# code's (docs/operations.md).
resource "aws_dynamodb_table" "deliveries" {
  name         = "${local.function_name}-deliveries"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"
  range_key    = "sk"

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  attribute {
    name = "recipient"
    type = "S"
  }

  global_secondary_index {
    name            = "by-recipient"
    hash_key        = "recipient"
    range_key       = "sk"
    projection_type = "ALL"
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
