//! s3-cleanup: deletes only what is proven loaded and past retention.
//!
//! On `BatchLoaded` (that batch) and on the `CleanupDue` schedule (every `LOADED` batch), or a
//! manual `{"batchId"?, "dryRun"?}`. Modules: [`request`] (the three invocation shapes),
//! [`plan`] (retention and ownership, pure), [`guard`] (the configured prefixes, checked on
//! every key), [`delete`] (listing and DeleteObjects with per-key retries), [`clean`] (one
//! batch, ledger transition and `BatchCleaned`), [`handler`], [`config`].

pub mod clean;
pub mod config;
pub mod delete;
pub mod guard;
pub mod handler;
pub mod plan;
pub mod request;

pub use config::Config;
pub use handler::{handler, Deps, HandlerError, Report};
