//! Records as received: the ITI `Transaction` and our clickstream and inventory events.
//!
//! Every field is optional here because producers are not trusted: decoding keeps whatever
//! arrived and validation explains what is missing. Clean, typed rows are in [`crate::clean`].

mod clickstream;
mod inventory;
mod transaction;

pub use clickstream::{ClickstreamEvent, CLICKSTREAM_EVENT_TYPES};
pub use inventory::{InventoryEvent, INVENTORY_ACTIONS};
pub use transaction::{ProductPrice, Transaction, TRANSACTION_ACTIONS};

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

/// A text field: borrowed from the payload when it was read as-is (the usual case), owned when
/// decoding or cleaning had to change it (JSON escapes, Avro, trimming, case).
pub type Text<'a> = Cow<'a, str>;
use std::str::FromStr;

/// The kinds of record the pipeline carries; each has its own lake prefix and Parquet schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Entity {
    Transaction,
    Clickstream,
    Inventory,
}

impl Entity {
    pub const ALL: [Entity; 3] = [Entity::Transaction, Entity::Clickstream, Entity::Inventory];

    /// Name used in lake prefixes (`silver/<entity>/...`) and Avro schema files.
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Transaction => "transaction",
            Entity::Clickstream => "clickstream",
            Entity::Inventory => "inventory",
        }
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Entity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "transaction" | "transactions" => Ok(Entity::Transaction),
            "clickstream" | "click" => Ok(Entity::Clickstream),
            "inventory" => Ok(Entity::Inventory),
            other => Err(format!(
                "unknown entity {other:?} (expected transaction, clickstream or inventory)"
            )),
        }
    }
}

/// A decoded record of any entity.
// Transactions are most of the traffic: boxing them would add an allocation per record.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Record<'a> {
    Transaction(Transaction<'a>),
    Clickstream(ClickstreamEvent<'a>),
    Inventory(InventoryEvent<'a>),
}

impl<'a> Record<'a> {
    pub fn entity(&self) -> Entity {
        match self {
            Record::Transaction(_) => Entity::Transaction,
            Record::Clickstream(_) => Entity::Clickstream,
            Record::Inventory(_) => Entity::Inventory,
        }
    }

    pub fn event_id(&self) -> Option<&str> {
        match self {
            Record::Transaction(r) => r.event_id.as_deref(),
            Record::Clickstream(r) => r.event_id.as_deref(),
            Record::Inventory(r) => r.event_id.as_deref(),
        }
    }

    /// The event id as its own value, outliving the record: a copy of the text only when the
    /// record owns it (it had escapes), else another borrow of the payload.
    pub fn event_id_text(&self) -> Option<Text<'a>> {
        match self {
            Record::Transaction(r) => r.event_id.clone(),
            Record::Clickstream(r) => r.event_id.clone(),
            Record::Inventory(r) => r.event_id.clone(),
        }
    }

    pub fn user_id(&self) -> Option<&str> {
        match self {
            Record::Transaction(r) => r.user_id.as_deref(),
            Record::Clickstream(r) => r.user_id.as_deref(),
            Record::Inventory(_) => None,
        }
    }

    pub fn event_timestamp(&self) -> Option<&str> {
        match self {
            Record::Transaction(r) => r.event_timestamp.as_deref(),
            Record::Clickstream(r) => r.event_timestamp.as_deref(),
            Record::Inventory(r) => r.event_timestamp.as_deref(),
        }
    }

    /// Sets `event_id` where the producer left it out (ingest-api assigns one server-side).
    pub fn set_event_id(&mut self, event_id: String) {
        let slot = match self {
            Record::Transaction(r) => &mut r.event_id,
            Record::Clickstream(r) => &mut r.event_id,
            Record::Inventory(r) => &mut r.event_id,
        };
        *slot = Some(Cow::Owned(event_id));
    }

    /// The record as a JSON object, with `null` for absent fields (the ITI producers' shape).
    pub fn to_json_value(&self) -> serde_json::Value {
        // Serialising plain structs of strings and numbers into a Value cannot fail.
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}
