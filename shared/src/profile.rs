//! Customer profiles, the enrichment source (a DynamoDB table keyed by `user_id`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CustomerProfile {
    pub user_id: String,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub segment: Option<String>,
    /// Orders before this one; `Some(0)` marks a new customer.
    #[serde(default)]
    pub lifetime_orders: Option<u32>,
    #[serde(default)]
    pub signup_date: Option<String>,
}
