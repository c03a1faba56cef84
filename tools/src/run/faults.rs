//! Fault injection in the local event source mapping (`shopstream run --faults SPEC`): the
//! failures Lambda and S3 produce in production, at rates the user chooses, so the layers'
//! exactly-once promises are measured end to end.
//!
//! - `timeout-after-write=P`: an invocation runs to the end (its writes land), then counts as
//!   timed out: its response is lost and Lambda retries the batch.
//! - `bisect=on|off`: on a function error or timeout, the retry splits the batch in two
//!   (BisectBatchOnFunctionError), each half retried on its own.
//! - `put-fail=P`: an S3 PUT of stream-enrich is refused before it reaches S3.
//! - `put-lost-answer=P`: an S3 PUT is carried out, but its answer is lost (an error).
//! - `redeliver=P`: a batch that succeeded is delivered again (at-least-once delivery).
//!
//! Decisions come from a seeded generator, so a run is repeatable for the same seed.

use crate::rng::Rng;
use anyhow::{bail, Context, Result};
use serde::Serialize;
use shopstream_emulators::{Fault, ProxiedRequest};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The rates of each fault kind; all zero (and bisect off) by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct FaultSpec {
    pub timeout_after_write: f64,
    pub bisect: bool,
    pub put_fail: f64,
    pub put_lost_answer: f64,
    pub redeliver: f64,
}

impl FaultSpec {
    /// Parses `kind=value,...`, e.g.
    /// `timeout-after-write=0.02,bisect=on,put-fail=0.01,put-lost-answer=0.01,redeliver=0.01`.
    pub fn parse(text: &str) -> Result<Self> {
        let mut spec = FaultSpec::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (kind, value) = part
                .split_once('=')
                .with_context(|| format!("fault {part:?} is not kind=value"))?;
            let rate = || -> Result<f64> {
                let rate: f64 = value
                    .parse()
                    .with_context(|| format!("fault {kind}: {value:?} is not a number"))?;
                if !(0.0..=1.0).contains(&rate) {
                    bail!("fault {kind}: {rate} is not a rate between 0 and 1");
                }
                Ok(rate)
            };
            match kind {
                "timeout-after-write" => spec.timeout_after_write = rate()?,
                "put-fail" => spec.put_fail = rate()?,
                "put-lost-answer" => spec.put_lost_answer = rate()?,
                "redeliver" => spec.redeliver = rate()?,
                "bisect" => {
                    spec.bisect = match value {
                        "on" | "true" => true,
                        "off" | "false" => false,
                        other => bail!("fault bisect: {other:?} is not on or off"),
                    }
                }
                other => bail!(
                    "unknown fault {other:?} (timeout-after-write, bisect, put-fail, put-lost-answer, redeliver)"
                ),
            }
        }
        Ok(spec)
    }

    pub fn any(&self) -> bool {
        self.timeout_after_write > 0.0
            || self.put_fail > 0.0
            || self.put_lost_answer > 0.0
            || self.redeliver > 0.0
    }

    /// Whether an S3 fault is on (the lake writes then go through the fault proxy).
    pub fn touches_s3(&self) -> bool {
        self.put_fail > 0.0 || self.put_lost_answer > 0.0
    }
}

/// How many of each fault were injected, and what they affected.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FaultCounts {
    pub timeouts_after_write: u64,
    /// Records of the invocations that timed out after writing: each may be in silver twice
    /// (the bound on retry duplicates, with nothing else able to make one).
    pub timed_out_records: u64,
    pub bisects: u64,
    pub put_failures: u64,
    pub put_lost_answers: u64,
    pub redeliveries: u64,
}

/// The run's fault decisions and counters, shared by the shards and the S3 proxy.
#[derive(Debug)]
pub struct Faults {
    pub spec: FaultSpec,
    rng: Mutex<Rng>,
    timeouts_after_write: AtomicU64,
    timed_out_records: AtomicU64,
    bisects: AtomicU64,
    put_failures: AtomicU64,
    put_lost_answers: AtomicU64,
    redeliveries: AtomicU64,
}

impl Faults {
    pub fn new(spec: FaultSpec, seed: u64) -> Arc<Self> {
        Arc::new(Faults {
            spec,
            rng: Mutex::new(Rng::keyed(seed, 0xfa17, 0)),
            timeouts_after_write: AtomicU64::new(0),
            timed_out_records: AtomicU64::new(0),
            bisects: AtomicU64::new(0),
            put_failures: AtomicU64::new(0),
            put_lost_answers: AtomicU64::new(0),
            redeliveries: AtomicU64::new(0),
        })
    }

    fn roll(&self, rate: f64) -> bool {
        rate > 0.0 && self.rng.lock().map(|mut r| r.chance(rate)).unwrap_or(false)
    }

    /// Whether the invocation that just returned is to count as timed out.
    pub fn time_out(&self, records: usize) -> bool {
        let hit = self.roll(self.spec.timeout_after_write);
        if hit {
            self.timeouts_after_write.fetch_add(1, Ordering::Relaxed);
            self.timed_out_records
                .fetch_add(records as u64, Ordering::Relaxed);
        }
        hit
    }

    pub fn bisected(&self) {
        self.bisects.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether a batch that succeeded is delivered again.
    pub fn redeliver(&self) -> bool {
        let hit = self.roll(self.spec.redeliver);
        if hit {
            self.redeliveries.fetch_add(1, Ordering::Relaxed);
        }
        hit
    }

    /// The fault proxy's rule: PUTs of lake objects fail or lose their answer.
    pub fn s3_rule(self: &Arc<Self>) -> impl Fn(&ProxiedRequest) -> Fault + Send + Sync + 'static {
        let faults = self.clone();
        move |request: &ProxiedRequest| {
            let lake_put = request.method == "PUT"
                && (request.path.contains("/silver/") || request.path.contains("/quarantine/"));
            if !lake_put {
                return Fault::Pass;
            }
            if faults.roll(faults.spec.put_fail) {
                faults.put_failures.fetch_add(1, Ordering::Relaxed);
                Fault::Refuse
            } else if faults.roll(faults.spec.put_lost_answer) {
                faults.put_lost_answers.fetch_add(1, Ordering::Relaxed);
                Fault::LoseAnswer
            } else {
                Fault::Pass
            }
        }
    }

    pub fn counts(&self) -> FaultCounts {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        FaultCounts {
            timeouts_after_write: load(&self.timeouts_after_write),
            timed_out_records: load(&self.timed_out_records),
            bisects: load(&self.bisects),
            put_failures: load(&self.put_failures),
            put_lost_answers: load(&self.put_lost_answers),
            redeliveries: load(&self.redeliveries),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_spec_parses() {
        let spec = FaultSpec::parse(
            "timeout-after-write=0.02,bisect=on,put-fail=0.01,put-lost-answer=0.01,redeliver=0.01",
        )
        .unwrap();
        assert_eq!(
            spec,
            FaultSpec {
                timeout_after_write: 0.02,
                bisect: true,
                put_fail: 0.01,
                put_lost_answer: 0.01,
                redeliver: 0.01,
            }
        );
        assert!(spec.any() && spec.touches_s3());
        assert!(!FaultSpec::parse("bisect=on").unwrap().any());
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        for (spec, says) in [
            ("timeout=0.1", "unknown fault"),
            ("put-fail=2", "between 0 and 1"),
            ("put-fail=often", "not a number"),
            ("bisect=maybe", "on or off"),
            ("redeliver", "kind=value"),
        ] {
            let error = FaultSpec::parse(spec).unwrap_err().to_string();
            assert!(error.contains(says), "{spec}: {error}");
        }
    }

    #[test]
    fn a_rate_of_zero_never_fires_and_one_always_does() {
        let never = Faults::new(FaultSpec::default(), 7);
        assert!(!(0..1000).any(|_| never.time_out(10)));
        let always = Faults::new(
            FaultSpec {
                timeout_after_write: 1.0,
                ..FaultSpec::default()
            },
            7,
        );
        assert!((0..10).all(|_| always.time_out(10)));
        assert_eq!(always.counts().timeouts_after_write, 10);
        assert_eq!(always.counts().timed_out_records, 100);
    }

    #[test]
    fn only_lake_puts_are_faulted() {
        let faults = Faults::new(
            FaultSpec {
                put_fail: 1.0,
                ..FaultSpec::default()
            },
            1,
        );
        let rule = faults.s3_rule();
        let request = |method: &str, path: &str| ProxiedRequest {
            method: method.into(),
            path: path.into(),
            body: Vec::new(),
        };
        assert_eq!(
            rule(&request("PUT", "/lake/silver/x.parquet")),
            Fault::Refuse
        );
        assert_eq!(
            rule(&request("DELETE", "/lake/silver/x.parquet")),
            Fault::Pass
        );
        assert_eq!(rule(&request("PUT", "/lake")), Fault::Pass);
        assert_eq!(faults.counts().put_failures, 1);
    }
}
