//! Event times: the run's span split into hours, each receiving a share of the events in
//! proportion to its seasonal (month) and hourly weight, then spread evenly within the hour.
//! Times therefore come out in order, as a live stream delivers them.

use super::world::{month_multiplier, HOUR_WEIGHTS};
use crate::rng::Rng;
use chrono::{DateTime, Datelike, TimeDelta, Timelike, Utc};

pub struct Timeline {
    start: DateTime<Utc>,
    hours: u32,
    /// Cumulative weight at the end of each hour.
    cumulative: Vec<f64>,
    total_events: u64,
    /// The hour being filled, and how many events it gets and has given.
    hour: u32,
    hour_count: u64,
    hour_given: u64,
    emitted: u64,
}

impl Timeline {
    pub fn new(start: DateTime<Utc>, hours: u32, total_events: u64) -> Self {
        let hours = hours.max(1);
        let mut total = 0.0;
        let cumulative = (0..hours)
            .map(|h| {
                let time = start + TimeDelta::hours(i64::from(h));
                total += month_multiplier(time.month()) * HOUR_WEIGHTS[time.hour() as usize];
                total
            })
            .collect();
        let mut timeline = Timeline {
            start,
            hours,
            cumulative,
            total_events,
            hour: 0,
            hour_count: 0,
            hour_given: 0,
            emitted: 0,
        };
        timeline.hour_count = timeline.events_in(0);
        timeline
    }

    /// Events assigned to hour `h`: differences of the rounded cumulative share, so the hours
    /// add up to exactly the requested total.
    fn events_in(&self, h: u32) -> u64 {
        let total_weight = self.cumulative.last().copied().unwrap_or(1.0);
        let upto = |hour: Option<u32>| -> u64 {
            match hour {
                None => 0,
                Some(hour) => (self.total_events as f64 * self.cumulative[hour as usize]
                    / total_weight)
                    .round() as u64,
            }
        };
        upto(Some(h)) - upto(h.checked_sub(1))
    }

    /// The time of the next event.
    pub fn next(&mut self, rng: &mut Rng) -> DateTime<Utc> {
        while self.hour_given >= self.hour_count && self.hour + 1 < self.hours {
            self.hour += 1;
            self.hour_count = self.events_in(self.hour);
            self.hour_given = 0;
        }
        let count = self.hour_count.max(1);
        // Slot k of n covers [k/n, (k+1)/n) of the hour; a random point inside keeps order.
        let slot_ms = 3_600_000.0 / count as f64;
        let offset_ms = (self.hour_given as f64 + rng.unit()) * slot_ms;
        self.hour_given += 1;
        self.emitted += 1;
        self.start
            + TimeDelta::hours(i64::from(self.hour))
            + TimeDelta::milliseconds(offset_ms as i64)
    }
}

/// The calendar fields of a UTC time, read once (each of chrono's accessors decodes the
/// date again).
#[derive(Debug, Clone, Copy)]
pub struct TimeParts {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

impl TimeParts {
    pub fn of(time: DateTime<Utc>) -> Self {
        let naive = time.naive_utc();
        let (date, clock) = (naive.date(), naive.time());
        TimeParts {
            year: date.year(),
            month: date.month(),
            day: date.day(),
            hour: clock.hour(),
            minute: clock.minute(),
            second: clock.second(),
        }
    }
}

/// Writes `2025-11-05T20:15:03Z` (whole seconds, UTC) without going through a formatter.
pub fn push_timestamp(out: &mut Vec<u8>, time: &TimeParts) {
    push_date(out, time);
    out.push(b'T');
    push_padded(out, time.hour, 2);
    out.push(b':');
    push_padded(out, time.minute, 2);
    out.push(b':');
    push_padded(out, time.second, 2);
    out.push(b'Z');
}

/// Writes `2025-11-05`.
pub fn push_date(out: &mut Vec<u8>, time: &TimeParts) {
    push_padded(out, time.year as u32, 4);
    out.push(b'-');
    push_padded(out, time.month, 2);
    out.push(b'-');
    push_padded(out, time.day, 2);
}

fn push_padded(out: &mut Vec<u8>, value: u32, width: usize) {
    let mut digits = [b'0'; 10];
    let mut v = value;
    for slot in digits.iter_mut().rev().take(width) {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.extend_from_slice(&digits[10 - width..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn times_are_ordered_inside_the_span_and_total_is_exact() {
        let start = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
        let mut timeline = Timeline::new(start, 240, 5_000);
        let mut rng = Rng::new(1);
        let times: Vec<_> = (0..5_000).map(|_| timeline.next(&mut rng)).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        assert!(times[0] >= start && times[4_999] < start + TimeDelta::days(10));
    }

    #[test]
    fn timestamps_are_formatted_like_rfc3339() {
        let time = Utc.with_ymd_and_hms(2025, 3, 7, 9, 5, 1).unwrap();
        let mut out = Vec::new();
        push_timestamp(&mut out, &TimeParts::of(time));
        assert_eq!(out, b"2025-03-07T09:05:01Z");
    }
}
