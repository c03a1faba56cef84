//! The invocation deadline: when a handler must stop starting work so that what it started
//! finishes and its answer reaches Lambda in time.

use chrono::{DateTime, TimeDelta, Utc};
use std::time::Duration;

/// Time kept in hand before the deadline by default: about one S3 PUT at p99 under load plus
/// returning the response.
pub const DEFAULT_MARGIN_MS: u64 = 2_000;

/// The moment to stop starting work: the deadline (`context.deadline`, epoch milliseconds)
/// less `margin`. `None` without a deadline (0, as in a default test context).
pub fn stop_time(deadline_ms: u64, margin: Duration) -> Option<DateTime<Utc>> {
    if deadline_ms == 0 {
        return None;
    }
    let deadline = DateTime::<Utc>::from_timestamp_millis(i64::try_from(deadline_ms).ok()?)?;
    Some(deadline - TimeDelta::from_std(margin).ok()?)
}

/// Whether the stop time has come.
pub fn passed(stop_at: Option<DateTime<Utc>>) -> bool {
    stop_at.is_some_and(|stop| Utc::now() >= stop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_deadline_never_stops() {
        assert_eq!(stop_time(0, Duration::from_secs(2)), None);
        assert!(!passed(None));
    }

    #[test]
    fn the_stop_time_is_the_deadline_less_the_margin() {
        let stop = stop_time(1_730_790_000_500, Duration::from_millis(2_000)).unwrap();
        assert_eq!(stop.timestamp_millis(), 1_730_789_998_500);
    }

    #[test]
    fn a_deadline_within_the_margin_has_passed() {
        let soon = (Utc::now().timestamp_millis() + 1_000) as u64;
        assert!(passed(stop_time(soon, Duration::from_millis(2_000))));
        let later = (Utc::now().timestamp_millis() + 60_000) as u64;
        assert!(!passed(stop_time(later, Duration::from_millis(2_000))));
    }
}
