//! redshift-copy: a gold manifest → one Redshift Data API transaction (COPY into staging,
//! dedupe by natural key, MERGE dimensions then the fact, audit rows) → ledger `LOADED` and
//! `BatchLoaded`, or `LOAD_FAILED` and `BatchLoadFailed` with Redshift's error text.
//!
//! Modules: [`trigger`] (the three events that invoke it), [`guard`] (every identifier and S3
//! URI checked before it enters SQL), [`warehouse`] (the tables, their DDL and load modes),
//! [`plan`] (the statements, a pure function of the batch), [`data_api`] (submit, bounded
//! polling), [`handler`] (the invocation: ledger moves, one statement per batch), [`config`].

pub mod config;
pub mod data_api;
pub mod guard;
pub mod handler;
pub mod plan;
pub mod trigger;
pub mod warehouse;

pub use config::Config;
pub use handler::{handler, BatchOutcome, Deps, HandlerError, Report};
