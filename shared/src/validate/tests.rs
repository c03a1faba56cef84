use super::*;
use crate::decode::decode_json;
use crate::record::ProductPrice;
use crate::testdata::{iti_transaction, json_of, test_now};
use proptest::prelude::*;

fn reasons_of(t: &Transaction, rules: &ValidationRules) -> Vec<RejectReason> {
    let payload = json_of(t);
    let decoded = decode_json(&payload).unwrap();
    validate(&decoded, test_now(), rules)
        .into_iter()
        .map(|r| r.reason)
        .collect()
}

fn with(change: impl FnOnce(&mut Transaction<'static>)) -> Transaction<'static> {
    let mut t = iti_transaction();
    change(&mut t);
    t
}

#[test]
fn a_complete_transaction_is_valid() {
    assert!(reasons_of(&iti_transaction(), &ValidationRules::default()).is_empty());
}

#[test]
fn each_rule_gives_its_reason() {
    use RejectReason::*;
    let cases: Vec<(&str, Transaction, RejectReason)> = vec![
        ("null user", with(|t| t.user_id = None), NullUserId),
        (
            "blank user",
            with(|t| t.user_id = Some("  ".into())),
            NullUserId,
        ),
        (
            "null timestamp",
            with(|t| t.event_timestamp = None),
            NullTimestamp,
        ),
        (
            "bad timestamp",
            with(|t| t.event_timestamp = Some("05/11/2024".into())),
            BadTimestamp,
        ),
        (
            "future",
            with(|t| t.event_timestamp = Some("2024-11-05T09:00:00Z".into())),
            FutureTimestamp,
        ),
        (
            "system user",
            with(|t| t.user_id = Some("SYSTEM_BATCH".into())),
            SystemRecord,
        ),
        (
            "system action",
            with(|t| t.action_type = Some("heartbeat".into())),
            SystemRecord,
        ),
        (
            "no shipping",
            with(|t| t.shipping_address = None),
            MissingShippingForPurchase,
        ),
        (
            "no event id",
            with(|t| t.event_id = Some(String::new().into())),
            MissingEventId,
        ),
        ("zero quantity", with(|t| t.quantity = Some(0)), BadQuantity),
        (
            "negative refund beyond the limit",
            with(|t| {
                t.quantity = Some(-1_001);
                t.action_type = Some("refund".into());
            }),
            BadQuantity,
        ),
        (
            "huge quantity",
            with(|t| t.quantity = Some(1_001)),
            BadQuantity,
        ),
        ("no quantity", with(|t| t.quantity = None), BadQuantity),
        (
            "negative price",
            with(|t| t.product_price = Some(ProductPrice::Amount(-5.0))),
            BadPrice,
        ),
        (
            "zero price",
            with(|t| t.product_price = Some(ProductPrice::Amount(0.0))),
            BadPrice,
        ),
        (
            "text price",
            with(|t| t.product_price = Some(ProductPrice::Text("call us".into()))),
            BadPrice,
        ),
        (
            "absurd price",
            with(|t| t.product_price = Some(ProductPrice::Amount(5e7))),
            BadPrice,
        ),
        ("no price", with(|t| t.product_price = None), BadPrice),
        (
            "unknown action",
            with(|t| t.action_type = Some("teleport".into())),
            UnknownEventType,
        ),
        (
            "no action",
            with(|t| t.action_type = None),
            UnknownEventType,
        ),
        ("no product", with(|t| t.product_id = None), SchemaMismatch),
    ];
    for (name, t, reason) in cases {
        assert_eq!(
            reasons_of(&t, &ValidationRules::default()),
            vec![reason],
            "{name}"
        );
    }
}

#[test]
fn all_reasons_are_reported_together() {
    let t = with(|t| {
        t.event_id = None;
        t.user_id = None;
        t.quantity = Some(0);
        t.product_price = Some(ProductPrice::Text("$-3".into()));
        t.event_timestamp = Some("2030-01-01T00:00:00Z".into());
        t.shipping_address = Some(" ".into());
    });
    let mut reasons = reasons_of(&t, &ValidationRules::default());
    reasons.sort();
    use RejectReason::*;
    assert_eq!(
        reasons,
        vec![
            NullUserId,
            FutureTimestamp,
            MissingShippingForPurchase,
            MissingEventId,
            BadQuantity,
            BadPrice
        ]
    );
}

#[test]
fn decode_problems_are_reported_once() {
    let decoded = decode_json(br#"{"event_id":"e","user_id":7,"quantity":"x"}"#).unwrap();
    let rejections = validate(&decoded, test_now(), &ValidationRules::default());
    let on_user: Vec<_> = rejections
        .iter()
        .filter(|r| r.field.as_deref() == Some("user_id"))
        .collect();
    assert_eq!(on_user.len(), 1);
    assert_eq!(on_user[0].reason, RejectReason::SchemaMismatch);
    assert_eq!(
        rejections
            .iter()
            .filter(|r| r.reason == RejectReason::BadQuantity)
            .count(),
        1
    );
}

#[test]
fn a_decode_problem_on_one_field_leaves_the_other_fields_checked() {
    // quantity has the wrong type (a decode problem); event_id is missing and the timestamp
    // is absent: those are refused by validation all the same.
    let decoded = decode_json(br#"{"user_id":"u-1","quantity":"x"}"#).unwrap();
    let rejections = validate(&decoded, test_now(), &ValidationRules::default());
    let fields: Vec<(RejectReason, Option<&str>)> = rejections
        .iter()
        .map(|r| (r.reason, r.field.as_deref()))
        .collect();
    assert!(
        fields.contains(&(RejectReason::MissingEventId, Some("event_id"))),
        "{fields:?}"
    );
    assert!(
        fields.contains(&(RejectReason::NullTimestamp, Some("event_timestamp"))),
        "{fields:?}"
    );
    assert_eq!(
        fields
            .iter()
            .filter(|(_, field)| *field == Some("quantity"))
            .count(),
        1,
        "{fields:?}"
    );
}

#[test]
fn thresholds_are_configurable() {
    let half_hour_ahead = with(|t| t.event_timestamp = Some("2024-11-05T08:45:00Z".into()));
    assert_eq!(
        reasons_of(&half_hour_ahead, &ValidationRules::default()),
        vec![RejectReason::FutureTimestamp]
    );
    let lenient = ValidationRules {
        max_future_skew: TimeDelta::hours(1),
        ..ValidationRules::default()
    };
    assert!(reasons_of(&half_hour_ahead, &lenient).is_empty());
    let strict_age = ValidationRules {
        max_event_age: Some(TimeDelta::minutes(30)),
        ..ValidationRules::default()
    };
    assert_eq!(
        reasons_of(&iti_transaction(), &strict_age),
        vec![RejectReason::BadTimestamp]
    );
    let small_orders = ValidationRules {
        max_quantity: 1,
        ..ValidationRules::default()
    };
    assert_eq!(
        reasons_of(&iti_transaction(), &small_orders),
        vec![RejectReason::BadQuantity]
    );
}

#[test]
fn clickstream_and_inventory_rules() {
    let check = |json: &str| -> Vec<RejectReason> {
        let decoded = decode_json(json.as_bytes()).unwrap();
        validate(&decoded, test_now(), &ValidationRules::default())
            .into_iter()
            .map(|r| r.reason)
            .collect()
    };
    let ts = "\"event_timestamp\":\"2024-11-05T08:00:00Z\"";
    assert!(check(&format!(
        r#"{{"event_id":"c","event_type":"page_view","user_id":"u",{ts}}}"#
    ))
    .is_empty());
    assert_eq!(
        check(&format!(
            r#"{{"event_id":"c","event_type":"add_to_cart","user_id":"u",{ts}}}"#
        )),
        vec![RejectReason::SchemaMismatch]
    );
    assert_eq!(
        check(&format!(
            r#"{{"event_id":"c","event_type":"hover","user_id":"u",{ts}}}"#
        )),
        vec![RejectReason::UnknownEventType]
    );
    assert_eq!(
        check(&format!(r#"{{"event_id":"c","event_type":"login",{ts}}}"#)),
        vec![RejectReason::NullUserId]
    );
    let inventory = |action: &str, change: i64| {
        check(&format!(
            r#"{{"event_id":"i","action_type":"{action}","product_id":1,"warehouse_id":"W1","quantity_change":{change},{ts}}}"#
        ))
    };
    assert!(inventory("restock", 10).is_empty());
    assert!(inventory("sale", -1).is_empty());
    assert!(inventory("adjustment", -3).is_empty());
    assert_eq!(inventory("restock", -10), vec![RejectReason::BadQuantity]);
    assert_eq!(inventory("sale", 2), vec![RejectReason::BadQuantity]);
    assert_eq!(inventory("adjustment", 0), vec![RejectReason::BadQuantity]);
    assert_eq!(
        check(&format!(
            r#"{{"event_id":"i","action_type":"sale","quantity_change":-1,"unit_cost":-2,{ts}}}"#
        )),
        vec![
            RejectReason::SchemaMismatch,
            RejectReason::SchemaMismatch,
            RejectReason::BadPrice
        ]
    );
}

proptest! {
    #[test]
    fn quantity_is_valid_exactly_within_bounds(q in -5_000i64..5_000, max in 1i64..2_000) {
        // A purchase: negative quantities are repaired by default, refused under `refuse`.
        let repair = ValidationRules { max_quantity: max, ..ValidationRules::default() };
        let reasons = reasons_of(&with(|t| t.quantity = Some(q)), &repair);
        prop_assert_eq!(reasons.is_empty(), q != 0 && q.abs() <= max);
        let refuse = ValidationRules {
            negative_purchase_quantity: NegativePurchaseQuantity::Refuse,
            ..repair
        };
        let reasons = reasons_of(&with(|t| t.quantity = Some(q)), &refuse);
        prop_assert_eq!(reasons.is_empty(), (1..=max).contains(&q));
    }

    #[test]
    fn future_skew_is_respected(ahead_seconds in -86_400i64..86_400, skew in 0i64..7_200) {
        let rules = ValidationRules { max_future_skew: TimeDelta::seconds(skew), ..ValidationRules::default() };
        let time = test_now() + TimeDelta::seconds(ahead_seconds);
        let t = with(|t| t.event_timestamp = Some(time.to_rfc3339().into()));
        let reasons = reasons_of(&t, &rules);
        prop_assert_eq!(reasons.contains(&RejectReason::FutureTimestamp), ahead_seconds > skew);
    }
}

#[test]
fn timestamps_at_the_skew_and_age_limits_are_accepted() {
    let at = |time: DateTime<Utc>| with(|t| t.event_timestamp = Some(time.to_rfc3339().into()));
    let defaults = ValidationRules::default();
    assert!(reasons_of(&at(test_now() + TimeDelta::seconds(300)), &defaults).is_empty());
    assert_eq!(
        reasons_of(&at(test_now() + TimeDelta::seconds(301)), &defaults),
        vec![RejectReason::FutureTimestamp]
    );
    let hour_old = ValidationRules {
        max_event_age: Some(TimeDelta::hours(1)),
        ..ValidationRules::default()
    };
    assert!(reasons_of(&at(test_now() - TimeDelta::hours(1)), &hour_old).is_empty());
    assert_eq!(
        reasons_of(
            &at(test_now() - TimeDelta::hours(1) - TimeDelta::seconds(1)),
            &hour_old
        ),
        vec![RejectReason::BadTimestamp]
    );
    assert!(reasons_of(&at(test_now() + TimeDelta::seconds(300)), &hour_old).is_empty());
}

#[test]
fn unit_prices_from_a_cent_to_the_maximum_are_accepted() {
    let priced = |text: &str| with(|t| t.product_price = Some(ProductPrice::Text(text.into())));
    let defaults = ValidationRules::default();
    for text in ["0.01", "1000000.00", "$1,000,000"] {
        assert!(reasons_of(&priced(text), &defaults).is_empty(), "{text}");
    }
    for text in ["0.00", "0.0049", "1000000.01", "-0.01"] {
        assert_eq!(
            reasons_of(&priced(text), &defaults),
            vec![RejectReason::BadPrice],
            "{text}"
        );
    }
    let cheap = ValidationRules {
        max_unit_price_cents: 100,
        ..ValidationRules::default()
    };
    assert!(reasons_of(&priced("1.00"), &cheap).is_empty());
    assert_eq!(
        reasons_of(&priced("1.01"), &cheap),
        vec![RejectReason::BadPrice]
    );
}

#[test]
fn only_purchases_need_a_shipping_address() {
    let defaults = ValidationRules::default();
    for action in ["refund", "return", "exchange", "cancel"] {
        let t = with(|t| {
            t.action_type = Some(action.into());
            t.shipping_address = None;
        });
        assert!(reasons_of(&t, &defaults).is_empty(), "{action}");
    }
    let shouting = with(|t| {
        t.action_type = Some(" PURCHASE ".into());
        t.shipping_address = Some("".into());
    });
    assert_eq!(
        reasons_of(&shouting, &defaults),
        vec![RejectReason::MissingShippingForPurchase]
    );
}

#[test]
fn system_users_are_recognised_by_prefix_ignoring_case() {
    let defaults = ValidationRules::default();
    let user = |id: &str| with(|t| t.user_id = Some(id.to_owned().into()));
    for id in ["test_42", "Sys_batch", "HealthCheck-1", "systematic"] {
        assert_eq!(
            reasons_of(&user(id), &defaults),
            vec![RejectReason::SystemRecord],
            "{id}"
        );
    }
    for id in ["sys", "tes", "user_test_1", "testing"] {
        assert!(reasons_of(&user(id), &defaults).is_empty(), "{id}");
    }
}

#[test]
fn action_codes_are_trimmed_and_compared_ignoring_case() {
    let defaults = ValidationRules::default();
    let action = |a: &str| with(|t| t.action_type = Some(a.to_owned().into()));
    assert!(reasons_of(&action(" Purchase "), &defaults).is_empty());
    assert_eq!(
        reasons_of(&action(" HEARTBEAT "), &defaults),
        vec![RejectReason::SystemRecord]
    );
    assert_eq!(
        reasons_of(&action("   "), &defaults),
        vec![RejectReason::UnknownEventType]
    );
}

#[test]
fn inventory_movements_at_their_limits() {
    let check = |json: String| -> Vec<RejectReason> {
        let decoded = decode_json(json.as_bytes()).unwrap();
        validate(&decoded, test_now(), &ValidationRules::default())
            .into_iter()
            .map(|r| r.reason)
            .collect()
    };
    let movement = |action: &str, change: i64, extra: &str| {
        check(format!(
            r#"{{"event_id":"i","action_type":"{action}","product_id":1,"warehouse_id":"W1","quantity_change":{change}{extra},"event_timestamp":"2024-11-05T08:00:00Z"}}"#
        ))
    };
    use RejectReason::*;
    for (action, change) in [
        ("restock", 1),
        ("restock", 1_000_000),
        ("sale", -1_000_000),
        ("RESTOCK", 5),
        ("adjustment", 1_000_000),
        ("adjustment", -1_000_000),
    ] {
        assert!(movement(action, change, "").is_empty(), "{action} {change}");
    }
    for (action, change) in [
        ("restock", 0),
        ("sale", 0),
        ("restock", 1_000_001),
        ("sale", -1_000_001),
        ("adjustment", -1_000_001),
        ("Sale", 3),
    ] {
        assert_eq!(
            movement(action, change, ""),
            vec![BadQuantity],
            "{action} {change}"
        );
    }
    for cost in ["0", "0.0", "1000000", "12.34"] {
        let extra = format!(r#","unit_cost":{cost}"#);
        assert!(movement("restock", 1, &extra).is_empty(), "{cost}");
    }
    for cost in ["-0.01", "1000000.01", "1e300"] {
        let extra = format!(r#","unit_cost":{cost}"#);
        assert_eq!(movement("restock", 1, &extra), vec![BadPrice], "{cost}");
    }
    assert_eq!(
        check(
            r#"{"event_id":"i","action_type":"restock","product_id":1,"warehouse_id":" ","quantity_change":1,"event_timestamp":"2024-11-05T08:00:00Z"}"#
                .into()
        ),
        vec![SchemaMismatch]
    );
    assert_eq!(
        check(
            r#"{"event_id":"i","action_type":"restock","product_id":1,"warehouse_id":"W1","event_timestamp":"2024-11-05T08:00:00Z"}"#
                .into()
        ),
        vec![BadQuantity]
    );
}

#[test]
fn add_to_cart_with_a_product_is_valid() {
    let decoded = decode_json(
        br#"{"event_id":"c","event_type":"Add_To_Cart","user_id":"u","product_id":7,"event_timestamp":"2024-11-05T08:00:00Z"}"#,
    )
    .unwrap();
    assert!(validate(&decoded, test_now(), &ValidationRules::default()).is_empty());
}

fn quantity_reasons(
    quantity: i64,
    action: &str,
    status: &str,
    policy: NegativePurchaseQuantity,
) -> Vec<RejectReason> {
    let rules = ValidationRules {
        negative_purchase_quantity: policy,
        ..ValidationRules::default()
    };
    let t = with(|t| {
        t.quantity = Some(quantity);
        t.action_type = Some(action.to_owned().into());
        t.transaction_status = Some(status.to_owned().into());
    });
    reasons_of(&t, &rules)
}

#[test]
fn refunds_and_returns_may_carry_a_negative_quantity_under_either_policy() {
    use NegativePurchaseQuantity::*;
    for policy in [Repair, Refuse] {
        for (action, status) in [
            ("refund", "refunded"),
            ("return", "returned"),
            (" Refund ", "completed"),
            ("purchase", "Returned"),
        ] {
            assert!(
                quantity_reasons(-3, action, status, policy).is_empty(),
                "{action}/{status} under {policy:?}"
            );
        }
    }
}

#[test]
fn a_negative_purchase_follows_the_policy() {
    use NegativePurchaseQuantity::*;
    assert!(quantity_reasons(-2, "purchase", "completed", Repair).is_empty());
    assert_eq!(
        quantity_reasons(-2, "purchase", "completed", Refuse),
        vec![RejectReason::BadQuantity]
    );
}

#[test]
fn zero_and_out_of_range_quantities_stay_refused_under_either_policy() {
    use NegativePurchaseQuantity::*;
    for policy in [Repair, Refuse] {
        for (quantity, action) in [
            (0, "purchase"),
            (0, "refund"),
            (1_001, "purchase"),
            (-1_001, "purchase"),
            (-1_001, "return"),
            (i64::MIN, "refund"),
        ] {
            assert_eq!(
                quantity_reasons(quantity, action, "completed", policy),
                vec![RejectReason::BadQuantity],
                "{quantity} {action} under {policy:?}"
            );
        }
        // Exactly at the limit is accepted, in both directions.
        assert!(quantity_reasons(1_000, "purchase", "completed", policy).is_empty());
        assert!(quantity_reasons(-1_000, "refund", "refunded", policy).is_empty());
    }
}

#[test]
fn the_policy_is_parsed_from_its_documented_words() {
    assert_eq!(
        NegativePurchaseQuantity::parse(" Repair"),
        Some(NegativePurchaseQuantity::Repair)
    );
    assert_eq!(
        NegativePurchaseQuantity::parse("refuse"),
        Some(NegativePurchaseQuantity::Refuse)
    );
    assert_eq!(NegativePurchaseQuantity::parse("abs"), None);
}
