//! Local stand-ins for the services shopstream uses, for the tests and for `shopstream run`:
//! each started on its own free port and torn down when dropped.
//!
//! - [`MotoServer`]: moto (S3, Kinesis, DynamoDB, EventBridge, SQS, ...) over HTTP.
//! - [`TansuBroker`]: tansu, a Kafka-protocol broker with in-memory storage.
//! - [`FaultProxy`]: an HTTP proxy in front of an emulator that refuses requests or loses
//!   their answers, by rule.
//! - [`PostgresServer`]: PostgreSQL ≥ 15 in a temporary directory, for the warehouse SQL;
//!   [`Psql`] runs SQL on it or on any server a URI reaches.
//! - [`RedshiftDataApi`]: the Redshift Data API on PostgreSQL (statements translated by
//!   [`redshift_sql`], COPY reading Parquet from the S3 emulator).
//! - [`PySpark`]: runs a PySpark script on `local[N]` to completion (the EMR job's engine).
//!
//! Install the binaries once with `scripts/install-emulators.sh`; they are found in
//! `$SHOPSTREAM_CACHE` (default `~/.cache/shopstream`) or through `SHOPSTREAM_MOTO_BIN` /
//! `SHOPSTREAM_TANSU_BIN`. Every start picks its own free port on 127.0.0.1 and its own
//! temporary directory, so tests may run in parallel threads and processes. The server's
//! output goes to a log file, whose tail is printed if the test panics.
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! let moto = shopstream_emulators::MotoServer::start().await?;
//! let s3 = moto.s3_client();
//! s3.create_bucket().bucket("lake").send().await?;
//! # Ok(())
//! # }
//! ```

mod cpu_time;
mod fault_proxy;
mod http;
mod moto;
mod port;
mod postgres;
mod process;
mod python;
mod redshift_data;
pub mod redshift_sql;
mod spark;
mod tansu;

pub use cpu_time::thread_cpu_time;
pub use fault_proxy::{Fault, FaultProxy, ProxiedRequest, ProxyLogEntry};
pub use moto::{MotoServer, MOTO_BIN_ENV, MOTO_REGION};
pub use port::{free_port, LOOPBACK};
pub use postgres::{
    PostgresServer, Psql, Row as PostgresRow, PG_BINDIR_ENV, PG_DATABASE, PG_OS_USER_ENV,
    PG_SUPERUSER,
};
pub use python::{venv_python, PYTHON_ENV};
pub use redshift_data::{RedshiftDataApi, StatementRecord, StatementStatus};
pub use spark::{PySpark, SparkRun, JAVA_ENV};
pub use tansu::{TansuBroker, TANSU_BIN_ENV};
