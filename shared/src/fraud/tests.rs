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

#[test]
fn risk_level_strings_are_the_serialised_names() {
    for (level, text) in [
        (RiskLevel::Low, "LOW"),
        (RiskLevel::Medium, "MEDIUM"),
        (RiskLevel::High, "HIGH"),
    ] {
        assert_eq!(level.as_str(), text);
        assert_eq!(
            serde_json::to_string(&level).unwrap(),
            format!("\"{text}\"")
        );
    }
}

#[test]
fn design_thresholds_are_the_defaults() {
    let rules = FraudRules::default();
    assert_eq!(
        (rules.high_above, rules.medium_above, rules.review_above),
        (0.7, 0.4, 0.5)
    );
    let from_json = FraudRules::from_json(r#"{"rules": []}"#).unwrap();
    assert_eq!(
        (
            from_json.high_above,
            from_json.medium_above,
            from_json.review_above
        ),
        (0.7, 0.4, 0.5)
    );
}

#[test]
fn a_score_exactly_at_a_threshold_stays_below_it() {
    let rules = FraudRules::default();
    assert_eq!(rules.risk_level(0.4), RiskLevel::Low);
    assert_eq!(rules.risk_level(0.400001), RiskLevel::Medium);
    assert_eq!(rules.risk_level(0.7), RiskLevel::Medium);
    assert_eq!(rules.risk_level(0.700001), RiskLevel::High);
    assert_eq!(rules.risk_level(0.0), RiskLevel::Low);
    assert_eq!(rules.risk_level(1.0), RiskLevel::High);
}

/// A rule set whose single amount rule scores `weight` for any order above 1 unit.
fn single_rule(weight: f64) -> FraudRules {
    FraudRules {
        rules: vec![FraudRule {
            name: "any".into(),
            weight,
            condition: FraudCondition::AmountAbove { amount: 1.0 },
        }],
        ..FraudRules::default()
    }
}

#[test]
fn review_starts_above_the_review_threshold() {
    let tx = priced(50.0, "credit_card");
    let none = FraudContext::default();
    let at = single_rule(0.5).assess(&tx, &none);
    assert_eq!(
        (at.score, at.risk_level, at.review),
        (0.5, RiskLevel::Medium, false)
    );
    let above = single_rule(0.500001).assess(&tx, &none);
    assert!(above.review);
    let medium_edge = single_rule(0.4).assess(&tx, &none);
    assert_eq!(medium_edge.risk_level, RiskLevel::Low);
    let high_edge = single_rule(0.7).assess(&tx, &none);
    assert_eq!(high_edge.risk_level, RiskLevel::Medium);
}

#[test]
fn scores_add_up_are_rounded_and_capped_at_one() {
    let tx = priced(50.0, "credit_card");
    let none = FraudContext::default();
    let rule = |name: &str, weight| FraudRule {
        name: name.into(),
        weight,
        condition: FraudCondition::AmountAbove { amount: 1.0 },
    };
    let tenths = FraudRules {
        rules: vec![rule("a", 0.1), rule("b", 0.2)],
        ..FraudRules::default()
    };
    assert_eq!(tenths.assess(&tx, &none).score, 0.3);
    let heavy = FraudRules {
        rules: vec![rule("a", 0.8), rule("b", 0.9)],
        ..FraudRules::default()
    };
    let capped = heavy.assess(&tx, &none);
    assert_eq!((capped.score, capped.risk_level), (1.0, RiskLevel::High));
    assert_eq!(capped.matched_rules, vec!["a".into(), "b".into()]);
    let negative = single_rule(-0.3).assess(&tx, &none);
    assert_eq!(negative.score, 0.0);
}

#[test]
fn amount_rules_fire_strictly_above_the_amount() {
    let rules = FraudRules::default();
    let none = FraudContext::default();
    let at_1000 = rules.assess(&priced(1_000.0, "credit_card"), &none);
    assert!(at_1000.matched_rules.is_empty(), "{at_1000:?}");
    let above_1000 = rules.assess(&priced(1_000.01, "credit_card"), &none);
    assert_eq!(above_1000.matched_rules, vec!["amount_over_1000".into()]);
    let at_5000 = rules.assess(&priced(5_000.0, "credit_card"), &none);
    assert_eq!(at_5000.matched_rules, vec!["amount_over_1000".into()]);
    let above_5000 = rules.assess(&priced(5_000.01, "credit_card"), &none);
    assert_eq!(
        above_5000.matched_rules,
        vec!["amount_over_1000".into(), "amount_over_5000".into()]
    );
}

#[test]
fn amount_rules_weigh_the_size_of_a_refund() {
    let refund = clean_with(|t| {
        t.product_price = Some(ProductPrice::Amount(1_200.0));
        t.quantity = Some(1);
        t.action_type = Some("refund".into());
    });
    assert_eq!(refund.total_amount_cents, -120_000);
    let assessment = FraudRules::default().assess(&refund, &FraudContext::default());
    assert_eq!(assessment.matched_rules, vec!["amount_over_1000".into()]);
}

#[test]
fn new_user_large_order_needs_a_first_order_above_the_amount() {
    let rules = FraudRules::default();
    let none = FraudContext::default();
    let first = |amount: f64| {
        clean_with(|t| {
            t.product_price = Some(ProductPrice::Amount(amount));
            t.quantity = Some(1);
            t.is_first_purchase = Some(true);
        })
    };
    let large_first = rules.assess(&first(1_000.01), &none);
    assert_eq!(
        large_first.matched_rules,
        vec!["amount_over_1000".into(), "new_user_large_order".into()]
    );
    assert!(rules
        .assess(&first(1_000.0), &none)
        .matched_rules
        .is_empty());
    assert!(rules.assess(&first(10.0), &none).matched_rules.is_empty());

    let returning = CustomerProfile {
        lifetime_orders: Some(3),
        ..CustomerProfile::default()
    };
    let unknown_history = CustomerProfile::default();
    let new_customer = CustomerProfile {
        lifetime_orders: Some(0),
        ..CustomerProfile::default()
    };
    let with = |profile| FraudContext {
        profile: Some(profile),
        recent_order_times: &[],
    };
    let large = priced(2_000.0, "credit_card");
    for profile in [&returning, &unknown_history] {
        assert_eq!(
            rules.assess(&large, &with(profile)).matched_rules,
            vec!["amount_over_1000".into()]
        );
    }
    assert_eq!(
        rules.assess(&large, &with(&new_customer)).matched_rules,
        vec!["amount_over_1000".into(), "new_user_large_order".into()]
    );
    let small = priced(10.0, "credit_card");
    assert!(rules
        .assess(&small, &with(&new_customer))
        .matched_rules
        .is_empty());
}

#[test]
fn velocity_counts_orders_in_the_window_up_to_this_one() {
    let rules = FraudRules::default();
    let tx = priced(10.0, "credit_card");
    let at = |seconds_before: i64| tx.event_time - chrono::TimeDelta::seconds(seconds_before);
    let fires = |times: &[DateTime<Utc>]| {
        rules
            .assess(
                &tx,
                &FraudContext {
                    profile: None,
                    recent_order_times: times,
                },
            )
            .matched_rules
            == vec![Arc::<str>::from("order_velocity")]
    };
    // Five earlier orders plus this one: six, more than five.
    assert!(fires(&[at(1), at(2), at(3), at(4), at(5)]));
    // Four earlier plus this one: five, not more than five.
    assert!(!fires(&[at(1), at(2), at(3), at(4)]));
    // The window's both ends belong to it: exactly 600 s before and the same instant.
    assert!(fires(&[at(0), at(1), at(2), at(3), at(600)]));
    assert!(!fires(&[at(1), at(2), at(3), at(4), at(601)]));
    // Orders after this one are not "up to this one".
    assert!(!fires(&[at(1), at(2), at(3), at(4), at(-1)]));
    assert!(!fires(&[at(-1), at(-2), at(-3), at(-4), at(-5)]));
}

#[test]
fn country_mismatch_needs_both_countries() {
    let rules = FraudRules::default();
    let tx = priced(10.0, "credit_card");
    let profile = |country: Option<&str>| CustomerProfile {
        country: country.map(String::from),
        ..CustomerProfile::default()
    };
    let matched = |profile: &CustomerProfile, tx: &CleanTransaction| {
        rules
            .assess(
                tx,
                &FraudContext {
                    profile: Some(profile),
                    recent_order_times: &[],
                },
            )
            .matched_rules
    };
    assert_eq!(
        matched(&profile(Some("DE")), &tx),
        vec!["country_mismatch".into()]
    );
    assert!(matched(&profile(Some("BR")), &tx).is_empty());
    assert!(matched(&profile(None), &tx).is_empty());
    let no_country = clean_with(|t| {
        t.product_price = Some(ProductPrice::Amount(10.0));
        t.country_name = None;
    });
    assert!(matched(&profile(Some("DE")), &no_country).is_empty());
}

#[test]
fn payment_methods_match_ignoring_case_only() {
    let rules = FraudRules::default();
    let none = FraudContext::default();
    for method in ["PREPAID", "Gift Card", "prepaid_card"] {
        assert_eq!(
            rules.assess(&priced(10.0, method), &none).matched_rules,
            vec!["prepaid_or_gift_card".into()],
            "{method}"
        );
    }
    for method in ["giftcard", "credit_card", ""] {
        assert!(
            rules
                .assess(&priced(10.0, method), &none)
                .matched_rules
                .is_empty(),
            "{method}"
        );
    }
    let no_method = clean_with(|t| t.payment_method = None);
    assert!(rules.assess(&no_method, &none).matched_rules.is_empty());
}

#[test]
fn alerts_describe_score_rules_and_amount() {
    let mut tx = priced(1_234.0, "gift_card");
    tx.fraud = FraudRules::default().assess(&tx, &FraudContext::default());
    assert_eq!(
        describe(&tx),
        "score 0.50 (amount_over_1000, prepaid_or_gift_card) on 1234.00"
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
