//! The `shopstream` command line's library: traffic generation and file validation, usable
//! from tests and benchmarks as well as from the binary.

pub mod bench;
pub mod generate;
pub mod rng;
pub mod run;
pub mod validate;
