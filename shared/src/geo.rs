//! Countries the pipeline knows: canonical names, aliases producers use, ISO codes, calling
//! codes, and name normalisation for countries and cities.

use std::borrow::Cow;

/// A country with what normalisation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Country {
    pub name: &'static str,
    pub iso2: &'static str,
    pub calling_code: &'static str,
    pub currency: &'static str,
    pub aliases: &'static [&'static str],
}

const fn country(
    name: &'static str,
    iso2: &'static str,
    calling_code: &'static str,
    currency: &'static str,
    aliases: &'static [&'static str],
) -> Country {
    Country {
        name,
        iso2,
        calling_code,
        currency,
        aliases,
    }
}

/// The 44 countries of the ITI generator's world.
pub const COUNTRIES: [Country; 44] = [
    country(
        "United States",
        "US",
        "1",
        "USD",
        &[
            "usa",
            "u.s.",
            "u.s.a.",
            "united states of america",
            "america",
        ],
    ),
    country("Canada", "CA", "1", "CAD", &[]),
    country("Mexico", "MX", "52", "MXN", &["méxico"]),
    country("Brazil", "BR", "55", "BRL", &["brasil"]),
    country("Argentina", "AR", "54", "ARS", &[]),
    country("Chile", "CL", "56", "CLP", &[]),
    country("Colombia", "CO", "57", "COP", &[]),
    country("Peru", "PE", "51", "PEN", &["perú"]),
    country(
        "United Kingdom",
        "GB",
        "44",
        "GBP",
        &["uk", "u.k.", "great britain", "britain", "england"],
    ),
    country("Ireland", "IE", "353", "EUR", &[]),
    country("France", "FR", "33", "EUR", &[]),
    country("Germany", "DE", "49", "EUR", &["deutschland"]),
    country("Spain", "ES", "34", "EUR", &["españa"]),
    country("Portugal", "PT", "351", "EUR", &[]),
    country("Italy", "IT", "39", "EUR", &["italia"]),
    country(
        "Netherlands",
        "NL",
        "31",
        "EUR",
        &["the netherlands", "holland"],
    ),
    country("Belgium", "BE", "32", "EUR", &[]),
    country("Switzerland", "CH", "41", "CHF", &[]),
    country("Austria", "AT", "43", "EUR", &[]),
    country("Sweden", "SE", "46", "SEK", &[]),
    country("Norway", "NO", "47", "NOK", &[]),
    country("Denmark", "DK", "45", "DKK", &[]),
    country("Finland", "FI", "358", "EUR", &[]),
    country("Poland", "PL", "48", "PLN", &[]),
    country("Czech Republic", "CZ", "420", "CZK", &["czechia"]),
    country("Greece", "GR", "30", "EUR", &[]),
    country("Turkey", "TR", "90", "TRY", &["türkiye", "turkiye"]),
    country("Russia", "RU", "7", "RUB", &["russian federation"]),
    country("Ukraine", "UA", "380", "UAH", &[]),
    country("Israel", "IL", "972", "ILS", &[]),
    country(
        "United Arab Emirates",
        "AE",
        "971",
        "AED",
        &["uae", "u.a.e."],
    ),
    country("Saudi Arabia", "SA", "966", "SAR", &["ksa"]),
    country("Egypt", "EG", "20", "EGP", &[]),
    country("South Africa", "ZA", "27", "ZAR", &["rsa"]),
    country("Nigeria", "NG", "234", "NGN", &[]),
    country("Kenya", "KE", "254", "KES", &[]),
    country("India", "IN", "91", "INR", &["bharat"]),
    country(
        "China",
        "CN",
        "86",
        "CNY",
        &["prc", "people's republic of china"],
    ),
    country("Japan", "JP", "81", "JPY", &["nippon"]),
    country(
        "South Korea",
        "KR",
        "82",
        "KRW",
        &["korea", "republic of korea", "korea, republic of"],
    ),
    country("Singapore", "SG", "65", "SGD", &[]),
    country("Indonesia", "ID", "62", "IDR", &[]),
    country("Australia", "AU", "61", "AUD", &[]),
    country("New Zealand", "NZ", "64", "NZD", &["nz"]),
];

/// Finds a country by canonical name, ISO code or alias, ignoring case and spacing.
pub fn find_country(name: &str) -> Option<&'static Country> {
    // Most producers send the canonical name: no need to tidy it first.
    if let Some(country) = COUNTRIES.iter().find(|c| c.name == name) {
        return Some(country);
    }
    let wanted = collapse_whitespace(name).to_lowercase();
    if wanted.is_empty() {
        return None;
    }
    COUNTRIES.iter().find(|c| {
        c.name.eq_ignore_ascii_case(&wanted)
            || c.iso2.eq_ignore_ascii_case(&wanted)
            || c.aliases.iter().any(|alias| *alias == wanted)
    })
}

/// The canonical country name when known, else the input tidied (trimmed, whitespace
/// collapsed, title-cased when it arrived all upper or all lower case). Empty gives `None`.
pub fn normalize_country(name: &str) -> Option<Cow<'_, str>> {
    match find_country(name) {
        Some(country) => Some(Cow::Borrowed(country.name)),
        None => normalize_place(name),
    }
}

/// [`normalize_country`] as a value that does not borrow `name`: a known country's canonical
/// name is still borrowed (from the country table), only an unknown one is copied.
pub fn normalize_country_detached(name: &str) -> Option<Cow<'static, str>> {
    match find_country(name) {
        Some(country) => Some(Cow::Borrowed(country.name)),
        None => normalize_place(name).map(|place| Cow::Owned(place.into_owned())),
    }
}

/// A city or other place name, tidied the same way.
pub fn normalize_place(name: &str) -> Option<Cow<'_, str>> {
    let collapsed = if is_collapsed(name) {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(collapse_whitespace(name))
    };
    if collapsed.is_empty() {
        return None;
    }
    let (mut has_upper, mut has_lower) = (false, false);
    for c in collapsed.chars() {
        has_upper |= c.is_uppercase();
        has_lower |= c.is_lowercase();
    }
    if has_upper && has_lower {
        // Mixed case was written by someone who meant it ("McAllen", "São Paulo").
        return Some(collapsed);
    }
    Some(Cow::Owned(title_case(&collapsed)))
}

fn title_case(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut start_of_word = true;
    for c in text.chars() {
        if start_of_word {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        start_of_word = c.is_whitespace() || c == '-' || c == '\'';
    }
    out
}

/// True when `text` has no leading, trailing or repeated whitespace, and no whitespace other
/// than plain spaces: what [`collapse_whitespace`] would return unchanged.
pub(crate) fn is_collapsed(text: &str) -> bool {
    if text.is_ascii() {
        return is_collapsed_ascii(text.as_bytes());
    }
    let mut previous_space = true;
    for c in text.chars() {
        if c.is_whitespace() {
            if previous_space || c != ' ' {
                return false;
            }
            previous_space = true;
        } else {
            previous_space = false;
        }
    }
    !previous_space || text.is_empty()
}

/// The same test byte by byte for ASCII text (nearly all values), where the whitespace
/// characters are the space and `\t \n \x0b \x0c \r`.
fn is_collapsed_ascii(bytes: &[u8]) -> bool {
    let mut previous_space = true;
    for &b in bytes {
        match b {
            b' ' if previous_space => return false,
            b' ' => previous_space = true,
            b'\t' | b'\n' | 0x0b | 0x0c | b'\r' => return false,
            _ => previous_space = false,
        }
    }
    !previous_space || bytes.is_empty()
}

pub(crate) fn collapse_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_resolve_by_alias_and_code() {
        assert_eq!(normalize_country(" usa ").as_deref(), Some("United States"));
        assert_eq!(normalize_country("DE").as_deref(), Some("Germany"));
        assert_eq!(
            normalize_country("UNITED   kingdom").as_deref(),
            Some("United Kingdom")
        );
        assert_eq!(normalize_country("atlantis").as_deref(), Some("Atlantis"));
        assert_eq!(normalize_country("   "), None);
    }

    #[test]
    fn detached_countries_clean_the_same_and_copy_only_unknown_ones() {
        for name in ["usa", "Germany", " brasil ", "atlantis  city", ""] {
            assert_eq!(
                normalize_country_detached(name),
                normalize_country(name),
                "{name:?}"
            );
        }
        assert!(matches!(
            normalize_country_detached("usa"),
            Some(Cow::Borrowed(_))
        ));
    }

    #[test]
    fn places_are_tidied_without_breaking_mixed_case() {
        assert_eq!(
            normalize_place("  NEW   YORK ").as_deref(),
            Some("New York")
        );
        assert_eq!(
            normalize_place("winston-salem").as_deref(),
            Some("Winston-Salem")
        );
        assert_eq!(normalize_place("McAllen").as_deref(), Some("McAllen"));
        assert_eq!(normalize_place("são paulo").as_deref(), Some("São Paulo"));
    }

    #[test]
    fn collapsed_text_is_recognised() {
        for text in ["", "a", "New York", "a b c"] {
            assert!(is_collapsed(text), "{text:?}");
            assert_eq!(collapse_whitespace(text), text);
        }
        for text in [" a", "a ", "a  b", "a\tb", " ", "a\u{a0}b"] {
            assert!(!is_collapsed(text), "{text:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn is_collapsed_agrees_with_collapse_whitespace(text in "[ a\t\n\r\u{b}\u{c}\u{1c}\u{a0}b]{0,8}") {
            proptest::prop_assert_eq!(is_collapsed(&text), collapse_whitespace(&text) == text);
        }
    }

    #[test]
    fn the_world_has_44_distinct_countries() {
        let mut codes: Vec<_> = COUNTRIES.iter().map(|c| c.iso2).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), 44);
    }

    #[test]
    fn non_ascii_text_is_recognised_as_collapsed_or_not() {
        for text in ["São Paulo", "é", "Zürich Nord"] {
            assert!(is_collapsed(text), "{text:?}");
            assert_eq!(collapse_whitespace(text), text);
        }
        for text in [" é", "é ", "é  b", "é\tb", "é\u{a0}b", "\u{a0}"] {
            assert!(!is_collapsed(text), "{text:?}");
            assert_ne!(collapse_whitespace(text), text);
        }
        assert!(matches!(
            normalize_place("São Paulo"),
            Some(Cow::Borrowed(_))
        ));
    }

    #[test]
    fn words_start_after_spaces_hyphens_and_apostrophes() {
        assert_eq!(normalize_place("O'HIGGINS").as_deref(), Some("O'Higgins"));
        assert_eq!(
            normalize_place("stratford-upon-avon").as_deref(),
            Some("Stratford-Upon-Avon")
        );
        assert_eq!(normalize_place("ÉVORA").as_deref(), Some("Évora"));
    }
}
