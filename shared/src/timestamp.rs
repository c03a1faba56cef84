//! Event timestamps: ISO-8601 / RFC 3339 text as producers send it.

use chrono::{DateTime, NaiveDateTime, Utc};

/// Parses an event timestamp. Accepts RFC 3339 with any offset (`2024-11-05T07:15:00Z`,
/// `...+02:00`), and the offset-less forms Python's `isoformat()` writes, read as UTC
/// (`2024-11-05T07:15:00.123456`, `2024-11-05 07:15:00`).
pub fn parse_event_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    // `< 10` → `<= 10` is excluded from mutation testing (.cargo/mutants.toml): it differs only
    // on 10-character texts, and no documented form is that short (the shortest,
    // `YYYY-MM-DDTHH:MM`, has 16); only non-ISO texts like "10-1-1T1:1" tell them apart.
    if text.len() < 10 || text.len() > 40 {
        return None;
    }
    if let Ok(with_offset) = DateTime::parse_from_rfc3339(text) {
        return Some(with_offset.with_timezone(&Utc));
    }
    if let Ok(with_offset) = DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%:z") {
        return Some(with_offset.with_timezone(&Utc));
    }
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
    .map(|naive| naive.and_utc())
}

/// RFC 3339 in UTC with microseconds, the form the pipeline writes.
pub fn format_timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn accepts_the_forms_producers_send() {
        let expected = Utc.with_ymd_and_hms(2024, 11, 5, 7, 15, 0).single();
        for text in [
            "2024-11-05T07:15:00Z",
            "2024-11-05T09:15:00+02:00",
            "2024-11-05T07:15:00",
            "2024-11-05 07:15:00",
            " 2024-11-05T07:15:00.000000 ",
            "2024-11-05T07:15",
        ] {
            assert_eq!(parse_event_timestamp(text), expected, "{text}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_timestamp() {
        for text in [
            "",
            "yesterday",
            "2024-13-05T07:15:00Z",
            "2024-11-05",
            "1699999999",
            "2024-11-05T25:00:00",
        ] {
            assert_eq!(parse_event_timestamp(text), None, "{text}");
        }
    }

    #[test]
    fn text_shorter_than_10_characters_is_not_read() {
        // The formats alone would read this one (year 1, unpadded fields).
        assert_eq!(parse_event_timestamp("1-1-1T1:1"), None);
        assert_eq!(parse_event_timestamp(" 1-1-1T1:1 "), None);
    }

    #[test]
    fn text_longer_than_40_characters_is_not_read() {
        // Fraction digits past the nanosecond are read and ignored, up to the length limit.
        let forty = format!("2024-11-05T07:15:00.{}Z", "1".repeat(19));
        assert_eq!(forty.len(), 40);
        let expected = Utc
            .with_ymd_and_hms(2024, 11, 5, 7, 15, 0)
            .single()
            .map(|t| t + chrono::TimeDelta::nanoseconds(111_111_111));
        assert_eq!(parse_event_timestamp(&forty), expected);
        let forty_one = format!("2024-11-05T07:15:00.{}Z", "1".repeat(20));
        assert_eq!(parse_event_timestamp(&forty_one), None);
    }

    #[test]
    fn written_timestamps_are_utc_with_microseconds() {
        let time = Utc.with_ymd_and_hms(2024, 11, 5, 7, 15, 0).unwrap()
            + chrono::TimeDelta::microseconds(123_456);
        assert_eq!(format_timestamp(time), "2024-11-05T07:15:00.123456Z");
        assert_eq!(parse_event_timestamp(&format_timestamp(time)), Some(time));
    }
}
