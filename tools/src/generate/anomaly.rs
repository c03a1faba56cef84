//! Deliberately broken records, one kind per rejection reason, at configurable rates, so every
//! refusal path of the pipeline is exercised by generated traffic.

use anyhow::{bail, Context, Result};
use shopstream::reason::RejectReason;

/// Fraction of transactions (0..1) broken in each way.
#[derive(Debug, Clone, PartialEq)]
pub struct AnomalyRates {
    pub rates: Vec<(RejectReason, f64)>,
}

impl Default for AnomalyRates {
    /// About 3.4 % of transactions in all, the ITI producer's proportions for the common ones.
    fn default() -> Self {
        use RejectReason::*;
        AnomalyRates {
            rates: vec![
                (NullUserId, 0.01),
                (NullTimestamp, 0.005),
                (FutureTimestamp, 0.005),
                (BadQuantity, 0.005),
                (BadTimestamp, 0.001),
                (SystemRecord, 0.001),
                (MissingShippingForPurchase, 0.001),
                (MissingEventId, 0.001),
                (BadPrice, 0.001),
                (UnknownEventType, 0.001),
                (DecodeError, 0.001),
                (SchemaMismatch, 0.001),
                (DuplicateEvent, 0.001),
            ],
        }
    }
}

impl AnomalyRates {
    pub fn none() -> Self {
        AnomalyRates { rates: Vec::new() }
    }

    pub fn total(&self) -> f64 {
        self.rates.iter().map(|(_, r)| r).sum()
    }

    /// Sets one rate from `REASON=RATE` (e.g. `NULL_USER_ID=0.02`).
    pub fn set_from_spec(&mut self, spec: &str) -> Result<()> {
        let (name, rate) = spec
            .split_once('=')
            .with_context(|| format!("{spec:?} is not REASON=RATE"))?;
        let reason: RejectReason =
            serde_json::from_value(serde_json::Value::String(name.trim().to_ascii_uppercase()))
                .with_context(|| format!("{name:?} is not a rejection reason"))?;
        let rate: f64 = rate
            .trim()
            .parse()
            .with_context(|| format!("{rate:?} is not a rate"))?;
        if !(0.0..=1.0).contains(&rate) {
            bail!("rate {rate} for {name} is outside 0..1");
        }
        self.rates.retain(|(r, _)| *r != reason);
        if rate > 0.0 {
            self.rates.push((reason, rate));
        }
        if self.total() > 1.0 {
            bail!("anomaly rates add up to more than 1");
        }
        Ok(())
    }

    /// Draws the anomaly (if any) for the next transaction from a uniform `u` in [0, 1).
    pub fn draw(&self, u: f64) -> Option<RejectReason> {
        let mut upto = 0.0;
        for (reason, rate) in &self.rates {
            upto += rate;
            if u < upto {
                return Some(*reason);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_and_draw() {
        let mut rates = AnomalyRates::none();
        rates.set_from_spec("bad_price=0.25").unwrap();
        rates.set_from_spec("NULL_USER_ID=0.5").unwrap();
        assert_eq!(rates.draw(0.1), Some(RejectReason::BadPrice));
        assert_eq!(rates.draw(0.6), Some(RejectReason::NullUserId));
        assert_eq!(rates.draw(0.9), None);
        assert!(rates.set_from_spec("WHATEVER=0.1").is_err());
        assert!(rates.set_from_spec("BAD_PRICE=2").is_err());
        assert!(rates.set_from_spec("DECODE_ERROR=0.9").is_err());
        assert!((AnomalyRates::default().total() - 0.034).abs() < 1e-9);
    }
}
