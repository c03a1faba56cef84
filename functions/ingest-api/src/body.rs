//! Request bodies: content type, UTF-8, and splitting a JSON array, a single JSON object or
//! NDJSON into one raw JSON text per record — without building a JSON tree, so that each
//! record is decoded by the core from its own bytes (which is how duplicated keys are seen).

use crate::error::ApiError;
use serde_json::value::RawValue;
use shopstream::reason::{RejectReason, Rejection};

/// How the body lists its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// `application/json`: one object, or an array of them.
    Json,
    /// `application/x-ndjson` (and its aliases): one object per line.
    Ndjson,
}

const JSON_TYPES: [&str; 2] = ["application/json", "text/json"];
const NDJSON_TYPES: [&str; 5] = [
    "application/x-ndjson",
    "application/ndjson",
    "application/jsonl",
    "application/x-jsonlines",
    "application/jsonlines",
];

/// Reads the `Content-Type` header: the media type decides the format; a charset, if given,
/// must be UTF-8.
pub fn body_format(content_type: Option<&str>) -> Result<BodyFormat, ApiError> {
    let unsupported = || ApiError::UnsupportedMediaType {
        found: content_type.map(|c| c.chars().take(100).collect()),
    };
    let header = content_type.ok_or_else(unsupported)?;
    let mut parts = header.split(';');
    let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    for param in parts {
        if let Some((name, value)) = param.split_once('=') {
            if name.trim().eq_ignore_ascii_case("charset") {
                let charset = value.trim().trim_matches('"').to_ascii_lowercase();
                if charset != "utf-8" && charset != "utf8" {
                    return Err(unsupported());
                }
            }
        }
    }
    if JSON_TYPES.contains(&media.as_str()) {
        Ok(BodyFormat::Json)
    } else if NDJSON_TYPES.contains(&media.as_str()) {
        Ok(BodyFormat::Ndjson)
    } else {
        Err(unsupported())
    }
}

/// Body bytes as text; the error gives the offset of the first invalid byte.
pub fn body_text(bytes: &[u8]) -> Result<&str, ApiError> {
    let text = std::str::from_utf8(bytes).map_err(|e| ApiError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(ApiError::EmptyBody);
    }
    Ok(text)
}

/// One record's place in the body: its JSON text, or why that text could not be read (an
/// unreadable NDJSON line is one refused record, not a refused request).
#[derive(Debug)]
pub struct BodyItem<'a> {
    /// 1-based line number (NDJSON only).
    pub line: Option<usize>,
    pub json: Result<&'a str, Rejection>,
}

/// Splits the body into records, enforcing the record limit.
pub fn split_records(
    text: &str,
    format: BodyFormat,
    max_records: usize,
) -> Result<Vec<BodyItem<'_>>, ApiError> {
    let items = match format {
        BodyFormat::Json => split_json(text)?,
        BodyFormat::Ndjson => split_ndjson(text, max_records)?,
    };
    if items.is_empty() {
        return Err(ApiError::NoRecords);
    }
    if items.len() > max_records {
        return Err(ApiError::TooManyRecords {
            count: items.len(),
            limit: max_records,
        });
    }
    Ok(items)
}

fn malformed(err: serde_json::Error) -> ApiError {
    // serde_json's message ends with " at line L column C"; the position goes in its own fields.
    let message = err.to_string();
    let message = match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message,
    };
    ApiError::MalformedJson {
        message,
        line: err.line(),
        column: err.column(),
    }
}

fn split_json(text: &str) -> Result<Vec<BodyItem<'_>>, ApiError> {
    let first = text.trim_start().as_bytes().first().copied();
    if first == Some(b'[') {
        let items: Vec<&RawValue> = serde_json::from_str(text).map_err(malformed)?;
        Ok(items
            .into_iter()
            .map(|raw| BodyItem {
                line: None,
                json: Ok(raw.get()),
            })
            .collect())
    } else {
        let raw: &RawValue = serde_json::from_str(text).map_err(malformed)?;
        Ok(vec![BodyItem {
            line: None,
            json: Ok(raw.get()),
        }])
    }
}

fn split_ndjson(text: &str, max_records: usize) -> Result<Vec<BodyItem<'_>>, ApiError> {
    let mut items = Vec::new();
    for (number, line) in text.split('\n').enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if items.len() == max_records {
            // Count the rest without parsing it, for the error message.
            let count = max_records
                + text
                    .split('\n')
                    .skip(number)
                    .filter(|l| !l.trim().is_empty())
                    .count();
            return Err(ApiError::TooManyRecords {
                count,
                limit: max_records,
            });
        }
        let json = serde_json::from_str::<&RawValue>(line)
            .map(RawValue::get)
            .map_err(|e| {
                Rejection::new(
                    RejectReason::DecodeError,
                    format!(
                        "line {}: invalid JSON at column {}: {e}",
                        number + 1,
                        e.column()
                    ),
                )
            });
        items.push(BodyItem {
            line: Some(number + 1),
            json,
        });
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(body_format(Some("application/json")), Ok(BodyFormat::Json));
        assert_eq!(
            body_format(Some("Application/JSON; charset=UTF-8")),
            Ok(BodyFormat::Json)
        );
        assert_eq!(
            body_format(Some("application/x-ndjson")),
            Ok(BodyFormat::Ndjson)
        );
        assert!(body_format(None).is_err());
        assert!(body_format(Some("text/plain")).is_err());
        assert!(body_format(Some("application/json; charset=latin1")).is_err());
    }

    #[test]
    fn arrays_objects_and_lines() {
        let items = split_records(r#"[{"a":1}, {"b":2}]"#, BodyFormat::Json, 10).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[1].json.as_deref(), Ok(r#"{"b":2}"#));
        let items = split_records(r#" {"a":1} "#, BodyFormat::Json, 10).unwrap();
        assert_eq!(items.len(), 1);
        let items =
            split_records("{\"a\":1}\r\n\n{oops\n{\"c\":3}\n", BodyFormat::Ndjson, 10).unwrap();
        assert_eq!(items.len(), 3);
        assert_eq!(items[1].line, Some(3));
        assert!(items[1].json.is_err());
    }

    #[test]
    fn malformed_json_has_a_position() {
        let err = split_records("[{\"a\":1},\n {\"b\": }]", BodyFormat::Json, 10).unwrap_err();
        let ApiError::MalformedJson {
            line,
            column,
            message,
        } = err
        else {
            panic!("expected malformed json");
        };
        assert_eq!(line, 2);
        assert!(column > 1);
        assert!(!message.contains(" at line "), "{message}");
    }

    #[test]
    fn limits() {
        assert_eq!(
            split_records("[]", BodyFormat::Json, 10).unwrap_err(),
            ApiError::NoRecords
        );
        let three = "{}\n{}\n{}\n";
        assert_eq!(
            split_records(three, BodyFormat::Ndjson, 2).unwrap_err(),
            ApiError::TooManyRecords { count: 3, limit: 2 }
        );
        assert_eq!(
            split_records("[{},{},{}]", BodyFormat::Json, 2).unwrap_err(),
            ApiError::TooManyRecords { count: 3, limit: 2 }
        );
        assert_eq!(body_text(b"  \n").unwrap_err(), ApiError::EmptyBody);
        assert_eq!(
            body_text(b"[\xff]").unwrap_err(),
            ApiError::InvalidUtf8 { offset: 1 }
        );
    }
}
