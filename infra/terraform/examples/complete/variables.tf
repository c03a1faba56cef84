variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "eu-west-1"
}

variable "environment_name" {
  description = "Short name of the deployment; resources are named shopstream-<environment_name>-..."
  type        = string
  default     = "dev"
}

variable "alarm_email" {
  description = "E-mail address subscribed to the alarms topic; empty for none."
  type        = string
  default     = ""
}

variable "jwt_issuer" {
  description = "JWT issuer URL of the identity provider (e.g. a Cognito user pool)."
  type        = string
}

variable "jwt_audience" {
  description = "Accepted JWT audiences (app client ids)."
  type        = list(string)
}

variable "redshift_workgroup_name" {
  description = "Existing Redshift Serverless workgroup the loads run on."
  type        = string
  default     = "shopstream"
}

variable "redshift_database" {
  description = "Database of the warehouse in that workgroup."
  type        = string
  default     = "dev"
}
