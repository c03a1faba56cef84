//! The warehouse tables: their DDL (`jobs/redshift/tables/*.sql`, the one source of their
//! columns), natural keys and how a batch is merged into each.
//!
//! Two load modes, chosen per table:
//! - [`LoadMode::Upsert`] (attributes change over time: users, products): deduplicate the
//!   staging rows into a table of their own (Redshift's MERGE reads only a table, never a
//!   subquery), then `MERGE` — matched keys updated, new keys inserted.
//! - [`LoadMode::InsertNew`] (a row is a function of its key: hashed-attribute dimensions, the
//!   fact, rejected records): one `INSERT … SELECT` of the deduplicated staging rows whose key
//!   is not in the table yet. That is what a MERGE would do — its update would rewrite
//!   identical values — in one statement instead of two, which keeps a batch of all eleven
//!   tables within the Data API's 40 statements.

/// How a table takes a batch's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadMode {
    /// Dedupe into `merge_<table>`, then `MERGE`. Gold already keeps one row per key and
    /// batch (its latest attributes); should staging hold two, the first by every column in
    /// order wins, so the choice depends on the rows only, never on load order.
    Upsert,
    /// Insert the deduplicated rows whose key is absent.
    InsertNew,
}

/// One warehouse table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub name: &'static str,
    /// The natural key: one column (gold derives dimension keys from natural keys).
    pub key: &'static str,
    pub mode: LoadMode,
    /// Column names in DDL order, which is also the gold Parquet column order (COPY loads
    /// Parquet by position).
    pub columns: Vec<String>,
    /// The `CREATE TABLE` text with `{schema}` unsubstituted.
    pub ddl: &'static str,
}

/// `CREATE SCHEMA` for the warehouse.
pub const SCHEMA_DDL: &str = include_str!("../../../jobs/redshift/tables/00_schema.sql");
/// `load_audit` and `load_audit_table`.
pub const AUDIT_DDL: &str = include_str!("../../../jobs/redshift/load_audit.sql");

/// The tables in load order: dimensions (snowflake parents first), then the fact, then the
/// rejected records.
const TABLES: [(&str, &str, LoadMode, &str); 11] = [
    (
        "dim_date_time",
        "date_time_key",
        LoadMode::InsertNew,
        include_str!("../../../jobs/redshift/tables/01_dim_date_time.sql"),
    ),
    (
        "dim_user",
        "user_key",
        LoadMode::Upsert,
        include_str!("../../../jobs/redshift/tables/02_dim_user.sql"),
    ),
    (
        "dim_product",
        "product_key",
        LoadMode::Upsert,
        include_str!("../../../jobs/redshift/tables/03_dim_product.sql"),
    ),
    (
        "dim_country",
        "country_key",
        LoadMode::InsertNew,
        include_str!("../../../jobs/redshift/tables/04_dim_country.sql"),
    ),
    (
        "dim_city",
        "city_key",
        LoadMode::InsertNew,
        include_str!("../../../jobs/redshift/tables/05_dim_city.sql"),
    ),
    (
        "dim_shipping_address",
        "shipping_address_key",
        LoadMode::InsertNew,
        include_str!("../../../jobs/redshift/tables/06_dim_shipping_address.sql"),
    ),
    (
        "dim_device",
        "device_key",
        LoadMode::InsertNew,
        include_str!("../../../jobs/redshift/tables/07_dim_device.sql"),
    ),
    (
        "dim_marketing",
        "marketing_key",
        LoadMode::InsertNew,
        include_str!("../../../jobs/redshift/tables/08_dim_marketing.sql"),
    ),
    (
        "dim_order_flags",
        "order_flags_key",
        LoadMode::InsertNew,
        include_str!("../../../jobs/redshift/tables/09_dim_order_flags.sql"),
    ),
    (
        "final_fact",
        "event_id",
        LoadMode::InsertNew,
        include_str!("../../../jobs/redshift/tables/10_final_fact.sql"),
    ),
    (
        "rejected",
        "rejected_key",
        LoadMode::InsertNew,
        include_str!("../../../jobs/redshift/tables/11_rejected.sql"),
    ),
];

/// The KPI queries of `jobs/sql/kpi/` (the one source of each KPI's SQL), by name.
pub const KPIS: [(&str, &str); 17] = [
    (
        "bottom_products",
        include_str!("../../../jobs/sql/kpi/bottom_products.sql"),
    ),
    (
        "customer_segments",
        include_str!("../../../jobs/sql/kpi/customer_segments.sql"),
    ),
    (
        "feedback_distribution",
        include_str!("../../../jobs/sql/kpi/feedback_distribution.sql"),
    ),
    (
        "first_time_vs_repeat_customers",
        include_str!("../../../jobs/sql/kpi/first_time_vs_repeat_customers.sql"),
    ),
    (
        "fraud_risk_mix",
        include_str!("../../../jobs/sql/kpi/fraud_risk_mix.sql"),
    ),
    (
        "hour_of_day_by_day_of_week",
        include_str!("../../../jobs/sql/kpi/hour_of_day_by_day_of_week.sql"),
    ),
    (
        "marketing_attribution",
        include_str!("../../../jobs/sql/kpi/marketing_attribution.sql"),
    ),
    (
        "orders_by_device",
        include_str!("../../../jobs/sql/kpi/orders_by_device.sql"),
    ),
    (
        "payment_methods",
        include_str!("../../../jobs/sql/kpi/payment_methods.sql"),
    ),
    (
        "rejection_reasons_over_time",
        include_str!("../../../jobs/sql/kpi/rejection_reasons_over_time.sql"),
    ),
    (
        "revenue_by_brand",
        include_str!("../../../jobs/sql/kpi/revenue_by_brand.sql"),
    ),
    (
        "revenue_by_category",
        include_str!("../../../jobs/sql/kpi/revenue_by_category.sql"),
    ),
    (
        "revenue_by_city",
        include_str!("../../../jobs/sql/kpi/revenue_by_city.sql"),
    ),
    (
        "revenue_by_country",
        include_str!("../../../jobs/sql/kpi/revenue_by_country.sql"),
    ),
    (
        "revenue_by_day",
        include_str!("../../../jobs/sql/kpi/revenue_by_day.sql"),
    ),
    (
        "top_products",
        include_str!("../../../jobs/sql/kpi/top_products.sql"),
    ),
    (
        "transaction_status_mix",
        include_str!("../../../jobs/sql/kpi/transaction_status_mix.sql"),
    ),
];

/// `CREATE OR REPLACE VIEW <schema>.kpi_<name>` for every KPI, the query text unchanged. The
/// queries name the tables without a schema, so the script first sets the search path.
pub fn kpi_views(schema: &str) -> String {
    let mut out = format!("SET search_path TO {schema};\n");
    for (name, sql) in KPIS {
        out.push_str(&format!(
            "CREATE OR REPLACE VIEW {schema}.kpi_{name} AS\n{};\n",
            sql.trim().trim_end_matches(';')
        ));
    }
    out
}

/// The table names, in load order.
pub fn table_names() -> Vec<&'static str> {
    TABLES.iter().map(|(name, ..)| *name).collect()
}

/// Every table, in load order, with its columns read from its DDL.
pub fn tables() -> Vec<Table> {
    TABLES
        .iter()
        .map(|&(name, key, mode, ddl)| Table {
            name,
            key,
            mode,
            columns: ddl_columns(ddl),
            ddl,
        })
        .collect()
}

/// The column names of a `CREATE TABLE … ( … )` written one column per line: every line of
/// the parenthesised body that starts with an identifier other than a constraint keyword.
pub fn ddl_columns(ddl: &str) -> Vec<String> {
    let Some(body_start) = ddl.find("(\n") else {
        return Vec::new();
    };
    let body = &ddl[body_start + 2..];
    let body_end = body.find("\n)").unwrap_or(body.len());
    body[..body_end]
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("--"))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|word| !matches!(*word, "PRIMARY" | "UNIQUE" | "FOREIGN" | "CONSTRAINT"))
        .map(str::to_owned)
        .collect()
}

/// All DDL (schema, tables, audit, KPI views) for `schema`, in creation order.
pub fn ddl(schema: &str) -> String {
    let mut out = SCHEMA_DDL.replace("{schema}", schema);
    for table in TABLES.iter().map(|(_, _, _, ddl)| ddl) {
        out.push('\n');
        out.push_str(&table.replace("{schema}", schema));
    }
    out.push('\n');
    out.push_str(&AUDIT_DDL.replace("{schema}", schema));
    out.push('\n');
    out.push_str(&kpi_views(schema));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_has_columns_and_its_key_among_them() {
        for table in tables() {
            assert!(
                table.columns.len() >= 2,
                "{}: {:?}",
                table.name,
                table.columns
            );
            assert!(
                table.columns.iter().any(|c| c == table.key),
                "{}: key {} not a column",
                table.name,
                table.key
            );
            assert!(
                table.ddl.contains(&format!("{{schema}}.{} (", table.name)),
                "{}: DDL names another table",
                table.name
            );
            for column in &table.columns {
                crate::guard::identifier("column", column).expect("column names are identifiers");
            }
        }
    }

    #[test]
    fn columns_are_read_in_order_without_constraints() {
        let ddl = "CREATE TABLE x.t (\n    a INTEGER NOT NULL,\n    -- note\n    b DECIMAL(18,2),\n    PRIMARY KEY (a)\n)\nDISTSTYLE ALL;";
        assert_eq!(ddl_columns(ddl), ["a", "b"]);
    }

    #[test]
    fn amounts_are_decimal_18_2_and_times_plain_timestamps() {
        for table in tables() {
            for line in table.ddl.lines() {
                let line = line.trim();
                if line.starts_with("--") {
                    continue;
                }
                if line.contains("amount") || line.contains("price") {
                    assert!(line.contains("DECIMAL(18,2)"), "{}: {line}", table.name);
                }
                assert!(!line.contains("FLOAT") && !line.contains("REAL"), "{line}");
                assert!(!line.contains("TIMESTAMPTZ"), "{line}");
            }
        }
    }
}
