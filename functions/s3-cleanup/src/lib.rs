//! s3-cleanup: deletes only what is proven loaded and past retention.
//!
//! Modules: [`guard`] (the configured prefixes, checked on every key), [`delete`] (listing and
//! DeleteObjects with per-key retries), [`config`].

pub mod config;
pub mod delete;
pub mod guard;
pub mod plan;

pub use config::Config;
