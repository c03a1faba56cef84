//! Prices: numbers or strings with currency symbols, to exact cents.

use crate::record::ProductPrice;

/// Largest magnitude accepted before anything else is checked (10^13 currency units), so that
/// cent arithmetic can never overflow.
const MAX_ABS_CENTS: i64 = 1_000_000_000_000_000;

/// Converts a price to cents, rounding half away from zero.
pub fn price_to_cents(price: &ProductPrice) -> Result<i64, String> {
    match price {
        ProductPrice::Amount(amount) => amount_to_cents(*amount),
        ProductPrice::Text(text) => parse_price_text(text),
    }
}

fn amount_to_cents(amount: f64) -> Result<i64, String> {
    if !amount.is_finite() {
        return Err(format!("{amount} is not a finite number"));
    }
    let cents = (amount * 100.0).round();
    if cents.abs() >= MAX_ABS_CENTS as f64 {
        return Err(format!("{amount} is out of range"));
    }
    Ok(cents as i64)
}

/// Parses "$1,299.99", "1.299,99 €", "USD 12.50", "£9", "-3.00" and the like. Currency
/// symbols and codes may stand before or after the number; inside it only digits, one
/// decimal separator and thousands separators (',', '.', ' ', '\'') are allowed, so "12abc34"
/// is refused rather than read as 1234.
pub fn parse_price_text(text: &str) -> Result<i64, String> {
    let is_number_char = |c: char| c.is_ascii_digit() || matches!(c, '.' | ',' | '-' | '+');
    let trimmed = text.trim_matches(|c: char| !is_number_char(c));
    let refuse = || format!("{text:?} is not a price");
    if trimmed.is_empty() {
        return Err(refuse());
    }
    let (negative, body) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed.strip_prefix('+').unwrap_or(trimmed)),
    };
    // What stood before the number must be currency, not a sign in the wrong place.
    let prefix = &text[..text.len() - text.trim_start_matches(|c: char| !is_number_char(c)).len()];
    if prefix.chars().any(|c| c.is_ascii_digit()) {
        return Err(refuse());
    }
    let compact: String = body
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}' | '\''))
        .collect();
    if compact.is_empty()
        || !compact
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
    {
        return Err(refuse());
    }
    let decimal_at = decimal_separator_position(&compact);
    let (whole, fraction) = match decimal_at {
        Some(at) => (&compact[..at], &compact[at + 1..]),
        None => (compact.as_str(), ""),
    };
    if !thousands_groups_are_valid(whole) || fraction.contains([',', '.']) {
        return Err(refuse());
    }
    let whole_digits: String = whole.chars().filter(char::is_ascii_digit).collect();
    if whole_digits.is_empty() && fraction.is_empty() {
        return Err(refuse());
    }
    if whole_digits.len() > 13 || fraction.len() > 6 {
        return Err(refuse());
    }
    let whole_value: i64 = if whole_digits.is_empty() {
        0
    } else {
        whole_digits.parse().map_err(|_| refuse())?
    };
    // Round the fraction to two digits, half away from zero.
    let mut fraction_digits: Vec<u8> = fraction.bytes().map(|b| b - b'0').collect();
    fraction_digits.resize(fraction_digits.len().max(3), 0);
    let mut cents = i64::from(fraction_digits[0]) * 10 + i64::from(fraction_digits[1]);
    if fraction_digits[2] >= 5 {
        cents += 1;
    }
    let total = whole_value * 100 + cents;
    Ok(if negative { -total } else { total })
}

/// Where the decimal separator is, if any. When both ',' and '.' occur the last one is the
/// decimal separator. When only one kind occurs: once and followed by 1, 2 or more than 3
/// digits it is decimal; followed by exactly 3 digits, or occurring several times, it separates
/// thousands ("1,299" is 1299).
fn decimal_separator_position(compact: &str) -> Option<usize> {
    let last_dot = compact.rfind('.');
    let last_comma = compact.rfind(',');
    match (last_dot, last_comma) {
        (Some(dot), Some(comma)) => Some(dot.max(comma)),
        (Some(at), None) | (None, Some(at)) => {
            let separator = compact.as_bytes()[at];
            let occurrences = compact.bytes().filter(|&b| b == separator).count();
            let digits_after = compact.len() - at - 1;
            (occurrences == 1 && digits_after != 3).then_some(at)
        }
        (None, None) => None,
    }
}

/// The whole part may use one thousands separator kind, in groups of three after the first.
fn thousands_groups_are_valid(whole: &str) -> bool {
    let separator = match (whole.contains(','), whole.contains('.')) {
        (false, false) => return true,
        (true, true) => return false,
        (true, false) => ',',
        (false, true) => '.',
    };
    let mut groups = whole.split(separator);
    let first_ok = groups.next().is_some_and(|g| (1..=3).contains(&g.len()));
    first_ok && groups.all(|g| g.len() == 3)
}

/// Formats cents as a plain decimal string ("-12.50").
pub fn format_cents(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_price_strings_with_currency() {
        let cases = [
            ("$1,299.99", 129_999),
            ("1.299,99 €", 129_999),
            ("€12,50", 1_250),
            ("USD 12.50", 1_250),
            ("£9", 900),
            ("R$ 1.234.567,89", 123_456_789),
            ("1 234,56", 123_456),
            ("CHF 1'234.50", 123_450),
            ("1,299", 129_900),
            ("0.5", 50),
            ("-3.00", -300),
            ("$-3.5", -350),
            ("1,299,000", 129_900_000),
            ("¥1000", 100_000),
            ("12.345,6", 1_234_560),
        ];
        for (text, cents) in cases {
            assert_eq!(parse_price_text(text), Ok(cents), "{text}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_price() {
        for text in [
            "",
            "free",
            "$",
            "12abc34",
            "1.2.3,4,5",
            "--5",
            "1e5",
            "$$",
            "1,2,3.4.5",
            "12 - 3",
        ] {
            assert!(parse_price_text(text).is_err(), "{text}");
        }
    }

    #[test]
    fn numbers_round_to_cents() {
        assert_eq!(amount_to_cents(19.999), Ok(2000));
        assert_eq!(amount_to_cents(0.004), Ok(0));
        assert!(amount_to_cents(f64::NAN).is_err());
        assert!(amount_to_cents(1e30).is_err());
    }

    #[test]
    fn price_text_limits_are_13_whole_and_6_fraction_digits() {
        assert_eq!(
            parse_price_text("9999999999999"),
            Ok(999_999_999_999_900),
            "13 whole digits"
        );
        assert!(
            parse_price_text("10000000000000").is_err(),
            "14 whole digits"
        );
        assert!(parse_price_text("-10000000000000.00").is_err());
        assert_eq!(parse_price_text("1.123456"), Ok(112), "6 fraction digits");
        assert!(parse_price_text("1.1234567").is_err(), "7 fraction digits");
    }

    #[test]
    fn price_text_rounds_the_third_fraction_digit_half_away_from_zero() {
        for (text, cents) in [
            ("0.1250", 13),
            ("0.1251", 13),
            ("0.1249", 12),
            ("0.1299", 13),
            ("0.9950", 100),
            ("1,000.125", 100_013),
            ("1,000.124", 100_012),
            ("-0.1250", -13),
            ("-0.1249", -12),
            ("-1,000.125", -100_013),
        ] {
            assert_eq!(parse_price_text(text), Ok(cents), "{text}");
        }
    }

    #[test]
    fn price_text_may_omit_the_whole_part() {
        assert_eq!(parse_price_text(".5"), Ok(50));
        assert_eq!(parse_price_text("$.99"), Ok(99));
        assert_eq!(parse_price_text(",50 €"), Ok(50));
    }

    #[test]
    fn thousands_groups_are_one_to_three_digits_then_threes() {
        assert_eq!(parse_price_text("123,456.00"), Ok(12_345_600));
        assert_eq!(parse_price_text("12.345.678,00"), Ok(1_234_567_800));
        for text in [
            "1234,567.00",
            "1,23,456.00",
            "1,2345.00",
            "1.234.56,00",
            ",123.00",
        ] {
            assert!(parse_price_text(text).is_err(), "{text}");
        }
    }

    #[test]
    fn numbers_are_refused_from_10_pow_13_units() {
        assert_eq!(
            amount_to_cents(9_999_999_999_999.0),
            Ok(999_999_999_999_900)
        );
        assert!(amount_to_cents(10_000_000_000_000.0).is_err());
        assert!(amount_to_cents(-10_000_000_000_000.0).is_err());
        assert_eq!(amount_to_cents(-19.999), Ok(-2000));
        assert!(amount_to_cents(f64::INFINITY).is_err());
    }

    #[test]
    fn cents_format_with_a_sign_only_below_zero() {
        assert_eq!(format_cents(0), "0.00");
        assert_eq!(format_cents(5), "0.05");
        assert_eq!(format_cents(-5), "-0.05");
        assert_eq!(format_cents(123_456), "1234.56");
        assert_eq!(format_cents(i64::MIN), "-92233720368547758.08");
    }

    #[test]
    fn price_to_cents_reads_numbers_and_text() {
        assert_eq!(price_to_cents(&ProductPrice::Amount(12.5)), Ok(1_250));
        assert_eq!(
            price_to_cents(&ProductPrice::Text("$1,299.99".into())),
            Ok(129_999)
        );
        assert!(price_to_cents(&ProductPrice::Text("free".into())).is_err());
        assert!(price_to_cents(&ProductPrice::Amount(f64::NAN)).is_err());
    }

    proptest! {
        #[test]
        fn formatted_cents_parse_back(cents in -100_000_000_000i64..100_000_000_000) {
            prop_assert_eq!(parse_price_text(&format_cents(cents)), Ok(cents));
            prop_assert_eq!(parse_price_text(&format!("${}", format_cents(cents))), Ok(cents));
        }

        #[test]
        fn never_panics_on_any_text(text in "\\PC{0,40}") {
            let _ = parse_price_text(&text);
        }
    }
}
