# A complete deployment of the shopstream module. Build the functions first (from the repo root):
#   cargo lambda build --release --arm64 --output-format zip
# then: terraform init && terraform apply -var jwt_issuer=... -var 'jwt_audience=["..."]'

terraform {
  required_version = ">= 1.9.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.80.0, < 7.0.0"
    }
  }

  # Keep state remote and encrypted in real deployments, e.g.:
  # backend "s3" { bucket = "my-tf-state" key = "shopstream/dev.tfstate" region = "eu-west-1" encrypt = true use_lockfile = true }
}

provider "aws" {
  region = var.region
}

module "shopstream" {
  source = "../../modules/shopstream"

  environment_name     = var.environment_name
  lambda_artifacts_dir = "${path.root}/../../../../target/lambda"
  alarm_email          = var.alarm_email

  api_auth_mode = "JWT"
  jwt_issuer    = var.jwt_issuer
  jwt_audience  = var.jwt_audience

  events_sink  = "kinesis"
  orders_sink  = "dynamodb"
  kafka_source = "none"

  redshift_workgroup_name = var.redshift_workgroup_name
  redshift_database       = var.redshift_database
}
