resource "aws_apigatewayv2_api" "http" {
  name          = "${local.prefix}-api"
  protocol_type = "HTTP"
  description   = "shopstream ingestion API (POST /v1/events, POST /v1/orders, GET /v1/health)"
  tags          = local.tags
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.http.id
  name        = "$default"
  auto_deploy = true
  tags        = local.tags

  default_route_settings {
    throttling_rate_limit    = var.api_throttling_rate_limit
    throttling_burst_limit   = var.api_throttling_burst_limit
    detailed_metrics_enabled = true
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api_access.arn
    format = jsonencode({
      requestId          = "$context.requestId"
      ip                 = "$context.identity.sourceIp"
      requestTime        = "$context.requestTime"
      routeKey           = "$context.routeKey"
      status             = "$context.status"
      responseLength     = "$context.responseLength"
      latency            = "$context.responseLatency"
      integrationLatency = "$context.integrationLatency"
      integrationError   = "$context.integrationErrorMessage"
      authorizerError    = "$context.authorizer.error"
    })
  }
}

resource "aws_apigatewayv2_authorizer" "jwt" {
  count            = local.use_jwt ? 1 : 0
  api_id           = aws_apigatewayv2_api.http.id
  name             = "jwt"
  authorizer_type  = "JWT"
  identity_sources = ["$request.header.Authorization"]

  jwt_configuration {
    issuer   = var.jwt_issuer
    audience = var.jwt_audience
  }
}

resource "aws_apigatewayv2_integration" "ingest_api" {
  api_id                 = aws_apigatewayv2_api.http.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.ingest_api.arn
  payload_format_version = "2.0"
  timeout_milliseconds   = 20000
}

resource "aws_apigatewayv2_route" "post_events" {
  api_id             = aws_apigatewayv2_api.http.id
  route_key          = "POST /v1/events"
  target             = "integrations/${aws_apigatewayv2_integration.ingest_api.id}"
  authorization_type = local.use_jwt ? "JWT" : "AWS_IAM"
  authorizer_id      = local.use_jwt ? aws_apigatewayv2_authorizer.jwt[0].id : null
}

resource "aws_apigatewayv2_route" "post_orders" {
  api_id             = aws_apigatewayv2_api.http.id
  route_key          = "POST /v1/orders"
  target             = "integrations/${aws_apigatewayv2_integration.ingest_api.id}"
  authorization_type = local.use_jwt ? "JWT" : "AWS_IAM"
  authorizer_id      = local.use_jwt ? aws_apigatewayv2_authorizer.jwt[0].id : null
}

resource "aws_apigatewayv2_route" "get_health" {
  #checkov:skip=CKV_AWS_309:Liveness probe for load balancers and uptime monitors; returns no data and writes nothing.
  api_id             = aws_apigatewayv2_api.http.id
  route_key          = "GET /v1/health"
  target             = "integrations/${aws_apigatewayv2_integration.ingest_api.id}"
  authorization_type = "NONE"
}

resource "aws_lambda_permission" "api_invokes_ingest_api" {
  function_name = aws_lambda_function.ingest_api.function_name
  action        = "lambda:InvokeFunction"
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.http.execution_arn}/*/*/v1/*"
}
