//! emr-launch: runs a gold batch too large for gold-transform's Lambda on EMR with the same
//! SQL models (`jobs/spark/run_models.py`), and moves the batch ledger from the job's outcome.
//!
//! Modules: [`config`] (environment → typed configuration), [`cluster_spec`] (instance groups,
//! fleets, bootstrap actions and configurations as JSON), [`trigger`] (the events that invoke
//! it), [`launch`] (RunJobFlow, AddJobFlowSteps, StartJobRun), [`job_status`] (step and job-run
//! states), [`manifest_check`] (is the batch's manifest there and sound), [`handler`] (the
//! ledger transitions).

pub mod cluster_spec;
pub mod config;
pub mod handler;
pub mod job_status;
pub mod launch;
pub mod manifest_check;
pub mod trigger;

pub use config::Config;
pub use handler::{handler, Deps, HandlerError, Outcome, Response};
pub use launch::{Clients, Launch};
