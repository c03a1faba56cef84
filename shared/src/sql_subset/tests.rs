use super::*;
use proptest::prelude::*;

fn rules(sql: &str) -> Vec<&'static str> {
    check(sql).into_iter().map(|v| v.rule).collect()
}

#[test]
fn portable_sql_passes() {
    let sql = "-- concat( in a comment is fine\n\
        SELECT md5(concat_ws('|', coalesce(a, 'concat(x)'))) AS k, CAST(p * q AS DECIMAL(18, 2)) AS t,\n\
          row_number() OVER (PARTITION BY e ORDER BY t ASC NULLS LAST, char_length(p) ASC NULLS FIRST) AS r\n\
        FROM v ORDER BY k ASC NULLS LAST";
    assert_eq!(check(sql), vec![]);
}

#[test]
fn each_refused_construct_is_reported() {
    let cases = [
        ("SELECT concat(a, b) FROM v", "concat"),
        ("SELECT sha2(a, 256) FROM v", "sha2"),
        ("SELECT sha256(a) FROM v", "sha256"),
        ("SELECT xxhash64(a) FROM v", "xxhash64"),
        ("SELECT to_char(t, 'YYYY') FROM v", "to_char"),
        ("SELECT date_format(t, 'yyyy') FROM v", "date_format"),
        (
            "SELECT a FROM v QUALIFY row_number() OVER (ORDER BY a NULLS LAST) = 1",
            "QUALIFY",
        ),
        ("SELECT nvl(a, 'x') FROM v", "nvl"),
        ("SELECT a::text FROM v", "::"),
        ("SELECT \"a\" FROM v", "quoted"),
        ("SELECT `a` FROM v", "quoted"),
        ("SELECT * EXCEPT (a) FROM v", "EXCEPT"),
        ("SELECT CAST(a AS DOUBLE) FROM v", "floating"),
        ("SELECT md5(a) FROM v", "md5"),
        ("SELECT row_number() OVER (PARTITION BY a) FROM v", "window"),
        ("SELECT a FROM v ORDER BY a", "NULLS"),
        ("SELECT a FROM v ORDER BY a NULLS LAST, b DESC", "NULLS"),
        ("SELECT t + INTERVAL '1' DAY FROM v", "INTERVAL"),
        ("SELECT now() FROM v", "non-deterministic"),
        ("SELECT current_date FROM v", "non-deterministic"),
        ("SELECT date_trunc('day', t) FROM v", "date_trunc"),
    ];
    for (sql, expected) in cases {
        let found = rules(sql);
        assert!(
            found.iter().any(|rule| rule.contains(expected)),
            "{sql}: expected a rule about {expected}, got {found:?}"
        );
    }
}

#[test]
fn look_alikes_are_not_refused() {
    assert_eq!(
        rules("SELECT concat_ws('|', a) AS my_concat, t.now_col FROM v"),
        Vec::<&str>::new()
    );
    assert_eq!(
        rules("SELECT CAST(a AS DECIMAL(18, 2)), CAST(b AS STRING) FROM v"),
        Vec::<&str>::new()
    );
    assert_eq!(
        rules("SELECT a FROM v WHERE b = 'QUALIFY ORDER BY x'"),
        Vec::<&str>::new()
    );
    assert_eq!(
        rules("SELECT x FROM v ORDER BY a ASC NULLS LAST LIMIT 10"),
        Vec::<&str>::new()
    );
}

proptest! {
    /// Whatever a literal or comment holds, the checker does not see it, and blanking keeps
    /// every offset.
    #[test]
    fn literals_and_comments_are_invisible(inner in "[a-zA-Z0-9 ():,*\"`]{0,30}") {
        let escaped = inner.replace('\'', "''");
        let sql = format!("SELECT '{escaped}' AS a -- {inner}\nFROM v /* {inner} */");
        prop_assert_eq!(blank_comments_and_literals(&sql).len(), sql.len());
        prop_assert_eq!(check(&sql), vec![]);
    }
}
