//! The jobs/sql models, compiled in: `models.json` gives the order, each file its SQL. The
//! same files run on Spark (the EMR job); the function reads no SQL at run time.

use serde::Deserialize;
use shopstream::ledger::sha256_hex;
use std::collections::BTreeMap;
use std::sync::OnceLock;

const MODELS_JSON: &str = include_str!("../../../jobs/sql/models.json");

/// Every file `models.json` names (a test checks the two lists agree).
const FILES: &[(&str, &str)] = &[
    (
        "transactions_first_seen.sql",
        include_str!("../../../jobs/sql/transactions_first_seen.sql"),
    ),
    (
        "transactions_accepted.sql",
        include_str!("../../../jobs/sql/transactions_accepted.sql"),
    ),
    (
        "transactions_keyed.sql",
        include_str!("../../../jobs/sql/transactions_keyed.sql"),
    ),
    (
        "dim_date_time.sql",
        include_str!("../../../jobs/sql/dim_date_time.sql"),
    ),
    (
        "dim_user.sql",
        include_str!("../../../jobs/sql/dim_user.sql"),
    ),
    (
        "dim_product.sql",
        include_str!("../../../jobs/sql/dim_product.sql"),
    ),
    (
        "dim_country.sql",
        include_str!("../../../jobs/sql/dim_country.sql"),
    ),
    (
        "dim_city.sql",
        include_str!("../../../jobs/sql/dim_city.sql"),
    ),
    (
        "dim_shipping_address.sql",
        include_str!("../../../jobs/sql/dim_shipping_address.sql"),
    ),
    (
        "dim_device.sql",
        include_str!("../../../jobs/sql/dim_device.sql"),
    ),
    (
        "dim_marketing.sql",
        include_str!("../../../jobs/sql/dim_marketing.sql"),
    ),
    (
        "dim_order_flags.sql",
        include_str!("../../../jobs/sql/dim_order_flags.sql"),
    ),
    (
        "final_fact.sql",
        include_str!("../../../jobs/sql/final_fact.sql"),
    ),
    (
        "rejected.sql",
        include_str!("../../../jobs/sql/rejected.sql"),
    ),
    (
        "event_index.sql",
        include_str!("../../../jobs/sql/event_index.sql"),
    ),
];

#[derive(Debug, Clone, Deserialize)]
pub struct Model {
    pub name: String,
    pub file: String,
    pub depends_on: Vec<String>,
    /// The gold table written from it; `None` for an intermediate view.
    pub output: Option<String>,
    #[serde(skip)]
    pub sql: &'static str,
}

#[derive(Debug, Deserialize)]
struct ModelsFile {
    inputs: Vec<String>,
    models: Vec<Model>,
}

/// The output name of the event index model.
pub const EVENT_INDEX_OUTPUT: &str = "_event_index";

fn parsed() -> &'static ModelsFile {
    static MODELS: OnceLock<ModelsFile> = OnceLock::new();
    MODELS.get_or_init(|| {
        // Compiled-in and checked by the tests: a parse failure is a build defect.
        let mut file: ModelsFile = serde_json::from_str(MODELS_JSON).unwrap_or(ModelsFile {
            inputs: Vec::new(),
            models: Vec::new(),
        });
        for model in &mut file.models {
            model.sql = FILES
                .iter()
                .find(|(name, _)| *name == model.file)
                .map(|(_, sql)| *sql)
                .unwrap_or_default();
        }
        file
    })
}

/// The models in execution order.
pub fn models() -> &'static [Model] {
    &parsed().models
}

/// The input views an engine registers before the models.
pub fn input_views() -> &'static [String] {
    &parsed().inputs
}

/// Model name → SHA-256 of its SQL (the manifest's `model_versions`).
pub fn model_versions() -> BTreeMap<String, String> {
    models()
        .iter()
        .map(|m| (m.name.clone(), sha256_hex(m.sql.as_bytes())))
        .collect()
}

/// The gold tables (warehouse tables, not the event index), in model order.
pub fn gold_tables() -> Vec<&'static str> {
    models()
        .iter()
        .filter_map(|m| m.output.as_deref())
        .filter(|output| *output != EVENT_INDEX_OUTPUT)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_has_its_sql_compiled_in() {
        assert_eq!(models().len(), FILES.len());
        for model in models() {
            assert!(!model.sql.trim().is_empty(), "{} has no SQL", model.file);
        }
        assert_eq!(
            input_views(),
            [
                "silver_transactions",
                "quarantine_records",
                "gold_event_index"
            ]
        );
        assert_eq!(gold_tables().len(), 11);
        assert_eq!(model_versions().len(), models().len());
    }
}
