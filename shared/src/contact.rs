//! E-mail and phone normalisation. What cannot be normalised becomes `NOT_PROVIDED`, so the
//! column is never a mix of formats.

use crate::geo::find_country;
use std::borrow::Cow;

pub const NOT_PROVIDED: &str = "NOT_PROVIDED";

/// Lower-cases and checks an e-mail address: one '@', a non-empty local part without spaces,
/// and a dotted domain of letters, digits and hyphens with a top-level domain of 2+ letters.
pub fn normalize_email(email: Option<&str>) -> Cow<'_, str> {
    let Some(email) = email else {
        return Cow::Borrowed(NOT_PROVIDED);
    };
    let email = lowercase(Cow::Borrowed(email.trim()));
    let valid = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && local.len() <= 64
                && !local.contains(|c: char| c.is_whitespace() || c == '@')
                && valid_domain(domain)
        }
        None => false,
    };
    if valid {
        email
    } else {
        Cow::Borrowed(NOT_PROVIDED)
    }
}

/// Lower-cased; the text itself when it has no upper-case letter.
pub(crate) fn lowercase(text: Cow<'_, str>) -> Cow<'_, str> {
    if text.is_ascii() {
        if text.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(text.to_ascii_lowercase())
        } else {
            text
        }
    } else if text.chars().any(char::is_uppercase) {
        Cow::Owned(text.to_lowercase())
    } else {
        text
    }
}

/// Upper-cased; the text itself when it has no lower-case letter.
pub(crate) fn uppercase(text: Cow<'_, str>) -> Cow<'_, str> {
    if text.is_ascii() {
        if text.bytes().any(|b| b.is_ascii_lowercase()) {
            Cow::Owned(text.to_ascii_uppercase())
        } else {
            text
        }
    } else if text.chars().any(char::is_lowercase) {
        Cow::Owned(text.to_uppercase())
    } else {
        text
    }
}

fn valid_domain(domain: &str) -> bool {
    let Some((_, tld)) = domain.rsplit_once('.') else {
        return false;
    };
    domain.len() <= 253
        && tld.len() >= 2
        && tld.chars().all(|c| c.is_ascii_alphabetic())
        && domain.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// E.164 (`+<country code><number>`, 8 to 15 digits) where the number allows it. National
/// numbers are completed with the calling code of `country` (dropping a trunk '0');
/// anything else is `NOT_PROVIDED`.
pub fn normalize_phone<'a>(phone: Option<&'a str>, country: Option<&str>) -> Cow<'a, str> {
    phone
        .and_then(|p| to_e164(p, country))
        .unwrap_or(Cow::Borrowed(NOT_PROVIDED))
}

fn to_e164<'a>(phone: &'a str, country: Option<&str>) -> Option<Cow<'a, str>> {
    let phone = phone.trim();
    if is_e164(phone) {
        return Some(Cow::Borrowed(phone));
    }
    let (international, rest) = if let Some(rest) = phone.strip_prefix('+') {
        (true, rest)
    } else if let Some(rest) = phone.strip_prefix("00") {
        (true, rest)
    } else {
        (false, phone)
    };
    // Built in place: '+', then the digits.
    let mut e164 = String::with_capacity(rest.len() + 4);
    e164.push('+');
    for c in rest.chars() {
        match c {
            '0'..='9' => e164.push(c),
            ' ' | '-' | '.' | '(' | ')' | '/' => {}
            _ => return None,
        }
    }
    if !international {
        let calling_code = find_country(country?)?.calling_code;
        let digits = &e164[1..];
        let north_american = calling_code == "1" && digits.len() == 11 && digits.starts_with('1');
        if !north_american {
            let national = digits.strip_prefix('0').unwrap_or(digits);
            if !(6..=12).contains(&national.len()) {
                return None;
            }
            e164 = format!("+{calling_code}{national}");
        }
    }
    is_e164(&e164).then_some(Cow::Owned(e164))
}

/// `+` and 8 to 15 digits, the first not 0.
fn is_e164(phone: &str) -> bool {
    let Some(digits) = phone.strip_prefix('+') else {
        return false;
    };
    (8..=15).contains(&digits.len())
        && !digits.starts_with('0')
        && digits.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_lowercased_or_refused() {
        assert_eq!(
            normalize_email(Some("  Ana.Silva@Example.COM ")),
            "ana.silva@example.com"
        );
        for bad in [
            "",
            "no-at-sign",
            "a@b",
            "a@@b.com",
            "a b@c.com",
            "a@-x.com",
            "a@x.c0m",
            "@x.com",
        ] {
            assert_eq!(normalize_email(Some(bad)), NOT_PROVIDED, "{bad}");
        }
        assert_eq!(normalize_email(None), NOT_PROVIDED);
    }

    #[test]
    fn phones_become_e164() {
        assert_eq!(
            normalize_phone(Some("+1 (415) 555-0100"), None),
            "+14155550100"
        );
        assert_eq!(
            normalize_phone(Some("0044 20 7946 0958"), None),
            "+442079460958"
        );
        assert_eq!(
            normalize_phone(Some("020 7946 0958"), Some("UK")),
            "+442079460958"
        );
        assert_eq!(
            normalize_phone(Some("415-555-0100"), Some("United States")),
            "+14155550100"
        );
        assert_eq!(
            normalize_phone(Some("1-415-555-0100"), Some("USA")),
            "+14155550100"
        );
        assert_eq!(
            normalize_phone(Some("030 1234567"), Some("Germany")),
            "+49301234567"
        );
        assert!(
            matches!(
                normalize_phone(Some(" +14155550100"), None),
                Cow::Borrowed("+14155550100")
            ),
            "an E.164 number is kept without a copy"
        );
    }

    #[test]
    fn implausible_phones_are_not_provided() {
        for (phone, country) in [
            ("12345", Some("Germany")),
            ("555-CALL-NOW", Some("United States")),
            ("0301234567", None),
            ("+12", None),
            ("+1234567890123456", None),
            ("0301234567", Some("Atlantis")),
        ] {
            assert_eq!(
                normalize_phone(Some(phone), country),
                NOT_PROVIDED,
                "{phone}"
            );
        }
    }

    #[test]
    fn email_parts_are_limited_to_64_and_253_characters() {
        let local_64 = "a".repeat(64);
        let local_65 = "a".repeat(65);
        assert_eq!(
            normalize_email(Some(&format!("{local_64}@example.com"))),
            format!("{local_64}@example.com")
        );
        assert_eq!(
            normalize_email(Some(&format!("{local_65}@example.com"))),
            NOT_PROVIDED
        );
        // 249 letters and ".com": 253 characters; one more is too long.
        let domain_253 = format!("{}.com", "b".repeat(249));
        let domain_254 = format!("{}.com", "b".repeat(250));
        assert_eq!(
            normalize_email(Some(&format!("a@{domain_253}"))),
            format!("a@{domain_253}")
        );
        assert_eq!(
            normalize_email(Some(&format!("a@{domain_254}"))),
            NOT_PROVIDED
        );
    }

    #[test]
    fn email_domain_labels_are_letters_digits_and_inner_hyphens() {
        for good in ["a@my-shop.com", "a@mail.example.co.uk", "a@x9.io"] {
            assert_eq!(normalize_email(Some(good)), good);
        }
        for bad in [
            "a@x..com",
            "a@x-.com",
            "a@.x.com",
            "a@x_y.com",
            "a@x.c",
            "a@x.com.",
        ] {
            assert_eq!(normalize_email(Some(bad)), NOT_PROVIDED, "{bad}");
        }
    }

    #[test]
    fn national_numbers_take_the_country_code_even_when_they_start_with_1() {
        assert_eq!(
            normalize_phone(Some("151 2345678"), Some("Germany")),
            "+491512345678"
        );
        assert_eq!(
            normalize_phone(Some("(0)151 2345678"), Some("DE")),
            "+491512345678"
        );
    }

    #[test]
    fn e164_has_8_to_15_digits_not_starting_with_0() {
        assert_eq!(normalize_phone(Some("+12345678"), None), "+12345678");
        assert_eq!(
            normalize_phone(Some("+123456789012345"), None),
            "+123456789012345"
        );
        for phone in ["+1234567", "+1234567890123456", "+0123456789", "+1234x5678"] {
            assert_eq!(normalize_phone(Some(phone), None), NOT_PROVIDED, "{phone}");
        }
        assert_eq!(normalize_phone(None, Some("Germany")), NOT_PROVIDED);
    }

    #[test]
    fn case_changes_copy_only_when_a_letter_changes() {
        assert_eq!(lowercase(Cow::Borrowed("ÀÉ")), "àé");
        assert_eq!(uppercase(Cow::Borrowed("àé-x")), "ÀÉ-X");
        assert_eq!(uppercase(Cow::Borrowed("abc")), "ABC");
        assert!(matches!(
            lowercase(Cow::Borrowed("àé-1")),
            Cow::Borrowed("àé-1")
        ));
        assert!(matches!(
            uppercase(Cow::Borrowed("ÀÉ-1")),
            Cow::Borrowed("ÀÉ-1")
        ));
        assert!(matches!(
            uppercase(Cow::Borrowed("ABC")),
            Cow::Borrowed("ABC")
        ));
    }
}
