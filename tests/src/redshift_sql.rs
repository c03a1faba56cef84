//! The one translation from the Redshift SQL redshift-copy sends to PostgreSQL SQL, used by the
//! warehouse tests and by the local Data API ([`crate::RedshiftDataApi`]):
//!
//! - the table-attribute clauses Redshift alone has (`DISTSTYLE`, `DISTKEY`, `SORTKEY`,
//!   `ENCODE`) are dropped: they place and compress rows, they do not change results;
//! - `SYSDATE` (start of the transaction) → `LOCALTIMESTAMP` (the same in PostgreSQL, UTC
//!   session); `GETDATE()` (start of the statement) → `statement_timestamp()` at UTC.
//!
//! `COPY … FROM 's3://…' FORMAT AS PARQUET` is not translated here: it reads S3, so whoever
//! executes the SQL replaces it with `COPY … FROM STDIN` of the same rows ([`parse_copy`]
//! finds its target and prefix).

/// `sql` as PostgreSQL runs it.
pub fn to_postgres(sql: &str) -> String {
    let kept: Vec<&str> = sql
        .lines()
        .filter(|line| {
            let line = line.trim_start();
            !(line.starts_with("DISTSTYLE")
                || line.starts_with("DISTKEY")
                || line.starts_with("SORTKEY"))
        })
        .collect();
    let mut out = kept.join("\n");
    // A table's attribute lines end with the statement's ';': keep it after removing them.
    out = out.replace("\n)\n", "\n);\n");
    if out.ends_with("\n)") {
        out.push(';');
    }
    out.replace(" ENCODE zstd", "")
        .replace(" ENCODE az64", "")
        .replace("SYSDATE", "LOCALTIMESTAMP")
        .replace(
            "GETDATE()",
            "CAST(statement_timestamp() AT TIME ZONE 'UTC' AS TIMESTAMP)",
        )
}

/// A Redshift `COPY <table> FROM 's3://<bucket>/<prefix>' … FORMAT AS PARQUET`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3ParquetCopy {
    pub table: String,
    pub bucket: String,
    pub prefix: String,
}

/// The COPY a statement is, if it is a COPY of Parquet from S3.
pub fn parse_copy(sql: &str) -> Option<S3ParquetCopy> {
    let rest = sql.trim_start().strip_prefix("COPY ")?;
    let (table, rest) = rest.trim_start().split_once(char::is_whitespace)?;
    let rest = rest.trim_start().strip_prefix("FROM 's3://")?;
    let (location, options) = rest.split_once('\'')?;
    if !options.contains("FORMAT AS PARQUET") {
        return None;
    }
    let (bucket, prefix) = location.split_once('/')?;
    Some(S3ParquetCopy {
        table: table.to_owned(),
        bucket: bucket.to_owned(),
        prefix: prefix.to_owned(),
    })
}

/// `sql` with each named parameter `:name` of `names` written as psql's quoted variable
/// `:'name'`, so psql binds the value as a literal (never pasted unquoted). `::` casts and
/// names inside longer identifiers are left alone.
pub fn bind_parameters(sql: &str, names: &[&str]) -> String {
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len() + 8);
    let mut i = 0;
    while i < sql.len() {
        let is_param_start = bytes[i] == b':'
            && (i == 0 || bytes[i - 1] != b':')
            && bytes.get(i + 1).is_some_and(|b| *b != b':');
        if is_param_start {
            let name_end = sql[i + 1..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map_or(sql.len(), |n| i + 1 + n);
            let name = &sql[i + 1..name_end];
            if names.contains(&name) {
                out.push_str(":'");
                out.push_str(name);
                out.push('\'');
                i = name_end;
                continue;
            }
        }
        let ch = sql[i..].chars().next().unwrap_or_default();
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_translation_only_drops_redshift_clauses_and_maps_the_clock() {
        let ddl = "CREATE TABLE IF NOT EXISTS s.t (\n    a INTEGER NOT NULL ENCODE az64,\n    PRIMARY KEY (a)\n)\nDISTSTYLE ALL\nSORTKEY (a);\n";
        assert_eq!(
            to_postgres(ddl),
            "CREATE TABLE IF NOT EXISTS s.t (\n    a INTEGER NOT NULL,\n    PRIMARY KEY (a)\n);"
        );
        assert_eq!(
            to_postgres("VALUES (SYSDATE, GETDATE())"),
            "VALUES (LOCALTIMESTAMP, CAST(statement_timestamp() AT TIME ZONE 'UTC' AS TIMESTAMP))"
        );
    }

    #[test]
    fn a_parquet_copy_names_its_table_bucket_and_prefix() {
        let sql = "COPY stage_dim_user FROM 's3://lake/gold/dim_user/batch_id=b1/' IAM_ROLE 'arn:aws:iam::1:role/r' FORMAT AS PARQUET;";
        assert_eq!(
            parse_copy(sql),
            Some(S3ParquetCopy {
                table: "stage_dim_user".into(),
                bucket: "lake".into(),
                prefix: "gold/dim_user/batch_id=b1/".into(),
            })
        );
        assert_eq!(parse_copy("COPY t FROM 's3://lake/x' CSV"), None);
        assert_eq!(parse_copy("SELECT 1"), None);
    }

    #[test]
    fn parameters_become_quoted_psql_variables_and_casts_stay() {
        assert_eq!(
            bind_parameters(
                "SELECT a::text FROM t WHERE id = :batch_id AND x = :batch_idx",
                &["batch_id"]
            ),
            "SELECT a::text FROM t WHERE id = :'batch_id' AND x = :batch_idx"
        );
        assert_eq!(bind_parameters("é :b", &["b"]), "é :'b'");
    }
}
