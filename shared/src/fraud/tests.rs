use super::*;
use crate::record::{ProductPrice, Transaction};
use crate::testdata::{cleaned, iti_transaction};
use proptest::prelude::*;

fn clean_with(change: impl FnOnce(&mut Transaction<'static>)) -> CleanTransaction<'static> {
    let mut t = iti_transaction();
    change(&mut t);
    cleaned(&t)
}

fn priced(amount: f64, method: &str) -> CleanTransaction<'static> {
    clean_with(|t| {
        t.product_price = Some(ProductPrice::Amount(amount));
        t.quantity = Some(1);
        t.payment_method = Some(method.to_owned().into());
    })
}

#[test]
fn design_rules_score_amounts_and_payment_methods() {
    let rules = FraudRules::default();
    let none = FraudContext::default();
    let small = rules.assess(&priced(50.0, "credit_card"), &none);
    assert_eq!(
        (small.score, small.risk_level, small.review),
        (0.0, RiskLevel::Low, false)
    );
    let large = rules.assess(&priced(1_200.0, "credit_card"), &none);
    assert_eq!((large.score, large.risk_level), (0.3, RiskLevel::Low));
    assert_eq!(large.matched_rules, vec!["amount_over_1000".into()]);
    let huge_gift = rules.assess(&priced(6_000.0, "Gift_Card"), &none);
    assert_eq!(
        (huge_gift.score, huge_gift.risk_level, huge_gift.review),
        (0.7, RiskLevel::Medium, true)
    );
}

#[test]
fn profile_and_history_rules() {
    let rules = FraudRules::default();
    let tx = priced(6_000.0, "gift_card");
    let foreign = CustomerProfile {
        user_id: tx.user_id.to_string(),
        country: Some("DE".into()),
        lifetime_orders: Some(0),
        ..CustomerProfile::default()
    };
    let assessment = rules.assess(
        &tx,
        &FraudContext {
            profile: Some(&foreign),
            recent_order_times: &[],
        },
    );
    assert_eq!(assessment.score, 1.0, "{assessment:?}");
    assert_eq!(assessment.risk_level, RiskLevel::High);
    assert!(assessment
        .matched_rules
        .contains(&"country_mismatch".into()));
    assert!(assessment
        .matched_rules
        .contains(&"new_user_large_order".into()));

    let home = CustomerProfile {
        country: Some("brasil".into()),
        ..foreign.clone()
    };
    let at_home = rules.assess(
        &priced(10.0, "credit_card"),
        &FraudContext {
            profile: Some(&home),
            recent_order_times: &[],
        },
    );
    assert!(!at_home.matched_rules.contains(&"country_mismatch".into()));

    let burst: Vec<_> = (1..=5)
        .map(|m| tx.event_time - chrono::TimeDelta::minutes(m))
        .collect();
    let fast = rules.assess(
        &priced(10.0, "credit_card"),
        &FraudContext {
            profile: None,
            recent_order_times: &burst,
        },
    );
    assert_eq!(fast.matched_rules, vec!["order_velocity".into()]);
    let slow: Vec<_> = (1..=5)
        .map(|h| tx.event_time - chrono::TimeDelta::hours(h))
        .collect();
    let calm = rules.assess(
        &priced(10.0, "credit_card"),
        &FraudContext {
            profile: None,
            recent_order_times: &slow,
        },
    );
    assert!(calm.matched_rules.is_empty());
}

#[test]
fn rules_are_data_read_from_json() {
    let json = r#"{
        "rules": [
            {"name": "big", "weight": 0.6, "when": "amount_above", "amount": 100},
            {"name": "crypto", "weight": 0.5, "when": "payment_method_in", "methods": ["crypto"]}
        ],
        "review_above": 0.55
    }"#;
    let rules = FraudRules::from_json(json).unwrap();
    assert_eq!(rules.high_above, 0.7);
    let both = rules.assess(&priced(200.0, "crypto"), &FraudContext::default());
    assert_eq!(
        (both.score, both.risk_level, both.review),
        (1.0, RiskLevel::High, true)
    );
    let one = rules.assess(&priced(200.0, "card"), &FraudContext::default());
    assert_eq!(
        (one.score, one.risk_level, one.review),
        (0.6, RiskLevel::Medium, true)
    );
    let round_trip =
        FraudRules::from_json(&serde_json::to_string(&FraudRules::default()).unwrap()).unwrap();
    assert_eq!(round_trip, FraudRules::default());
    assert!(
        FraudRules::from_json(r#"{"rules":[{"name":"x","weight":1,"when":"moon_phase"}]}"#)
            .is_err()
    );
}

proptest! {
    #[test]
    fn score_is_bounded_and_levels_follow_it(amount in 1.0f64..20_000.0, gift in any::<bool>()) {
        let rules = FraudRules::default();
        let a = rules.assess(&priced(amount, if gift { "gift_card" } else { "paypal" }), &FraudContext::default());
        prop_assert!((0.0..=1.0).contains(&a.score));
        prop_assert_eq!(a.review, a.score > 0.5);
        let expected = if a.score > 0.7 { RiskLevel::High } else if a.score > 0.4 { RiskLevel::Medium } else { RiskLevel::Low };
        prop_assert_eq!(a.risk_level, expected);
    }
}
