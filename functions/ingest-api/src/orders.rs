//! `POST /v1/orders`: the shopping-cart order shape, mapped onto the ITI transaction so the core
//! validates it with the same rules and stream-enrich reads it like any other purchase.
//!
//! | order field              | transaction field                 |
//! |--------------------------|-----------------------------------|
//! | `uuid` (optional)        | `event_id` (server-assigned if absent) |
//! | `buyer_id` (string/int)  | `user_id`                         |
//! | `product_id`             | `product_id`                      |
//! | `total_amount`           | `product_price` and `total_amount`, `quantity` = 1 |
//! | `purchase_date`          | `event_timestamp`                 |
//! | `number_of_installments` | kept as `number_of_installments` (1..=`MAX_INSTALLMENTS`) |
//!
//! `action_type` is `purchase`; any other ITI field the order carries (`shipping_address`,
//! `currency`, ...) passes through. Refusal reasons name the order's fields, not the ITI ones.

use crate::body::BodyItem;
use crate::records::{Extra, Judge, Judged, Refused};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::error::Category;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use shopstream::decode::decode_json_value;
use shopstream::reason::{RejectReason, Rejection};
use std::fmt;

/// (ITI name, order name) for refusal messages.
const RENAMES: &[(&str, &str)] = &[
    ("user_id", "buyer_id"),
    ("event_timestamp", "purchase_date"),
    ("product_price", "total_amount"),
    ("event_id", "uuid"),
];

/// A JSON object's members in order, refusing duplicated keys.
struct UniqueObject(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for UniqueObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = UniqueObject;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueObject, A::Error> {
                let mut members: Vec<(String, Box<RawValue>)> = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if members.iter().any(|(k, _)| *k == key) {
                        return Err(serde::de::Error::custom(format!("duplicate key `{key}`")));
                    }
                    let value: Box<RawValue> = map.next_value()?;
                    members.push((key, value));
                }
                Ok(UniqueObject(members))
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

fn read_order(json: &str) -> Result<Map<String, Value>, Rejection> {
    if !json.trim_start().starts_with('{') {
        return Err(Rejection::new(
            RejectReason::SchemaMismatch,
            "an order must be a JSON object",
        ));
    }
    let object: UniqueObject = serde_json::from_str(json).map_err(|e| {
        let reason = match e.classify() {
            Category::Data => RejectReason::SchemaMismatch,
            _ => RejectReason::DecodeError,
        };
        Rejection::new(reason, format!("invalid order: {e}"))
    })?;
    let mut map = Map::new();
    for (key, raw) in object.0 {
        let value: Value = serde_json::from_str(raw.get()).map_err(|e| {
            Rejection::on_field(
                RejectReason::DecodeError,
                &key,
                format!("unreadable value: {e}"),
            )
        })?;
        map.insert(key, value);
    }
    Ok(map)
}

fn installments(value: Option<Value>, max: i64) -> Result<i64, Rejection> {
    let field = "number_of_installments";
    let n = match &value {
        None | Some(Value::Null) => {
            return Err(Rejection::on_field(
                RejectReason::BadQuantity,
                field,
                "number_of_installments is missing",
            ))
        }
        Some(Value::Number(n)) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        Some(_) => None,
    };
    match n {
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(Rejection::on_field(
            RejectReason::BadQuantity,
            field,
            format!("number_of_installments {n} is outside 1..={max}"),
        )),
        None => Err(Rejection::on_field(
            RejectReason::BadQuantity,
            field,
            "number_of_installments must be a whole number",
        )),
    }
}

/// The order as an ITI transaction object, and the installments problem if any.
fn to_transaction(
    mut order: Map<String, Value>,
    max_installments: i64,
) -> (Map<String, Value>, Extra) {
    let mut extra = Extra {
        renames: RENAMES,
        ..Extra::default()
    };
    match installments(order.remove("number_of_installments"), max_installments) {
        Ok(n) => {
            extra
                .fields
                .insert("number_of_installments".to_owned(), Value::from(n));
        }
        Err(problem) => extra.problems.push(problem),
    }
    if let Some(uuid) = order.remove("uuid") {
        order.insert("event_id".to_owned(), uuid);
    }
    if let Some(buyer) = order.remove("buyer_id") {
        let user_id = match buyer {
            Value::Number(n) if n.is_i64() || n.is_u64() => Value::String(n.to_string()),
            other => other,
        };
        order.insert("user_id".to_owned(), user_id);
    }
    if let Some(date) = order.remove("purchase_date") {
        order.insert("event_timestamp".to_owned(), date);
    }
    if let Some(total) = order.get("total_amount").cloned() {
        order.entry("product_price").or_insert(total);
    }
    order.entry("quantity").or_insert(Value::from(1));
    order
        .entry("action_type")
        .or_insert(Value::from("purchase"));
    order.insert("record_type".to_owned(), Value::from("transaction"));
    (order, extra)
}

impl Judge<'_> {
    /// Judges the records of `POST /v1/orders`.
    pub fn orders(&self, items: Vec<BodyItem<'_>>, max_installments: i64) -> Judged {
        let mut judged = Judged::default();
        for (index, item) in items.into_iter().enumerate() {
            let order = item.json.and_then(read_order);
            let (transaction, extra) = match order {
                Err(rejection) => {
                    judged
                        .refused
                        .push(Refused::new(index, item.line, None, vec![rejection]));
                    continue;
                }
                Ok(order) => to_transaction(order, max_installments),
            };
            let decoded = serde_json::to_value(&transaction)
                .map_err(|e| Rejection::new(RejectReason::DecodeError, e.to_string()))
                .and_then(decode_json_value);
            match decoded {
                Ok(decoded) => self.judge(index, item.line, decoded, extra, &mut judged),
                Err(rejection) => {
                    judged
                        .refused
                        .push(Refused::new(index, item.line, None, vec![rejection]))
                }
            }
        }
        judged
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::{split_records, BodyFormat};
    use crate::records::IdSource;
    use chrono::Utc;
    use shopstream::validate::ValidationRules;

    fn run(body: &str) -> Judged {
        let rules = ValidationRules::default();
        let judge = Judge {
            now: Utc::now(),
            rules: &rules,
            ids: IdSource::Random,
            max_record_bytes: 1 << 20,
        };
        judge.orders(split_records(body, BodyFormat::Json, 10).unwrap(), 12)
    }

    #[test]
    fn an_order_becomes_a_purchase() {
        let judged = run(
            r#"{"buyer_id": 42, "product_id": 7, "number_of_installments": 3, "total_amount": 99.9,
                "purchase_date": "2024-11-05T07:15:00Z", "shipping_address": "1 Main St"}"#,
        );
        assert!(judged.refused.is_empty(), "{:?}", judged.refused);
        let record = &judged.accepted[0];
        assert_eq!(record.partition_key, "42");
        let json: Value = serde_json::from_slice(&record.payload).unwrap();
        assert_eq!(json["user_id"], "42");
        assert_eq!(json["action_type"], "purchase");
        assert_eq!(json["quantity"], 1);
        assert_eq!(json["product_price"], 99.9);
        assert_eq!(json["number_of_installments"], 3);
        assert_eq!(json["event_timestamp"], "2024-11-05T07:15:00Z");
    }

    #[test]
    fn refusals_speak_the_order_vocabulary() {
        let judged = run(
            r#"{"uuid": "o-1", "product_id": 7, "number_of_installments": 0, "total_amount": -1}"#,
        );
        let refused = &judged.refused[0];
        assert_eq!(refused.event_id.as_deref(), Some("o-1"));
        let fields: Vec<_> = refused
            .reasons
            .iter()
            .filter_map(|r| r.field.as_deref())
            .collect();
        for field in [
            "buyer_id",
            "purchase_date",
            "total_amount",
            "number_of_installments",
        ] {
            assert!(fields.contains(&field), "{field} missing from {fields:?}");
        }
        assert!(!fields.contains(&"user_id"));
    }

    #[test]
    fn duplicated_keys_and_non_objects_are_refused() {
        let judged = run(r#"[{"buyer_id": "a", "buyer_id": "b"}, [1], "x"]"#);
        assert_eq!(judged.refused.len(), 3);
        assert_eq!(
            judged.refused[0].reasons[0].reason,
            RejectReason::SchemaMismatch
        );
        assert!(judged.refused[0].reasons[0].detail.contains("duplicate"));
    }
}
