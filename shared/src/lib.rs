//! `shopstream`: the domain core every shopstream Lambda links.
//!
//! Pure logic — records ([`record`]), decoding ([`decode`]), validation ([`validate`]),
//! cleaning ([`clean`]), fraud scoring ([`fraud`]), Parquet and quarantine encoding
//! ([`columnar`], [`quarantine`]), the lake's key layout ([`lake`]) and configuration
//! ([`config`]), the batch ledger's states and events ([`ledger`]) and gold manifests
//! ([`manifest`]) — plus thin helpers for AWS clients ([`aws`]), CloudWatch metrics
//! ([`metrics`]) and partial batch responses ([`batch`]). Pure modules never touch the network.

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "aws")]
pub mod batch;
pub mod clean;
#[cfg(feature = "parquet")]
pub mod columnar;
pub mod config;
pub mod contact;
pub mod deadline;
pub mod decode;
pub mod dedupe;
pub mod fraud;
pub mod geo;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod lake;
pub mod ledger;
#[cfg(feature = "aws")]
pub mod logging;
pub mod manifest;
pub mod metrics;
pub mod money;
pub mod profile;
pub mod quarantine;
pub mod reason;
pub mod record;
pub mod sql_subset;
pub mod timestamp;
pub mod validate;

#[cfg(test)]
mod testdata;

pub use clean::{accept, CleanRecord, CleanTransaction};
pub use decode::{decode_json, decode_payload, Decoded};
pub use reason::{RejectReason, Rejection};
pub use record::{Entity, Record, Transaction};
