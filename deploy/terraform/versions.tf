terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 6.x: data.aws_region exposes `region`, and the IAM refresh calls
      # Phenom's CI role was extended for (see docs/operations.md).
      version = ">= 6.0"
    }
  }
}
