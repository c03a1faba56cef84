use super::Text;
use serde::{Deserialize, Serialize};

/// `action_type` values of an inventory event.
pub const INVENTORY_ACTIONS: [&str; 3] = ["restock", "sale", "adjustment"];

/// A stock movement (`shared/schemas/inventory.avsc`), as received. `quantity_change` is signed:
/// positive for a restock, negative for a sale, either for an adjustment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InventoryEvent<'a> {
    pub event_id: Option<Text<'a>>,
    pub action_type: Option<Text<'a>>,
    pub product_id: Option<i64>,
    pub warehouse_id: Option<Text<'a>>,
    pub quantity_change: Option<i64>,
    pub stock_level: Option<i64>,
    pub unit_cost: Option<f64>,
    pub event_timestamp: Option<Text<'a>>,
    pub reason: Option<Text<'a>>,
}
