use super::*;
use shopstream::clean::{accept, CleanRecord};
use shopstream::decode::decode_json;
use shopstream::validate::ValidationRules;
use std::collections::{HashMap, HashSet};

fn generate_lines(config: GeneratorConfig) -> (Vec<u8>, GeneratedCounts) {
    let mut generator = Generator::new(config);
    let mut out = Vec::new();
    while generator.write_next(&mut out).is_some() {}
    (out, generator.counts().clone())
}

fn config(events: u64) -> GeneratorConfig {
    GeneratorConfig {
        events,
        ..GeneratorConfig::default()
    }
}

fn values(bytes: &[u8]) -> Vec<serde_json::Value> {
    bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect()
}

fn share(count: usize, total: usize) -> f64 {
    count as f64 / total as f64
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let (a, _) = generate_lines(config(2_000));
    let (b, _) = generate_lines(config(2_000));
    assert_eq!(a, b);
    let (c, _) = generate_lines(GeneratorConfig {
        seed: 43,
        ..config(2_000)
    });
    assert_ne!(a, c);
}

#[test]
fn entity_status_and_marketing_shares_follow_the_configured_weights() {
    let (bytes, counts) = generate_lines(GeneratorConfig {
        anomalies: AnomalyRates::none(),
        ..config(60_000)
    });
    assert_eq!(counts.events, 60_000);
    let total = 60_000.0;
    let expected = [
        (Entity::Transaction, 0.80),
        (Entity::Clickstream, 0.15),
        (Entity::Inventory, 0.05),
    ];
    for (entity, share) in expected {
        let got = counts.by_entity[&entity] as f64 / total;
        assert!((got - share).abs() < 0.01, "{entity}: {got}");
    }
    let records = values(&bytes);
    let transactions: Vec<_> = records
        .iter()
        .filter(|v| v.get("payment_status").is_some())
        .collect();
    let n = transactions.len();
    let status = |s: &str| {
        share(
            transactions
                .iter()
                .filter(|v| v["transaction_status"] == s)
                .count(),
            n,
        )
    };
    for (s, expected) in [
        ("completed", 0.70),
        ("pending", 0.10),
        ("failed", 0.05),
        ("cancelled", 0.05),
        ("refunded", 0.05),
        ("returned", 0.05),
    ] {
        assert!((status(s) - expected).abs() < 0.01, "{s}: {}", status(s));
    }
    for field in ["referral_source", "campaign", "coupon_code"] {
        let nulls = share(
            transactions.iter().filter(|v| v[field].is_null()).count(),
            n,
        );
        assert!((nulls - 0.15).abs() < 0.01, "{field} null share {nulls}");
    }
    let string_prices = share(
        transactions
            .iter()
            .filter(|v| v["product_price"].is_string())
            .count(),
        n,
    );
    assert!((string_prices - 0.05).abs() < 0.005, "{string_prices}");
    let feedback_nulls = share(
        transactions
            .iter()
            .filter(|v| v["feedback_score"].is_null())
            .count(),
        n,
    );
    assert!((feedback_nulls - 0.10).abs() < 0.01, "{feedback_nulls}");
}

#[test]
fn countries_follow_traffic_weights_and_seasons_peak_in_december_and_at_20h() {
    let (bytes, _) = generate_lines(GeneratorConfig {
        anomalies: AnomalyRates::none(),
        mix: [
            (Entity::Transaction, 1),
            (Entity::Clickstream, 0),
            (Entity::Inventory, 0),
        ],
        ..config(80_000)
    });
    let records = values(&bytes);
    let n = records.len();
    let total_traffic: u32 = COUNTRY_PROFILES.iter().map(|c| c.traffic).sum();
    let us = share(
        records
            .iter()
            .filter(|v| v["country_name"] == "United States")
            .count(),
        n,
    );
    let expected_us = f64::from(COUNTRY_PROFILES[0].traffic) / f64::from(total_traffic);
    assert!(
        (us - expected_us).abs() < 0.01,
        "US share {us} vs {expected_us}"
    );
    let in_month = |m: i64| records.iter().filter(|v| v["month"] == m).count() as f64;
    // Per-day rates, so month lengths do not matter: Dec 1.8x, Nov 1.6x, Jan 0.8x of a plain month.
    let (dec, nov, jan, mar) = (
        in_month(12) / 31.0,
        in_month(11) / 30.0,
        in_month(1) / 31.0,
        in_month(3) / 31.0,
    );
    assert!((dec / mar - 1.8).abs() < 0.1, "dec/mar {}", dec / mar);
    assert!((nov / mar - 1.6).abs() < 0.1, "nov/mar {}", nov / mar);
    assert!((jan / mar - 0.8).abs() < 0.06, "jan/mar {}", jan / mar);
    let by_hour: Vec<usize> = (0..24)
        .map(|h| records.iter().filter(|v| v["hour"] == h).count())
        .collect();
    let peak = (0..24).max_by_key(|h| by_hour[*h]).unwrap();
    assert_eq!(peak, 20, "{by_hour:?}");
}

#[test]
fn products_and_users_are_stable_and_first_purchase_is_correct() {
    let (bytes, _) = generate_lines(GeneratorConfig {
        users: 2_000,
        products: 500,
        anomalies: AnomalyRates::none(),
        ..config(30_000)
    });
    let mut products: HashMap<i64, (String, String, String, String)> = HashMap::new();
    let mut users: HashMap<String, (String, String, String)> = HashMap::new();
    let mut seen_buyers = HashSet::new();
    for v in values(&bytes)
        .iter()
        .filter(|v| v.get("payment_status").is_some())
    {
        let price = shopstream::money::price_to_cents(
            &serde_json::from_value(v["product_price"].clone()).unwrap(),
        )
        .unwrap();
        let product = (
            v["product_name"].as_str().unwrap().to_owned(),
            v["product_brand"].as_str().unwrap().to_owned(),
            v["product_category"].as_str().unwrap().to_uppercase(),
            price.to_string(),
        );
        let id = v["product_id"].as_i64().unwrap();
        assert_eq!(
            products.entry(id).or_insert_with(|| product.clone()),
            &product,
            "product {id}"
        );
        let user_id = v["user_id"].as_str().unwrap().to_owned();
        let profile = (
            v["user_name"].as_str().unwrap().to_owned(),
            v["country_name"].as_str().unwrap().to_owned(),
            v["user_email"].as_str().unwrap().to_owned(),
        );
        assert_eq!(
            users
                .entry(user_id.clone())
                .or_insert_with(|| profile.clone()),
            &profile,
            "user {user_id}"
        );
        assert_eq!(
            v["is_first_purchase"].as_bool().unwrap(),
            seen_buyers.insert(user_id)
        );
    }
    assert!(products.len() > 300);
}

#[test]
fn clean_records_pass_the_core_and_each_anomaly_gives_its_reason() {
    let mut anomalies = AnomalyRates::none();
    for (reason, _) in AnomalyRates::default().rates {
        anomalies.rates.push((reason, 0.02));
    }
    let (bytes, counts) = generate_lines(GeneratorConfig {
        anomalies,
        mix: [
            (Entity::Transaction, 1),
            (Entity::Clickstream, 1),
            (Entity::Inventory, 1),
        ],
        ..config(30_000)
    });
    let now = chrono::Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
    let rules = ValidationRules::default();
    let mut refused: BTreeMap<RejectReason, u64> = BTreeMap::new();
    let mut dedupe = shopstream::dedupe::Deduplicator::new();
    let mut accepted = 0;
    for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let reasons: Vec<RejectReason> = match decode_json(line) {
            Err(rejection) => vec![rejection.reason],
            Ok(decoded) => match accept(decoded, now, &rules) {
                Ok(clean) => match dedupe.admit(clean.event_id()) {
                    Ok(()) => {
                        accepted += 1;
                        assert!(matches!(
                            clean,
                            CleanRecord::Transaction(_)
                                | CleanRecord::Clickstream(_)
                                | CleanRecord::Inventory(_)
                        ));
                        continue;
                    }
                    Err(r) => vec![r.reason],
                },
                Err(rejections) => shopstream::reason::distinct_reasons(&rejections),
            },
        };
        assert_eq!(
            reasons.len(),
            1,
            "one anomaly gives one reason: {reasons:?} in {}",
            String::from_utf8_lossy(line)
        );
        *refused.entry(reasons[0]).or_default() += 1;
    }
    // Every reason was produced and refused as often as it was injected. A duplicate of a record
    // that was itself refused is not a duplicate of anything accepted, hence <=.
    for (reason, injected) in &counts.anomalies {
        let got = refused.get(reason).copied().unwrap_or(0);
        if *reason == RejectReason::DuplicateEvent {
            assert!(got <= *injected && got > 0, "{reason}: {got} of {injected}");
        } else {
            assert_eq!(got, *injected, "{reason}");
        }
    }
    assert_eq!(counts.anomalies.len(), 13);
    assert_eq!(accepted + refused.values().sum::<u64>(), counts.events);
}

#[test]
fn seeded_fraud_is_flagged_by_the_default_rules_without_profile_or_history() {
    let mut generator = Generator::new(GeneratorConfig {
        fraud_rate: 0.02,
        ..config(20_000)
    });
    let mut bytes = Vec::new();
    while generator.write_next(&mut bytes).is_some() {}
    let seeded: HashSet<String> = generator.seeded_fraud_ids().map(str::to_owned).collect();
    let counts = generator.counts();
    assert_eq!(seeded.len() as u64, counts.seeded_fraud);
    // About 2 % of the transactions that carry no anomaly.
    let transactions = counts.by_entity[&Entity::Transaction] as f64;
    let share = counts.seeded_fraud as f64 / transactions;
    assert!((0.015..0.025).contains(&share), "{share}");

    let now = chrono::Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
    let validation = ValidationRules::default();
    let rules = shopstream::fraud::FraudRules::default();
    let mut flagged = HashSet::new();
    for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let Ok(decoded) = decode_json(line) else {
            continue;
        };
        let Ok(CleanRecord::Transaction(tx)) = accept(decoded, now, &validation) else {
            continue;
        };
        let assessment = rules.assess(&tx, &shopstream::fraud::FraudContext::default());
        if seeded.contains(tx.event_id.as_ref()) {
            assert!(
                assessment.review,
                "seeded {} scored {assessment:?}",
                tx.event_id
            );
            flagged.insert(tx.event_id.to_string());
        }
    }
    assert_eq!(
        flagged, seeded,
        "every seeded transaction is valid and flagged"
    );

    // Without seeding, the same seed generates the same traffic as before the option existed.
    let (plain, _) = generate_lines(config(2_000));
    let (zero, _) = generate_lines(GeneratorConfig {
        fraud_rate: 0.0,
        ..config(2_000)
    });
    assert_eq!(plain, zero);
}
