//! The `shopstream` command line's library: traffic generation (to files, or straight to the
//! ingest API, Kinesis or Kafka) and file validation, usable from tests and benchmarks as well
//! as from the binary.

pub mod bench;
pub mod confluent;
pub mod enrich;
pub mod generate;
pub mod gold;
pub mod report;
pub mod rng;
pub mod run;
pub mod send;
pub mod validate;
