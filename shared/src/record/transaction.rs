use super::Text;
use serde::{Deserialize, Serialize};

/// `action_type` values a transaction may carry (lower-case; input is compared case-insensitively).
pub const TRANSACTION_ACTIONS: [&str; 5] = ["purchase", "refund", "return", "exchange", "cancel"];

/// The ITI `Transaction` (`shared/schemas/transaction.avsc`, 36 fields), as received.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Transaction<'a> {
    pub event_id: Option<Text<'a>>,
    pub quantity: Option<i64>,
    pub total_amount: Option<f64>,
    pub feedback_score: Option<i64>,
    pub user_id: Option<Text<'a>>,
    pub user_name: Option<Text<'a>>,
    pub user_email: Option<Text<'a>>,
    pub user_phone: Option<Text<'a>>,
    pub is_first_purchase: Option<bool>,
    pub language: Option<Text<'a>>,
    pub currency: Option<Text<'a>>,
    pub city_name: Option<Text<'a>>,
    pub country_name: Option<Text<'a>>,
    pub product_id: Option<i64>,
    pub product_name: Option<Text<'a>>,
    pub product_category: Option<Text<'a>>,
    pub product_brand: Option<Text<'a>>,
    pub product_price: Option<ProductPrice>,
    pub shipping_address: Option<Text<'a>>,
    pub postal_code: Option<Text<'a>>,
    pub device_type: Option<Text<'a>>,
    pub browser: Option<Text<'a>>,
    pub referral_source: Option<Text<'a>>,
    pub campaign: Option<Text<'a>>,
    pub coupon_code: Option<Text<'a>>,
    pub coupon_code_flag: Option<bool>,
    pub payment_method: Option<Text<'a>>,
    pub payment_status: Option<Text<'a>>,
    pub transaction_status: Option<Text<'a>>,
    pub action_type: Option<Text<'a>>,
    pub event_timestamp: Option<Text<'a>>,
    pub dt_date: Option<Text<'a>>,
    pub year: Option<i64>,
    pub month: Option<i64>,
    pub day: Option<i64>,
    pub hour: Option<i64>,
}

/// `product_price` is a `["string", "double"]` union: most producers send a number, some a
/// string with a currency symbol ("$1,299.00").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ProductPrice {
    Amount(f64),
    Text(String),
}

impl Transaction<'_> {
    /// Names of the 36 fields, in schema order.
    pub const FIELD_NAMES: [&'static str; 36] = [
        "event_id",
        "quantity",
        "total_amount",
        "feedback_score",
        "user_id",
        "user_name",
        "user_email",
        "user_phone",
        "is_first_purchase",
        "language",
        "currency",
        "city_name",
        "country_name",
        "product_id",
        "product_name",
        "product_category",
        "product_brand",
        "product_price",
        "shipping_address",
        "postal_code",
        "device_type",
        "browser",
        "referral_source",
        "campaign",
        "coupon_code",
        "coupon_code_flag",
        "payment_method",
        "payment_status",
        "transaction_status",
        "action_type",
        "event_timestamp",
        "dt_date",
        "year",
        "month",
        "day",
        "hour",
    ];
}
