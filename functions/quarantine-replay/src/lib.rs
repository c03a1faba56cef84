//! quarantine-replay: gives every refused or failed record a way back to the stream.
//!
//! Two modes, both invoked manually: `replay-quarantine` re-validates quarantine entries
//! (optionally corrected by an RFC 7396 merge patch or field fixes) with the current rules and
//! re-drives what passes into Kinesis with its original `event_id`; `replay-dlq` reads the
//! ranges of the stream mapping's on-failure messages back from the stream and puts them on it
//! again. Modules: [`correction`] and [`revalidate`] (pure), [`store`] (the quarantine in S3),
//! [`sink`] (PutRecords with retries), [`replay`] and [`dlq`] (the two modes), [`report`],
//! [`handler`].

pub mod config;
pub mod correction;
pub mod dlq;
pub mod handler;
pub mod replay;
pub mod report;
pub mod revalidate;
pub mod sink;
pub mod store;

pub use config::Config;
pub use handler::{handler, Deps, HandlerError};
pub use report::Report;
