//! orders-to-bronze: DynamoDB Streams of the orders table → `bronze/orders/dt=/hour=/<stream>-<firstSeq>.jsonl.gz`.
//!
//! INSERT and MODIFY keep the new image; REMOVE is written as a tombstone with the keys.
//! Records that cannot be read go to `quarantine/unknown/...` with their raw JSON. Modules:
//! [`change`] (stream records → bronze lines), [`attribute`] (DynamoDB JSON → plain JSON),
//! [`bronze`] (objects and gzip), [`handler`] (the invocation).

pub mod attribute;
pub mod bronze;
pub mod change;
pub mod config;
pub mod handler;

pub use config::Config;
pub use handler::{handler, Deps, HandlerError};
