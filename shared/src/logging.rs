//! Structured JSON logs for the Lambda functions, the same in every function.

/// JSON lines on stdout (CloudWatch adds the timestamp), filtered by `RUST_LOG`, `info` when
/// it is unset or invalid. Call once, first thing in `main`.
pub fn init_lambda_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A second call (tests, a runner embedding several handlers) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .without_time()
        .try_init();
}
