//! Everything that enters SQL is checked here first: identifiers against an allow-list or a
//! strict ASCII pattern, S3 URIs against the exact gold layout. A refusal names the field and
//! the rule and shows the value escaped, so hostile text never reaches SQL or raw into a log.
//!
//! The patterns are ASCII-only on purpose: quotes, semicolons, `--`, backslashes, whitespace
//! and every non-ASCII character (including Unicode look-alikes of letters, digits, quotes
//! and slashes) are outside them.

use thiserror::Error;

/// Redshift identifiers are at most 127 bytes.
pub const MAX_IDENTIFIER_LEN: usize = 127;
/// Data API `ClientToken`s are at most 64 characters; batch ids are used as they are.
pub const MAX_BATCH_ID_LEN: usize = 64;
/// Longest value quoted in a refusal message.
const MAX_SHOWN: usize = 80;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("refused {field} {shown}: {rule}")]
pub struct Refused {
    /// What the value was meant to be (`batch_id`, `table`, `object key`, ...).
    pub field: &'static str,
    /// The value, escaped (`{:?}`) and cut to 80 characters.
    pub shown: String,
    /// The rule it breaks.
    pub rule: String,
}

impl Refused {
    fn new(field: &'static str, value: &str, rule: impl Into<String>) -> Self {
        let mut shown: String = value.chars().take(MAX_SHOWN).collect();
        if value.chars().count() > MAX_SHOWN {
            shown.push('…');
        }
        Refused {
            field,
            shown: format!("{shown:?}"),
            rule: rule.into(),
        }
    }
}

fn is_lower_identifier(value: &str) -> bool {
    let mut chars = value.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A Redshift schema, table or column name: `[a-z_][a-z0-9_]*`, at most 127 bytes. Unquoted
/// lower-case names mean the same on Redshift and PostgreSQL.
pub fn identifier(field: &'static str, value: &str) -> Result<String, Refused> {
    if value.is_empty() || value.len() > MAX_IDENTIFIER_LEN {
        return Err(Refused::new(
            field,
            value,
            format!("must be 1 to {MAX_IDENTIFIER_LEN} bytes"),
        ));
    }
    if !is_lower_identifier(value) {
        return Err(Refused::new(
            field,
            value,
            "must match [a-z_][a-z0-9_]* (ASCII lower-case letters, digits, underscore)",
        ));
    }
    Ok(value.to_owned())
}

/// A table name from a manifest: an identifier that is also one of `allowed`.
pub fn table_name<'a>(value: &str, allowed: &[&'a str]) -> Result<&'a str, Refused> {
    identifier("table", value)?;
    allowed
        .iter()
        .copied()
        .find(|name| *name == value)
        .ok_or_else(|| Refused::new("table", value, "is not a warehouse table"))
}

/// A gold batch id as the ledger makes them (`20261202T10-20261202T11-3f2a9c0d11b7e4a5`):
/// ASCII letters, digits and `-`, starting with a letter or digit, at most 64 characters, so
/// it can be the Data API `ClientToken` and a quoted SQL literal as it is.
pub fn batch_id(value: &str) -> Result<String, Refused> {
    if value.is_empty() || value.len() > MAX_BATCH_ID_LEN {
        return Err(Refused::new(
            "batch_id",
            value,
            format!("must be 1 to {MAX_BATCH_ID_LEN} characters"),
        ));
    }
    let mut chars = value.chars();
    let first_ok = matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric());
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '-') || value.contains("--") {
        return Err(Refused::new(
            "batch_id",
            value,
            "must match [A-Za-z0-9][A-Za-z0-9-]* (ASCII letters, digits, '-'; no '--')",
        ));
    }
    Ok(value.to_owned())
}

/// An S3 bucket name (the general-purpose naming rules): 3 to 63 of `[a-z0-9.-]`, starting
/// and ending with a letter or digit, no `..`.
pub fn bucket(value: &str) -> Result<String, Refused> {
    let valid = (3..=63).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && value
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && value
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && !value.contains("..")
        && !value.contains("--");
    if valid {
        Ok(value.to_owned())
    } else {
        Err(Refused::new(
            "bucket",
            value,
            "must be 3 to 63 of [a-z0-9.-], starting and ending with a letter or digit, no '..' or '--'",
        ))
    }
}

/// `gold/_manifests/<batch_id>.json` (after URL-decoding the event's key); returns the batch id.
pub fn manifest_key(value: &str) -> Result<String, Refused> {
    let id = value
        .strip_prefix(shopstream::lake::MANIFESTS_PREFIX)
        .and_then(|rest| rest.strip_suffix(".json"))
        .ok_or_else(|| {
            Refused::new(
                "manifest key",
                value,
                format!(
                    "must be {}<batch_id>.json",
                    shopstream::lake::MANIFESTS_PREFIX
                ),
            )
        })?;
    batch_id(id).map_err(|refused| Refused {
        field: "manifest key",
        ..refused
    })
}

/// The directory of one table's files in one batch: `gold/<table>/batch_id=<batch_id>/`.
pub fn table_prefix(table: &str, batch_id: &str) -> String {
    format!("gold/{table}/batch_id={batch_id}/")
}

/// A gold file key listed by a manifest: exactly `gold/<table>/batch_id=<batch_id>/part-<digits>.parquet`
/// for the (already checked) table and batch, at most 1024 bytes.
pub fn gold_file_key(value: &str, table: &str, batch_id: &str) -> Result<String, Refused> {
    let prefix = table_prefix(table, batch_id);
    let valid = value.len() <= 1024
        && value
            .strip_prefix(&prefix)
            .and_then(|name| name.strip_prefix("part-"))
            .and_then(|name| name.strip_suffix(".parquet"))
            .is_some_and(|digits| {
                !digits.is_empty()
                    && digits.len() <= 10
                    && digits.chars().all(|c| c.is_ascii_digit())
            });
    if valid {
        Ok(value.to_owned())
    } else {
        Err(Refused::new(
            "gold file key",
            value,
            format!("must be {prefix}part-<digits>.parquet"),
        ))
    }
}

/// An IAM role ARN for COPY's `IAM_ROLE`: `arn:<partition>:iam::<12 digits>:role/<path+name>`
/// with the characters IAM allows in role paths and names (none of them a quote).
pub fn iam_role_arn(value: &str) -> Result<String, Refused> {
    let rule =
        "must be arn:aws[-a-z]*:iam::<12 digits>:role/<name of [A-Za-z0-9+=,.@_/-], no '--'>";
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    let valid = value.len() <= 2048
        && !value.contains("--")
        && parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[1].chars().all(|c| c.is_ascii_lowercase() || c == '-')
        && parts[2] == "iam"
        && parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && parts[5].strip_prefix("role/").is_some_and(|name| {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+=,.@_/-".contains(c))
        });
    if valid {
        Ok(value.to_owned())
    } else {
        Err(Refused::new("COPY role ARN", value, rule))
    }
}

/// A lower-case hex SHA-256 (the manifest checksum): exactly 64 of `[0-9a-f]`.
pub fn sha256_hex(field: &'static str, value: &str) -> Result<String, Refused> {
    if value.len() == 64
        && value
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    {
        Ok(value.to_owned())
    } else {
        Err(Refused::new(
            field,
            value,
            "must be 64 lower-case hex digits",
        ))
    }
}

/// An AWS region name such as `eu-west-1`.
pub fn region(value: &str) -> Result<String, Refused> {
    let valid = (4..=32).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && value.chars().next().is_some_and(|c| c.is_ascii_lowercase());
    if valid {
        Ok(value.to_owned())
    } else {
        Err(Refused::new(
            "region",
            value,
            "must match [a-z][a-z0-9-]{3,31}",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const BATCH: &str = "20261202T10-20261202T11-3f2a9c0d11b7e4a5";

    /// Values an attacker (or a broken producer) might put in an object key or a manifest.
    fn hostile() -> Vec<String> {
        vec![
            "x'; DROP TABLE final_fact; --".into(),
            "x\"".into(),
            "a;b".into(),
            "a--b".into(),
            "a\\b".into(),
            "a b".into(),
            "a\nb".into(),
            "a\u{0}b".into(),
            // Cyrillic 'а' and 'е' look like Latin letters.
            "dim_\u{0430}ddr\u{0435}ss".into(),
            // Fullwidth digits, a right single quotation mark, a fraction slash.
            "20261202T10-20261202T11-\u{ff13}f2a".into(),
            "x\u{2019}y".into(),
            "a\u{2044}b".into(),
            "a".repeat(200),
            String::new(),
        ]
    }

    #[test]
    fn hostile_values_are_refused_everywhere() {
        for value in hostile() {
            assert!(identifier("table", &value).is_err(), "identifier {value:?}");
            assert!(batch_id(&value).is_err(), "batch id {value:?}");
            assert!(bucket(&value).is_err(), "bucket {value:?}");
            assert!(iam_role_arn(&value).is_err(), "role {value:?}");
            assert!(
                manifest_key(&format!("gold/_manifests/{value}.json")).is_err(),
                "manifest key {value:?}"
            );
            assert!(
                gold_file_key(
                    &format!("gold/final_fact/batch_id={BATCH}/{value}.parquet"),
                    "final_fact",
                    BATCH
                )
                .is_err(),
                "file key {value:?}"
            );
        }
    }

    #[test]
    fn refusals_name_the_field_and_rule_and_escape_the_value() {
        let refused = batch_id("x'; DROP TABLE t; --\n").expect_err("hostile");
        let message = refused.to_string();
        assert!(
            message.starts_with("refused batch_id \"x'; DROP TABLE t; --\\n\""),
            "{message}"
        );
        assert!(message.contains("ASCII letters, digits, '-'"), "{message}");
        let long = identifier("column", &"a".repeat(500)).expect_err("too long");
        assert!(long.shown.chars().count() < 90, "{}", long.shown);
        assert!(long.to_string().contains("1 to 127 bytes"));
    }

    #[test]
    fn well_formed_values_pass() {
        assert_eq!(batch_id(BATCH).as_deref(), Ok(BATCH));
        assert!(batch_id("unpartitioned-unpartitioned-0123456789abcdef").is_ok());
        assert!(identifier("schema", "shopstream").is_ok());
        assert!(
            identifier("schema", "Shopstream").is_err(),
            "upper case is refused"
        );
        assert!(identifier("schema", "1abc").is_err());
        assert_eq!(
            table_name("dim_user", &["dim_user", "final_fact"]),
            Ok("dim_user")
        );
        assert!(table_name("dim_users", &["dim_user"]).is_err());
        assert!(bucket("shopstream-lake-123").is_ok());
        assert!(bucket("Lake").is_err());
        assert!(bucket("a..b").is_err());
        assert!(iam_role_arn("arn:aws:iam::123456789012:role/service/redshift-copy").is_ok());
        assert!(iam_role_arn("arn:aws-cn:iam::123456789012:role/r").is_ok());
        assert!(iam_role_arn("arn:aws:iam::12345678901:role/r").is_err());
        assert!(iam_role_arn("arn:aws:iam::123456789012:user/r").is_err());
        assert_eq!(
            manifest_key(&format!("gold/_manifests/{BATCH}.json")).as_deref(),
            Ok(BATCH)
        );
        assert!(manifest_key(&format!("gold/_manifests/{BATCH}.json.tmp")).is_err());
        assert!(manifest_key(&format!("gold/other/{BATCH}.json")).is_err());
        let key = format!("gold/dim_user/batch_id={BATCH}/part-00000.parquet");
        assert!(gold_file_key(&key, "dim_user", BATCH).is_ok());
        assert!(gold_file_key(&key, "dim_product", BATCH).is_err());
        assert!(gold_file_key(&key, "dim_user", "other-batch").is_err());
        assert!(gold_file_key(
            &format!("gold/dim_user/batch_id={BATCH}/../part-00000.parquet"),
            "dim_user",
            BATCH
        )
        .is_err());
        assert!(sha256_hex("checksum", &"ab".repeat(32)).is_ok());
        assert!(sha256_hex("checksum", &"AB".repeat(32)).is_err());
        assert!(region("eu-west-1").is_ok());
        assert!(region("eu west").is_err());
    }

    proptest! {
        /// Whatever passes a guard contains nothing that could end a literal or an identifier,
        /// start a comment or escape.
        #[test]
        fn accepted_values_hold_no_sql_metacharacters(value in "\\PC{0,80}") {
            for accepted in [
                identifier("x", &value).ok(),
                batch_id(&value).ok(),
                bucket(&value).ok(),
                iam_role_arn(&value).ok(),
            ].into_iter().flatten() {
                prop_assert!(accepted.is_ascii());
                for bad in ["'", "\"", ";", "--", "\\", "/*", " ", "\n", "$"] {
                    prop_assert!(!accepted.contains(bad), "{accepted:?} contains {bad:?}");
                }
            }
        }
    }
}
