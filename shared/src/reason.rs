//! Machine-readable reasons a record is refused, and the explained refusal that carries one.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a record was refused. Serialised as SCREAMING_SNAKE_CASE (`NULL_USER_ID`, ...), the
/// vocabulary shared by the API responses, quarantine entries, metrics and the warehouse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RejectReason {
    NullUserId,
    NullTimestamp,
    BadTimestamp,
    FutureTimestamp,
    SystemRecord,
    MissingShippingForPurchase,
    MissingEventId,
    BadQuantity,
    BadPrice,
    UnknownEventType,
    DecodeError,
    SchemaMismatch,
    DuplicateEvent,
    /// The record was accepted but its row cannot be written in the silver schema (e.g. an
    /// amount beyond DECIMAL(18,2)): deterministic, so it is quarantined, never retried.
    EncodeError,
}

impl RejectReason {
    pub const ALL: [RejectReason; 14] = [
        RejectReason::NullUserId,
        RejectReason::NullTimestamp,
        RejectReason::BadTimestamp,
        RejectReason::FutureTimestamp,
        RejectReason::SystemRecord,
        RejectReason::MissingShippingForPurchase,
        RejectReason::MissingEventId,
        RejectReason::BadQuantity,
        RejectReason::BadPrice,
        RejectReason::UnknownEventType,
        RejectReason::DecodeError,
        RejectReason::SchemaMismatch,
        RejectReason::DuplicateEvent,
        RejectReason::EncodeError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::NullUserId => "NULL_USER_ID",
            RejectReason::NullTimestamp => "NULL_TIMESTAMP",
            RejectReason::BadTimestamp => "BAD_TIMESTAMP",
            RejectReason::FutureTimestamp => "FUTURE_TIMESTAMP",
            RejectReason::SystemRecord => "SYSTEM_RECORD",
            RejectReason::MissingShippingForPurchase => "MISSING_SHIPPING_FOR_PURCHASE",
            RejectReason::MissingEventId => "MISSING_EVENT_ID",
            RejectReason::BadQuantity => "BAD_QUANTITY",
            RejectReason::BadPrice => "BAD_PRICE",
            RejectReason::UnknownEventType => "UNKNOWN_EVENT_TYPE",
            RejectReason::DecodeError => "DECODE_ERROR",
            RejectReason::SchemaMismatch => "SCHEMA_MISMATCH",
            RejectReason::DuplicateEvent => "DUPLICATE_EVENT",
            RejectReason::EncodeError => "ENCODE_ERROR",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One explained refusal: the reason, the field it concerns (if any) and a human sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    pub reason: RejectReason,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub detail: String,
}

impl Rejection {
    pub fn new(reason: RejectReason, detail: impl Into<String>) -> Self {
        Rejection {
            reason,
            field: None,
            detail: detail.into(),
        }
    }

    pub fn on_field(reason: RejectReason, field: &str, detail: impl Into<String>) -> Self {
        Rejection {
            reason,
            field: Some(field.to_owned()),
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{} ({field}): {}", self.reason, self.detail),
            None => write!(f, "{}: {}", self.reason, self.detail),
        }
    }
}

/// The distinct reasons in a list of rejections, sorted, for compact reporting.
pub fn distinct_reasons(rejections: &[Rejection]) -> Vec<RejectReason> {
    let mut reasons: Vec<RejectReason> = rejections.iter().map(|r| r.reason).collect();
    reasons.sort();
    reasons.dedup();
    reasons
}
