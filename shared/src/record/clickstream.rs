use serde::{Deserialize, Serialize};

/// `event_type` values of a clickstream event.
pub const CLICKSTREAM_EVENT_TYPES: [&str; 4] = ["page_view", "add_to_cart", "search", "login"];

/// A clickstream event (`shared/schemas/clickstream.avsc`), as received.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClickstreamEvent {
    pub event_id: Option<String>,
    pub event_type: Option<String>,
    pub user_id: Option<String>,
    pub session_id: Option<String>,
    pub event_timestamp: Option<String>,
    pub page_url: Option<String>,
    pub product_id: Option<i64>,
    pub search_query: Option<String>,
    pub device_type: Option<String>,
    pub browser: Option<String>,
    pub referral_source: Option<String>,
    pub country_name: Option<String>,
}
