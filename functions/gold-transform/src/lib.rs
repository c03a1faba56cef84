//! gold-transform: one silver batch → the star-flake gold tables, on DataFusion inside Lambda.
//!
//! On the `TransformDue` schedule (or with an explicit `{"batch_id": …}`) it picks a batch from
//! the ledger (a planned one left by an earlier invocation, else a new plan of the silver
//! objects no batch has claimed), runs the `jobs/sql` models, writes
//! `gold/<table>/batch_id=<id>/part-NNNNN.parquet` and the event index, then the manifest
//! `gold/_manifests/<batch_id>.json` last, then moves the ledger to `TRANSFORMED` and puts
//! `BatchTransformed` on the bus. A batch over `MAX_BATCH_ROWS` / `MAX_BATCH_BYTES` is left
//! `PLANNED` with route `emr` and announced by `TransformTooLarge`.
//!
//! Modules: [`config`], [`lake`] (object_store over S3 or a directory), [`models`] (the SQL,
//! compiled in), [`inputs`] (the engine contract's input views), [`engine`] (DataFusion),
//! [`output`] (deterministic Parquet), [`transform`] (one batch, shared with the CLI),
//! [`kpi`] (the KPI queries over gold), [`handler`].

pub mod config;
pub mod engine;
pub mod handler;
pub mod inputs;
pub mod kpi;
pub mod lake;
pub mod models;
pub mod output;
pub mod transform;

pub use config::Config;
pub use handler::{handler, Deps, HandlerError, Outcome};
