//! stream-enrich: Kinesis and Kafka (MSK, self-managed) records → decoded, validated, cleaned,
//! deduplicated, enriched with customer profiles and fraud scores → silver Parquet and
//! quarantine JSONL in the lake, `FraudSuspected` alerts on EventBridge, and a partial batch
//! response that only lists transient failures.
//!
//! Modules by responsibility: [`source`] (event shapes and positions), [`pipeline`]
//! (per-record processing), [`enrich`] (profiles, cache, fraud), [`velocity`] (the per-user
//! order count across batches), [`objects`] and [`writer`]
//! (lake objects and S3), [`alerts`] (EventBridge), [`metrics`] (EMF), [`handler`] (the
//! invocation, including failure reporting).

pub mod alerts;
pub mod config;
pub mod cut;
pub mod dynamo;
pub mod enrich;
pub mod handler;
pub mod metrics;
pub mod objects;
pub mod pipeline;
pub mod source;
pub mod velocity;
pub mod writer;

pub use config::Config;
pub use handler::{handle, handler, Deps, HandlerError, Invocation, StreamResponse};
