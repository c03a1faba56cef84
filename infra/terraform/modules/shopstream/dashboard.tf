# The same widgets as template.yaml's Dashboard.
locals {
  fn_ingest_api       = aws_lambda_function.ingest_api.function_name
  fn_stream_enrich    = aws_lambda_function.stream_enrich.function_name
  fn_orders_to_bronze = aws_lambda_function.orders_to_bronze.function_name
  api_id              = aws_apigatewayv2_api.http.id
}

resource "aws_cloudwatch_dashboard" "shopstream" {
  dashboard_name = local.prefix
  dashboard_body = jsonencode({
    widgets = [
      {
        type       = "text", x = 0, y = 0, width = 24, height = 2
        properties = { markdown = "## ${local.prefix}\nIngestion, enrichment and bronze at a glance. Alarms go to the ${aws_sns_topic.alarms.name} topic." }
      },
      {
        type = "metric", x = 0, y = 2, width = 8, height = 6
        properties = {
          title   = "API requests and errors", region = local.region, stat = "Sum", period = 60
          metrics = [["AWS/ApiGateway", "Count", "ApiId", local.api_id, "Stage", "$default"], [".", "4xx", ".", ".", ".", "."], [".", "5xx", ".", ".", ".", "."]]
        }
      },
      {
        type = "metric", x = 8, y = 2, width = 8, height = 6
        properties = {
          title   = "API latency (p50 / p99)", region = local.region, period = 60
          metrics = [["AWS/ApiGateway", "Latency", "ApiId", local.api_id, "Stage", "$default", { stat = "p50" }], ["...", { stat = "p99" }]]
        }
      },
      {
        type = "metric", x = 16, y = 2, width = 8, height = 6
        properties = {
          title       = "Rejection rate % (alarm > ${var.rejection_rate_threshold_percent})", region = local.region, stat = "Average", period = 300
          metrics     = [["shopstream", "RejectionRate", "Function", "ingest-api"], ["...", "stream-enrich"]]
          annotations = { horizontal = [{ value = var.rejection_rate_threshold_percent, label = "alarm" }] }
        }
      },
      {
        type = "metric", x = 0, y = 8, width = 8, height = 6
        properties = {
          title = "Records in / accepted / rejected", region = local.region, stat = "Sum", period = 300
          metrics = [
            ["shopstream", "RecordsIn", "Function", "ingest-api"], [".", "RecordsAccepted", ".", "."], [".", "RecordsRejected", ".", "."],
            [".", "RecordsIn", ".", "stream-enrich"], [".", "RecordsAccepted", ".", "."], [".", "RecordsRejected", ".", "."],
          ]
        }
      },
      {
        type = "metric", x = 8, y = 8, width = 8, height = 6
        properties = {
          title   = "Fraud flagged and bytes written", region = local.region, stat = "Sum", period = 300
          metrics = [["shopstream", "FraudFlagged", "Function", "stream-enrich"], [".", "FraudAlertsPublished", ".", "."], [".", "BytesWritten", ".", ".", { yAxis = "right" }]]
        }
      },
      {
        type = "metric", x = 16, y = 8, width = 8, height = 6
        properties = {
          title   = "Batch latency (max, ms)", region = local.region, stat = "Maximum", period = 300
          metrics = [["shopstream", "BatchLatency", "Function", "stream-enrich"], [".", "SinkLatency", ".", "ingest-api"]]
        }
      },
      {
        type = "metric", x = 0, y = 14, width = 8, height = 6
        properties = {
          title = "Function errors and throttles", region = local.region, stat = "Sum", period = 300
          metrics = [
            ["AWS/Lambda", "Errors", "FunctionName", local.fn_ingest_api], ["...", local.fn_stream_enrich], ["...", local.fn_orders_to_bronze],
            [".", "Throttles", ".", local.fn_ingest_api], ["...", local.fn_stream_enrich], ["...", local.fn_orders_to_bronze],
          ]
        }
      },
      {
        type = "metric", x = 8, y = 14, width = 8, height = 6
        properties = {
          title   = "Function duration (p99, ms)", region = local.region, stat = "p99", period = 300
          metrics = [["AWS/Lambda", "Duration", "FunctionName", local.fn_ingest_api], ["...", local.fn_stream_enrich], ["...", local.fn_orders_to_bronze]]
        }
      },
      {
        type = "metric", x = 16, y = 14, width = 8, height = 6
        properties = {
          title   = "Iterator age (max, ms)", region = local.region, stat = "Maximum", period = 60
          metrics = [["AWS/Lambda", "IteratorAge", "FunctionName", local.fn_stream_enrich], ["...", local.fn_orders_to_bronze]]
        }
      },
      {
        type = "metric", x = 0, y = 20, width = 8, height = 6
        properties = {
          title = "Dead-letter queues (visible messages)", region = local.region, stat = "Maximum", period = 300
          metrics = [
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.stream_enrich_dlq.name],
            ["...", aws_sqs_queue.orders_to_bronze_dlq.name], ["...", aws_sqs_queue.events_dlq.name],
          ]
        }
      },
      {
        type = "metric", x = 8, y = 20, width = 8, height = 6
        properties = {
          title   = "Kinesis events stream", region = local.region, stat = "Sum", period = 60
          metrics = [["AWS/Kinesis", "IncomingRecords", "StreamName", aws_kinesis_stream.events.name], [".", "WriteProvisionedThroughputExceeded", ".", "."], [".", "GetRecords.Records", ".", "."]]
        }
      },
      {
        type = "metric", x = 16, y = 20, width = 8, height = 6
        properties = {
          title   = "Failed loads and transforms", region = local.region, stat = "Sum", period = 300
          metrics = [["AWS/Events", "MatchedEvents", "RuleName", aws_cloudwatch_event_rule.load_failed.name], ["...", aws_cloudwatch_event_rule.transform_failed.name]]
        }
      },
    ]
  })
}
