use super::Text;
use serde::{Deserialize, Serialize};

/// `event_type` values of a clickstream event.
pub const CLICKSTREAM_EVENT_TYPES: [&str; 4] = ["page_view", "add_to_cart", "search", "login"];

/// A clickstream event (`shared/schemas/clickstream.avsc`), as received.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClickstreamEvent<'a> {
    pub event_id: Option<Text<'a>>,
    pub event_type: Option<Text<'a>>,
    pub user_id: Option<Text<'a>>,
    pub session_id: Option<Text<'a>>,
    pub event_timestamp: Option<Text<'a>>,
    pub page_url: Option<Text<'a>>,
    pub product_id: Option<i64>,
    pub search_query: Option<Text<'a>>,
    pub device_type: Option<Text<'a>>,
    pub browser: Option<Text<'a>>,
    pub referral_source: Option<Text<'a>>,
    pub country_name: Option<Text<'a>>,
}
