//! `shopstream generate --to TARGET`: generated events sent straight to the ingest HTTP
//! endpoint, a Kinesis stream or a Kafka topic.
//!
//! Generation is lazy: [`LineBatches`] cuts the generator's output into batches of at most
//! `request_size` lines as requests are sent, and at most `concurrency` batches are in flight,
//! so memory stays bounded whatever the number of events. Every record sent ends up counted
//! exactly once as accepted, rejected or failed (see [`Tally`]).

mod batches;
mod http;
mod kafka;
mod kinesis;
mod stream_records;
mod summary;
mod target;

pub use batches::{LineBatch, LineBatches};
pub use http::{parse_header, HttpSender};
pub use kafka::KafkaSender;
pub use kinesis::{load_aws_config, KinesisSender};
pub use stream_records::{stream_record, PayloadEncoding};
pub use summary::{SendSummary, Tally};
pub use target::Target;

use crate::generate::Generator;
use anyhow::Result;
use futures::StreamExt;
use std::cell::Cell;
use std::future::Future;
use std::time::Instant;

/// ingest-api's limit on records per request, and Kinesis's on records per PutRecords call.
pub const MAX_REQUEST_RECORDS: usize = 500;
/// Bodies stay under this (ingest-api refuses bodies over 5 MiB; Kinesis takes 5 MiB a call).
pub const MAX_REQUEST_BYTES: usize = 5 * 1024 * 1024;

/// Sends one batch of generated lines and accounts for every record of it.
pub trait BatchSender {
    fn send(&self, batch: LineBatch) -> impl Future<Output = Tally>;
}

/// How batches are cut and sent.
#[derive(Debug, Clone, Copy)]
pub struct SendOptions {
    /// Records per batch (request, PutRecords call, produce round), 1 to 500.
    pub request_size: usize,
    /// Batches in flight at once.
    pub concurrency: usize,
}

/// Generates every event of `generator` into batches and sends them with `sender`, calling
/// `progress` with the number of records accounted for so far.
///
/// Stops generating early when the first batch to complete failed entirely (a wrong address,
/// a missing stream or topic): sending the rest would only fail the same way. The summary
/// says so in `stopped_early`.
pub async fn send_generated<S: BatchSender>(
    generator: &mut Generator,
    sender: &S,
    target: &Target,
    options: SendOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<SendSummary> {
    let started = Instant::now();
    let mut tally = Tally::default();
    let mut stopped_early = None;
    {
        let stop = Cell::new(false);
        let mut batches = LineBatches::new(
            generator,
            options.request_size.clamp(1, MAX_REQUEST_RECORDS),
            MAX_REQUEST_BYTES,
        );
        // Checked before a batch is generated, so that none is generated and then dropped.
        let until_stopped = std::iter::from_fn(|| if stop.get() { None } else { batches.next() });
        let mut in_flight = futures::stream::iter(until_stopped)
            .map(|batch| sender.send(batch))
            .buffer_unordered(options.concurrency.max(1));
        // Batches already in flight when generation stops are still waited for and counted.
        while let Some(batch_tally) = in_flight.next().await {
            let first_batch = tally.records == 0;
            let all_failed = batch_tally.records > 0 && batch_tally.failed == batch_tally.records;
            tally.absorb(batch_tally);
            progress(tally.records);
            if first_batch && all_failed {
                stop.set(true);
                stopped_early =
                    Some(format!(
                    "every record of the first batch failed ({}); no further events were generated",
                    tally.errors.first().map(String::as_str).unwrap_or("no error given")
                ));
            }
        }
    }
    Ok(SendSummary::new(
        target,
        tally,
        started.elapsed().as_secs_f64(),
        generator.counts().clone(),
        stopped_early,
    ))
}
