terraform {
  # 1.9+: variable validations that refer to other variables.
  required_version = ">= 1.9.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.80+: provisioned_poller_config on Kafka event source mappings, logging_config on functions.
      version = ">= 5.80.0, < 7.0.0"
    }
  }
}
