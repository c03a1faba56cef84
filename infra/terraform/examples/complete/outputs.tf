output "api_url" {
  description = "Base URL of the ingestion API (POST <url>/v1/events)."
  value       = module.shopstream.api_url
}

output "lake_bucket_name" {
  description = "The lake bucket."
  value       = module.shopstream.lake_bucket_name
}

output "alarm_topic_arn" {
  description = "SNS topic receiving every alarm."
  value       = module.shopstream.alarm_topic_arn
}

output "dashboard_name" {
  description = "CloudWatch dashboard."
  value       = module.shopstream.dashboard_name
}

output "redshift_copy_role_arn" {
  description = "Associate this role with the Redshift Serverless namespace."
  value       = module.shopstream.redshift_copy_role_arn
}
