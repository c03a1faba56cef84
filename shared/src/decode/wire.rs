//! The superset of every entity's fields, as one lenient struct: one parse of the payload both
//! classifies the record and collects every field-level problem.

use super::field::{Field, FieldType};
use crate::reason::{RejectReason, Rejection};
use crate::record::{
    ClickstreamEvent, Entity, InventoryEvent, ProductPrice, Record, Text, Transaction,
};
use serde::Deserialize;

/// `'a` is the payload's lifetime. serde borrows only `&str` fields by itself: each text field
/// is marked `borrow` so a string without escapes is a slice of the payload, not a copy.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct WireRecord<'a> {
    /// Optional explicit entity ("transaction", "clickstream", "inventory").
    #[serde(borrow)]
    record_type: Field<Text<'a>>,
    // Shared by several entities.
    #[serde(borrow)]
    event_id: Field<Text<'a>>,
    #[serde(borrow)]
    user_id: Field<Text<'a>>,
    #[serde(borrow)]
    event_timestamp: Field<Text<'a>>,
    product_id: Field<i64>,
    #[serde(borrow)]
    device_type: Field<Text<'a>>,
    #[serde(borrow)]
    browser: Field<Text<'a>>,
    #[serde(borrow)]
    country_name: Field<Text<'a>>,
    #[serde(borrow)]
    referral_source: Field<Text<'a>>,
    #[serde(borrow)]
    action_type: Field<Text<'a>>,
    // Transaction.
    quantity: Field<i64>,
    total_amount: Field<f64>,
    feedback_score: Field<i64>,
    #[serde(borrow)]
    user_name: Field<Text<'a>>,
    #[serde(borrow)]
    user_email: Field<Text<'a>>,
    #[serde(borrow)]
    user_phone: Field<Text<'a>>,
    is_first_purchase: Field<bool>,
    #[serde(borrow)]
    language: Field<Text<'a>>,
    #[serde(borrow)]
    currency: Field<Text<'a>>,
    #[serde(borrow)]
    city_name: Field<Text<'a>>,
    #[serde(borrow)]
    product_name: Field<Text<'a>>,
    #[serde(borrow)]
    product_category: Field<Text<'a>>,
    #[serde(borrow)]
    product_brand: Field<Text<'a>>,
    product_price: Field<ProductPrice>,
    #[serde(borrow)]
    shipping_address: Field<Text<'a>>,
    #[serde(borrow)]
    postal_code: Field<Text<'a>>,
    #[serde(borrow)]
    campaign: Field<Text<'a>>,
    #[serde(borrow)]
    coupon_code: Field<Text<'a>>,
    coupon_code_flag: Field<bool>,
    #[serde(borrow)]
    payment_method: Field<Text<'a>>,
    #[serde(borrow)]
    payment_status: Field<Text<'a>>,
    #[serde(borrow)]
    transaction_status: Field<Text<'a>>,
    #[serde(borrow)]
    dt_date: Field<Text<'a>>,
    year: Field<i64>,
    month: Field<i64>,
    day: Field<i64>,
    hour: Field<i64>,
    // Clickstream.
    #[serde(borrow)]
    event_type: Field<Text<'a>>,
    #[serde(borrow)]
    session_id: Field<Text<'a>>,
    #[serde(borrow)]
    page_url: Field<Text<'a>>,
    #[serde(borrow)]
    search_query: Field<Text<'a>>,
    // Inventory.
    #[serde(borrow)]
    warehouse_id: Field<Text<'a>>,
    quantity_change: Field<i64>,
    stock_level: Field<i64>,
    unit_cost: Field<f64>,
    #[serde(borrow)]
    reason: Field<Text<'a>>,
}

/// Collects field problems while converting lenient fields to plain options.
struct Taker {
    problems: Vec<Rejection>,
}

impl Taker {
    /// A field we keep: a wrong type is refused with `reason`.
    fn take<'de, T: FieldType<'de>>(
        &mut self,
        name: &str,
        field: Field<T>,
        reason: RejectReason,
    ) -> Option<T> {
        match field {
            Field::Value(v) => Some(v),
            Field::Absent | Field::Null => None,
            Field::Wrong(found) => {
                self.problems.push(Rejection::on_field(
                    reason,
                    name,
                    format!("expected {}, found {found}", T::EXPECTED),
                ));
                None
            }
        }
    }

    fn keep<'de, T: FieldType<'de>>(&mut self, name: &str, field: Field<T>) -> Option<T> {
        self.take(name, field, RejectReason::SchemaMismatch)
    }

    /// A field the pipeline recomputes (total_amount, dt_date, year, ...): a wrong type is
    /// dropped, since the value would be overwritten anyway.
    fn derived<T>(field: Field<T>) -> Option<T> {
        match field {
            Field::Value(v) => Some(v),
            _ => None,
        }
    }
}

impl<'a> WireRecord<'a> {
    /// Which entity this record is: an explicit `record_type` wins; otherwise clickstream
    /// events carry `event_type`, inventory events a warehouse or a quantity change, and
    /// everything else is read as a transaction (the ITI producers send no type field).
    pub(crate) fn entity(&self) -> Result<Entity, Rejection> {
        if let Field::Value(kind) = &self.record_type {
            return kind.parse().map_err(|msg: String| {
                Rejection::on_field(RejectReason::SchemaMismatch, "record_type", msg)
            });
        }
        if self.event_type.is_present() {
            Ok(Entity::Clickstream)
        } else if self.warehouse_id.is_present() || self.quantity_change.is_present() {
            Ok(Entity::Inventory)
        } else {
            Ok(Entity::Transaction)
        }
    }

    /// Converts to the entity's record, with the field problems found on the way.
    pub(crate) fn into_record(self) -> Result<(Record<'a>, Vec<Rejection>), Rejection> {
        let entity = self.entity()?;
        let mut t = Taker {
            problems: Vec::new(),
        };
        use RejectReason::*;
        let record = match entity {
            Entity::Transaction => Record::Transaction(Transaction {
                event_id: t.keep("event_id", self.event_id),
                quantity: t.take("quantity", self.quantity, BadQuantity),
                total_amount: Taker::derived(self.total_amount),
                feedback_score: t.keep("feedback_score", self.feedback_score),
                user_id: t.keep("user_id", self.user_id),
                user_name: t.keep("user_name", self.user_name),
                user_email: t.keep("user_email", self.user_email),
                user_phone: t.keep("user_phone", self.user_phone),
                is_first_purchase: t.keep("is_first_purchase", self.is_first_purchase),
                language: t.keep("language", self.language),
                currency: t.keep("currency", self.currency),
                city_name: t.keep("city_name", self.city_name),
                country_name: t.keep("country_name", self.country_name),
                product_id: t.keep("product_id", self.product_id),
                product_name: t.keep("product_name", self.product_name),
                product_category: t.keep("product_category", self.product_category),
                product_brand: t.keep("product_brand", self.product_brand),
                product_price: t.take("product_price", self.product_price, BadPrice),
                shipping_address: t.keep("shipping_address", self.shipping_address),
                postal_code: t.keep("postal_code", self.postal_code),
                device_type: t.keep("device_type", self.device_type),
                browser: t.keep("browser", self.browser),
                referral_source: t.keep("referral_source", self.referral_source),
                campaign: t.keep("campaign", self.campaign),
                coupon_code: t.keep("coupon_code", self.coupon_code),
                coupon_code_flag: t.keep("coupon_code_flag", self.coupon_code_flag),
                payment_method: t.keep("payment_method", self.payment_method),
                payment_status: t.keep("payment_status", self.payment_status),
                transaction_status: t.keep("transaction_status", self.transaction_status),
                action_type: t.take("action_type", self.action_type, UnknownEventType),
                event_timestamp: t.take("event_timestamp", self.event_timestamp, BadTimestamp),
                dt_date: Taker::derived(self.dt_date),
                year: Taker::derived(self.year),
                month: Taker::derived(self.month),
                day: Taker::derived(self.day),
                hour: Taker::derived(self.hour),
            }),
            Entity::Clickstream => Record::Clickstream(ClickstreamEvent {
                event_id: t.keep("event_id", self.event_id),
                event_type: t.take("event_type", self.event_type, UnknownEventType),
                user_id: t.keep("user_id", self.user_id),
                session_id: t.keep("session_id", self.session_id),
                event_timestamp: t.take("event_timestamp", self.event_timestamp, BadTimestamp),
                page_url: t.keep("page_url", self.page_url),
                product_id: t.keep("product_id", self.product_id),
                search_query: t.keep("search_query", self.search_query),
                device_type: t.keep("device_type", self.device_type),
                browser: t.keep("browser", self.browser),
                referral_source: t.keep("referral_source", self.referral_source),
                country_name: t.keep("country_name", self.country_name),
            }),
            Entity::Inventory => Record::Inventory(InventoryEvent {
                event_id: t.keep("event_id", self.event_id),
                action_type: t.take("action_type", self.action_type, UnknownEventType),
                product_id: t.keep("product_id", self.product_id),
                warehouse_id: t.keep("warehouse_id", self.warehouse_id),
                quantity_change: t.take("quantity_change", self.quantity_change, BadQuantity),
                stock_level: t.keep("stock_level", self.stock_level),
                unit_cost: t.take("unit_cost", self.unit_cost, BadPrice),
                event_timestamp: t.take("event_timestamp", self.event_timestamp, BadTimestamp),
                reason: t.keep("reason", self.reason),
            }),
        };
        Ok((record, t.problems))
    }
}
