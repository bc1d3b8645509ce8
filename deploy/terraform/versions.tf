terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.100 and 6.x: the module uses only what both have (data.aws_region's
      # `id`, not 6.0's `region`). deploy/tofu_test.go applies it with 5.100,
      # the provider reachable where the tests run.
      version = ">= 5.100"
    }
  }
}
