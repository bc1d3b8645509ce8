# The configuration set every mail is sent through (MAILER_CONFIGURATION_SET).
# The From identity itself (thephenom.app, Easy DKIM) is managed where the
# domain is: the role may send only as it (iam.tf).

resource "aws_sesv2_configuration_set" "mailer" {
  configuration_set_name = local.function_name

  # Codes and temporary passwords are secrets: SES delivers them over TLS or
  # not at all (a receiving server without TLS gets a bounce, not plain text).
  delivery_options {
    tls_policy = "REQUIRE"
  }

  reputation_options {
    reputation_metrics_enabled = true
  }

  sending_options {
    sending_enabled = true
  }

  tags = var.tags
}
