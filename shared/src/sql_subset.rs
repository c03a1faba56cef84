//! The SQL subset shared by DataFusion, Spark SQL (the models) and Redshift (the KPI views):
//! a checker that refuses the constructs whose meaning differs between engines (DESIGN.md, "SQL
//! that runs on both engines"). Pure text analysis, after comments and string literals are
//! blanked out; it does not parse SQL, so it errs on the side of refusing.

/// One construct outside the subset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub rule: &'static str,
    /// Byte offset in the checked text.
    pub offset: usize,
}

/// Functions whose results differ between engines, or which do not exist on one of them.
const FORBIDDEN_FUNCTIONS: &[(&str, &str)] = &[
    (
        "concat",
        "concat: NULL semantics differ; use concat_ws over coalesced text",
    ),
    ("sha2", "sha2 is not portable; keys use md5(concat_ws(...))"),
    (
        "sha256",
        "sha256 is not portable; keys use md5(concat_ws(...))",
    ),
    ("xxhash64", "xxhash64 is not portable"),
    (
        "to_char",
        "to_char: pattern languages differ; use extract / date parts",
    ),
    (
        "date_format",
        "date_format: pattern languages differ; use date parts",
    ),
    ("nvl", "nvl: use coalesce"),
    ("ifnull", "ifnull: use coalesce"),
    (
        "date_trunc",
        "date_trunc: time-zone semantics differ; use the date-part columns",
    ),
    ("now", "now(): non-deterministic"),
    ("rand", "rand(): non-deterministic"),
    ("random", "random(): non-deterministic"),
    ("uuid", "uuid(): non-deterministic"),
];

const FORBIDDEN_WORDS: &[(&str, &str)] = &[
    (
        "qualify",
        "QUALIFY is not portable; filter a window in an outer query",
    ),
    ("interval", "INTERVAL literals differ between engines"),
    ("current_timestamp", "current_timestamp: non-deterministic"),
    ("current_date", "current_date: non-deterministic"),
];

const FLOAT_TYPES: &[&str] = &["float", "double", "real", "float4", "float8"];

/// Blanks out `--` and `/* */` comments and the contents of '...' literals (keeping the
/// quotes and every byte offset), so the rules see only SQL structure. Double-quoted and
/// back-quoted text is kept: quoted identifiers are refused by their own rule.
pub fn blank_comments_and_literals(sql: &str) -> String {
    let bytes = sql.as_bytes();
    let mut out = bytes.to_vec();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    out[i] = b' ';
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                    out[i] = b' ';
                    i += 1;
                }
                for _ in 0..2 {
                    if i < bytes.len() {
                        out[i] = b' ';
                        i += 1;
                    }
                }
            }
            b'\'' => {
                i += 1;
                while i < bytes.len() {
                    if bytes[i] == b'\'' {
                        if bytes.get(i + 1) == Some(&b'\'') {
                            out[i] = b' ';
                            out[i + 1] = b' ';
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    out[i] = b' ';
                    i += 1;
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    // Only ASCII bytes were replaced by ASCII spaces inside runs that started and ended on
    // ASCII delimiters; multi-byte characters inside them were blanked whole.
    String::from_utf8(out).unwrap_or_default()
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Offsets of `word` as a whole word in `text` (both lower-case).
fn word_offsets<'a>(text: &'a str, word: &'a str) -> impl Iterator<Item = usize> + 'a {
    let bytes = text.as_bytes();
    text.match_indices(word).map(|(i, _)| i).filter(move |&i| {
        let before = i.checked_sub(1).map(|j| bytes[j]);
        let after = bytes.get(i + word.len()).copied();
        !before.is_some_and(is_word_byte)
            && !after.is_some_and(is_word_byte)
            && before != Some(b'.')
    })
}

fn skip_spaces(text: &str, mut i: usize) -> usize {
    let bytes = text.as_bytes();
    while i < bytes.len() && bytes[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// The text inside the parentheses opening at `open` (which must be '('), and the offset
/// after the closing one.
fn parenthesised(text: &str, open: usize) -> Option<(&str, usize)> {
    let bytes = text.as_bytes();
    if bytes.get(open) != Some(&b'(') {
        return None;
    }
    let mut depth = 0usize;
    for (i, &b) in bytes.iter().enumerate().skip(open) {
        match b {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Some((&text[open + 1..i], i + 1));
                }
            }
            _ => {}
        }
    }
    None
}

/// Splits at top-level commas.
fn top_level_items(text: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, b) in text.bytes().enumerate() {
        match b {
            b'(' => depth += 1,
            b')' => depth -= 1,
            b',' if depth == 0 => {
                items.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&text[start..]);
    items
}

/// The ORDER BY list starting at `start`: up to the closing parenthesis of the enclosing
/// group, a clause keyword, a ';' or the end.
fn order_by_list(text: &str, start: usize) -> &str {
    let bytes = text.as_bytes();
    let mut depth = 0i32;
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'(' => depth += 1,
            b')' => {
                if depth == 0 {
                    break;
                }
                depth -= 1;
            }
            b';' if depth == 0 => break,
            _ if depth == 0 && (i == 0 || !is_word_byte(bytes[i - 1])) => {
                let rest = &text[i..];
                let ends = ["limit", "offset", "rows", "range", "union", "fetch"];
                if ends.iter().any(|w| {
                    rest.starts_with(w)
                        && !rest
                            .as_bytes()
                            .get(w.len())
                            .is_some_and(|b| is_word_byte(*b))
                }) {
                    break;
                }
            }
            _ => {}
        }
        i += 1;
    }
    &text[start..i]
}

/// Every construct of `sql` outside the subset, in text order.
pub fn check(sql: &str) -> Vec<Violation> {
    let text = blank_comments_and_literals(sql).to_ascii_lowercase();
    let mut found = Vec::new();
    let mut refuse = |rule: &'static str, offset: usize| found.push(Violation { rule, offset });

    for (name, rule) in FORBIDDEN_FUNCTIONS {
        for at in word_offsets(&text, name) {
            if text.as_bytes().get(skip_spaces(&text, at + name.len())) == Some(&b'(') {
                refuse(rule, at);
            }
        }
    }
    for (word, rule) in FORBIDDEN_WORDS {
        for at in word_offsets(&text, word) {
            refuse(rule, at);
        }
    }
    for (at, _) in text.match_indices("::") {
        refuse(":: casts are PostgreSQL-only; use CAST(x AS type)", at);
    }
    for (at, c) in text.char_indices() {
        if c == '"' || c == '`' {
            refuse(
                "quoted identifiers differ (\"x\" vs `x`); use plain snake_case names",
                at,
            );
        }
    }
    for at in word_offsets(&text, "except") {
        let before = text[..at].trim_end();
        if before.ends_with('*') {
            refuse("SELECT * EXCEPT is not portable; list the columns", at);
        }
    }
    for at in word_offsets(&text, "cast") {
        let Some((inner, _)) = parenthesised(&text, skip_spaces(&text, at + 4)) else {
            continue;
        };
        if let Some(target) = top_level_as_type(inner) {
            if FLOAT_TYPES.contains(&target) {
                refuse(
                    "casts to floating point are refused (amounts are DECIMAL)",
                    at,
                );
            }
        }
    }
    for at in word_offsets(&text, "md5") {
        let open = skip_spaces(&text, at + 3);
        let argument = skip_spaces(&text, open + 1);
        if text.as_bytes().get(open) != Some(&b'(') || !text[argument..].starts_with("concat_ws") {
            refuse(
                "md5 keys are md5(concat_ws('|', ...)) over coalesced text",
                at,
            );
        }
    }
    for at in word_offsets(&text, "over") {
        let open = skip_spaces(&text, at + 4);
        match parenthesised(&text, open) {
            Some((window, _)) if window.contains("order by") => {}
            _ => refuse("window functions need a total ORDER BY", at),
        }
    }
    for (at, _) in text.match_indices("order by") {
        let list = order_by_list(&text, at + "order by".len());
        for item in top_level_items(list) {
            if !(item.contains("nulls first") || item.contains("nulls last")) {
                refuse("ORDER BY items need explicit NULLS FIRST / NULLS LAST", at);
            }
        }
    }
    found.sort_by_key(|v| v.offset);
    found
}

/// The type name after the top-level `AS` of a CAST's argument text.
fn top_level_as_type(inner: &str) -> Option<&str> {
    let mut depth = 0i32;
    let bytes = inner.as_bytes();
    for i in 0..bytes.len() {
        match bytes[i] {
            b'(' => depth += 1,
            b')' => depth -= 1,
            b'a' if depth == 0
                && inner[i..].starts_with("as")
                && (i == 0 || !is_word_byte(bytes[i - 1]))
                && !bytes.get(i + 2).is_some_and(|b| is_word_byte(*b)) =>
            {
                let rest = inner[i + 2..].trim_start();
                let end = rest
                    .find(|c: char| !is_word_byte(c as u8))
                    .unwrap_or(rest.len());
                return Some(&rest[..end]);
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests;
