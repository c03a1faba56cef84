//! Validation: every reason a record is refused, not just the first.

use crate::decode::Decoded;
use crate::money::price_to_cents;
use crate::reason::{RejectReason, Rejection};
use crate::record::{
    ClickstreamEvent, InventoryEvent, Record, Transaction, CLICKSTREAM_EVENT_TYPES,
    INVENTORY_ACTIONS, TRANSACTION_ACTIONS,
};
use crate::timestamp::parse_event_timestamp;
use chrono::{DateTime, TimeDelta, Utc};

/// Thresholds of the validation rules; every one is configurable (see [`crate::config`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationRules {
    /// How far in the future an event timestamp may be (clock skew of producers).
    pub max_future_skew: TimeDelta,
    /// Events older than this are refused as `BAD_TIMESTAMP`; `None` accepts any age.
    pub max_event_age: Option<TimeDelta>,
    /// Largest `|quantity|` of a transaction.
    pub max_quantity: i64,
    /// What a purchase (not a refund or return) with a negative quantity becomes.
    pub negative_purchase_quantity: NegativePurchaseQuantity,
    pub max_unit_price_cents: i64,
    /// Largest stock movement one inventory event may carry, in units.
    pub max_inventory_change: i64,
    /// `user_id` prefixes (lower-case) that mark internal, synthetic or monitoring records.
    pub system_user_prefixes: Vec<String>,
    /// `action_type` / `event_type` values (lower-case) of internal records.
    pub system_action_types: Vec<String>,
}

impl Default for ValidationRules {
    fn default() -> Self {
        ValidationRules {
            max_future_skew: TimeDelta::minutes(5),
            max_event_age: None,
            max_quantity: 1_000,
            negative_purchase_quantity: NegativePurchaseQuantity::Repair,
            max_unit_price_cents: 100_000_000,
            max_inventory_change: 1_000_000,
            system_user_prefixes: ["system", "sys_", "test_", "healthcheck"]
                .map(String::from)
                .to_vec(),
            system_action_types: ["system", "heartbeat", "healthcheck", "test"]
                .map(String::from)
                .to_vec(),
        }
    }
}

/// The policy for purchases whose quantity is negative (`NEGATIVE_PURCHASE_QUANTITY`). ITI
/// data carries them on about 2 % of transactions; ITI's cleaning takes the absolute value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NegativePurchaseQuantity {
    /// Keep the record with the absolute value, recorded as a repair
    /// ([`crate::clean::Repair::NegativePurchaseQuantity`]).
    Repair,
    /// Refuse it as `BAD_QUANTITY`.
    Refuse,
}

impl NegativePurchaseQuantity {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "repair" => Some(NegativePurchaseQuantity::Repair),
            "refuse" => Some(NegativePurchaseQuantity::Refuse),
            _ => None,
        }
    }
}

/// Whether a transaction takes money back (a refund or a return), by its action type or its
/// status, ignoring case and surrounding whitespace. Such transactions carry a negative
/// quantity and a negative total in silver and gold.
pub fn is_money_back(action_type: Option<&str>, transaction_status: Option<&str>) -> bool {
    let is = |value: Option<&str>, wanted: &[&str]| {
        code(value).is_some_and(|v| wanted.iter().any(|w| v.eq_ignore_ascii_case(w)))
    };
    is(action_type, &["refund", "return"]) || is(transaction_status, &["refunded", "returned"])
}

/// What validation parsed on the way, for cleaning to reuse.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Facts {
    pub event_time: Option<DateTime<Utc>>,
    pub price_cents: Option<i64>,
}

/// Every reason the decoded record must be refused (empty when it is acceptable), including
/// the problems decoding found.
pub fn validate(decoded: &Decoded, now: DateTime<Utc>, rules: &ValidationRules) -> Vec<Rejection> {
    validate_record(&decoded.record, &decoded.problems, now, rules).0
}

pub(crate) fn validate_record(
    record: &Record,
    decode_problems: &[Rejection],
    now: DateTime<Utc>,
    rules: &ValidationRules,
) -> (Vec<Rejection>, Facts) {
    let mut check = Checker {
        found: decode_problems.to_vec(),
        decode_problem_fields: decode_problems
            .iter()
            .filter_map(|p| p.field.clone())
            .collect(),
        now,
        rules,
    };
    let facts = match record {
        Record::Transaction(t) => check.transaction(t),
        Record::Clickstream(c) => check.clickstream(c),
        Record::Inventory(i) => check.inventory(i),
    };
    (check.found, facts)
}

struct Checker<'a> {
    found: Vec<Rejection>,
    /// A field decoding already complained about is not complained about twice.
    decode_problem_fields: Vec<String>,
    now: DateTime<Utc>,
    rules: &'a ValidationRules,
}

fn blank(value: Option<&str>) -> bool {
    value.is_none_or(|v| v.trim().is_empty())
}

/// A code (action or event type) as given, trimmed; `None` when empty. Codes are compared
/// ignoring ASCII case.
fn code(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

fn is_code(value: Option<&str>, wanted: &str) -> bool {
    code(value).is_some_and(|v| v.eq_ignore_ascii_case(wanted))
}

/// Whether `text` starts with `prefix` (lower-case), ignoring ASCII case.
fn starts_with_ignoring_case(text: &str, prefix: &str) -> bool {
    text.as_bytes()
        .get(..prefix.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(prefix.as_bytes()))
}

impl Checker<'_> {
    fn refuse(&mut self, reason: RejectReason, field: &str, detail: impl Into<String>) {
        if !self.decode_problem_fields.iter().any(|f| f == field) {
            self.found.push(Rejection::on_field(reason, field, detail));
        }
    }

    fn event_id(&mut self, event_id: Option<&str>) {
        if blank(event_id) {
            self.refuse(
                RejectReason::MissingEventId,
                "event_id",
                "event_id is missing or empty",
            );
        }
    }

    fn user_id(&mut self, user_id: Option<&str>) {
        match user_id.map(str::trim) {
            None | Some("") => self.refuse(
                RejectReason::NullUserId,
                "user_id",
                "user_id is null or empty",
            ),
            Some(user) => {
                if let Some(prefix) = self
                    .rules
                    .system_user_prefixes
                    .iter()
                    .find(|p| starts_with_ignoring_case(user, p))
                {
                    let detail = format!("user_id {user:?} is a system user (prefix {prefix:?})");
                    self.refuse(RejectReason::SystemRecord, "user_id", detail);
                }
            }
        }
    }

    fn timestamp(&mut self, text: Option<&str>) -> Option<DateTime<Utc>> {
        let Some(text) = text else {
            self.refuse(
                RejectReason::NullTimestamp,
                "event_timestamp",
                "event_timestamp is null",
            );
            return None;
        };
        let Some(time) = parse_event_timestamp(text) else {
            let detail = format!("{text:?} is not an ISO-8601 timestamp");
            self.refuse(RejectReason::BadTimestamp, "event_timestamp", detail);
            return None;
        };
        if time > self.now + self.rules.max_future_skew {
            let detail = format!(
                "{text} is more than {} s ahead of the pipeline clock",
                self.rules.max_future_skew.num_seconds()
            );
            self.refuse(RejectReason::FutureTimestamp, "event_timestamp", detail);
            return None;
        }
        if let Some(max_age) = self.rules.max_event_age {
            if time < self.now - max_age {
                let detail = format!("{text} is older than {} s", max_age.num_seconds());
                self.refuse(RejectReason::BadTimestamp, "event_timestamp", detail);
                return None;
            }
        }
        Some(time)
    }

    /// Checks an action against the known ones; internal actions are system records.
    fn action(&mut self, field: &str, action: Option<&str>, known: &[&str]) {
        let Some(action) = code(action) else {
            self.refuse(
                RejectReason::UnknownEventType,
                field,
                format!("{field} is missing"),
            );
            return;
        };
        let is = |known: &str| known.eq_ignore_ascii_case(action);
        if self.rules.system_action_types.iter().any(|s| is(s)) {
            let action = action.to_ascii_lowercase();
            let detail = format!("{field} {action:?} is an internal record");
            self.refuse(RejectReason::SystemRecord, field, detail);
        } else if !known.iter().any(|k| is(k)) {
            let action = action.to_ascii_lowercase();
            let detail = format!("{field} {action:?} is not one of {}", known.join(", "));
            self.refuse(RejectReason::UnknownEventType, field, detail);
        }
    }

    fn required_id<T>(&mut self, field: &str, value: Option<T>, why: &str) {
        if value.is_none() {
            self.refuse(
                RejectReason::SchemaMismatch,
                field,
                format!("{field} is required {why}"),
            );
        }
    }

    /// Quantity: present, non-zero, `|quantity| ≤ max_quantity`. Refunds and returns may be
    /// negative (the natural way to write them); a negative purchase follows the policy.
    fn quantity(&mut self, t: &Transaction) {
        let max = self.rules.max_quantity;
        match t.quantity {
            None => self.refuse(RejectReason::BadQuantity, "quantity", "quantity is missing"),
            Some(q) if q == 0 || q.unsigned_abs() > max.unsigned_abs() => {
                let detail = format!("quantity {q} is zero or its magnitude exceeds {max}");
                self.refuse(RejectReason::BadQuantity, "quantity", detail)
            }
            // `q <= 0` would be the same test: zero was refused by the arm above
            // (an equivalent mutant, excluded in .cargo/mutants.toml).
            Some(q)
                if q < 0
                    && self.rules.negative_purchase_quantity
                        == NegativePurchaseQuantity::Refuse
                    && !is_money_back(
                        t.action_type.as_deref(),
                        t.transaction_status.as_deref(),
                    ) =>
            {
                let detail = format!(
                    "quantity {q} is negative on a purchase (NEGATIVE_PURCHASE_QUANTITY=refuse)"
                );
                self.refuse(RejectReason::BadQuantity, "quantity", detail)
            }
            Some(_) => {}
        }
    }

    fn transaction(&mut self, t: &Transaction) -> Facts {
        self.event_id(t.event_id.as_deref());
        self.user_id(t.user_id.as_deref());
        let event_time = self.timestamp(t.event_timestamp.as_deref());
        self.action(
            "action_type",
            t.action_type.as_deref(),
            &TRANSACTION_ACTIONS,
        );
        self.required_id("product_id", t.product_id, "by the Transaction schema");
        self.quantity(t);
        let price_cents = match t.product_price.as_ref().map(price_to_cents) {
            None => {
                self.refuse(
                    RejectReason::BadPrice,
                    "product_price",
                    "product_price is missing",
                );
                None
            }
            Some(Err(problem)) => {
                self.refuse(RejectReason::BadPrice, "product_price", problem);
                None
            }
            Some(Ok(cents)) if cents <= 0 || cents > self.rules.max_unit_price_cents => {
                let detail = format!(
                    "price {} is outside 0.01..={}",
                    crate::money::format_cents(cents),
                    crate::money::format_cents(self.rules.max_unit_price_cents)
                );
                self.refuse(RejectReason::BadPrice, "product_price", detail);
                None
            }
            Some(Ok(cents)) => Some(cents),
        };
        if is_code(t.action_type.as_deref(), "purchase") && blank(t.shipping_address.as_deref()) {
            self.refuse(
                RejectReason::MissingShippingForPurchase,
                "shipping_address",
                "a purchase needs a shipping_address",
            );
        }
        Facts {
            event_time,
            price_cents,
        }
    }

    fn clickstream(&mut self, c: &ClickstreamEvent) -> Facts {
        self.event_id(c.event_id.as_deref());
        self.user_id(c.user_id.as_deref());
        let event_time = self.timestamp(c.event_timestamp.as_deref());
        self.action(
            "event_type",
            c.event_type.as_deref(),
            &CLICKSTREAM_EVENT_TYPES,
        );
        if is_code(c.event_type.as_deref(), "add_to_cart") {
            self.required_id("product_id", c.product_id, "for add_to_cart");
        }
        Facts {
            event_time,
            price_cents: None,
        }
    }

    fn inventory(&mut self, i: &InventoryEvent) -> Facts {
        self.event_id(i.event_id.as_deref());
        let event_time = self.timestamp(i.event_timestamp.as_deref());
        self.action("action_type", i.action_type.as_deref(), &INVENTORY_ACTIONS);
        self.required_id("product_id", i.product_id, "for an inventory event");
        if blank(i.warehouse_id.as_deref()) {
            self.refuse(
                RejectReason::SchemaMismatch,
                "warehouse_id",
                "warehouse_id is required",
            );
        }
        let action = code(i.action_type.as_deref()).map(str::to_ascii_lowercase);
        match i.quantity_change {
            None => self.refuse(
                RejectReason::BadQuantity,
                "quantity_change",
                "quantity_change is missing",
            ),
            Some(q) => {
                let sign_ok = match action.as_deref() {
                    Some("restock") => q > 0,
                    Some("sale") => q < 0,
                    _ => q != 0,
                };
                if !sign_ok || q.unsigned_abs() > self.rules.max_inventory_change.unsigned_abs() {
                    let detail = format!(
                        "quantity_change {q} does not fit a {} (restock > 0, sale < 0, adjustment ≠ 0, |change| ≤ {})",
                        action.as_deref().unwrap_or("movement"),
                        self.rules.max_inventory_change
                    );
                    self.refuse(RejectReason::BadQuantity, "quantity_change", detail);
                }
            }
        }
        let price_cents = match i.unit_cost {
            Some(cost)
                if !cost.is_finite()
                    || cost < 0.0
                    || cost * 100.0 > self.rules.max_unit_price_cents as f64 =>
            {
                self.refuse(
                    RejectReason::BadPrice,
                    "unit_cost",
                    format!(
                        "unit_cost {cost} is not an amount in 0..={}",
                        crate::money::format_cents(self.rules.max_unit_price_cents)
                    ),
                );
                None
            }
            Some(cost) => Some((cost * 100.0).round() as i64),
            None => None,
        };
        Facts {
            event_time,
            price_cents,
        }
    }
}

#[cfg(test)]
mod tests;
