//! Fraud scoring as data: a list of weighted rules, each a condition on the transaction and
//! its context (customer profile, the user's recent orders). Scores add up and are capped at 1.
//!
//! The default rules are DESIGN.md's; production overrides them with `FRAUD_RULES_JSON`.

use crate::clean::CleanTransaction;
use crate::money::format_cents;
use crate::profile::CustomerProfile;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RiskLevel {
    #[default]
    Low,
    Medium,
    High,
}

impl RiskLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::Low => "LOW",
            RiskLevel::Medium => "MEDIUM",
            RiskLevel::High => "HIGH",
        }
    }
}

/// When a rule fires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "when", rename_all = "snake_case")]
pub enum FraudCondition {
    /// |total amount| above `amount` (currency units).
    AmountAbove { amount: f64 },
    /// Payment method (case-insensitive) is one of `methods`.
    PaymentMethodIn { methods: Vec<String> },
    /// A first purchase (flag, or a profile with no previous orders) above `amount`.
    NewUserLargeOrder { amount: f64 },
    /// More than `orders` orders by the user within `window_seconds` up to this one.
    Velocity { orders: u32, window_seconds: u32 },
    /// The order's country differs from the country on the customer profile.
    CountryMismatch,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FraudRule {
    /// Shared, so naming the rule on every transaction it fires for copies no text.
    pub name: Arc<str>,
    pub weight: f64,
    #[serde(flatten)]
    pub condition: FraudCondition,
}

/// The rule set and the thresholds that turn a score into a risk level and a review flag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FraudRules {
    pub rules: Vec<FraudRule>,
    #[serde(default = "default_high_above")]
    pub high_above: f64,
    #[serde(default = "default_medium_above")]
    pub medium_above: f64,
    #[serde(default = "default_review_above")]
    pub review_above: f64,
}

fn default_high_above() -> f64 {
    0.7
}
fn default_medium_above() -> f64 {
    0.4
}
fn default_review_above() -> f64 {
    0.5
}

impl Default for FraudRules {
    fn default() -> Self {
        let rule = |name: &str, weight: f64, condition| FraudRule {
            name: name.into(),
            weight,
            condition,
        };
        FraudRules {
            rules: vec![
                rule(
                    "amount_over_1000",
                    0.3,
                    FraudCondition::AmountAbove { amount: 1_000.0 },
                ),
                rule(
                    "amount_over_5000",
                    0.2,
                    FraudCondition::AmountAbove { amount: 5_000.0 },
                ),
                rule(
                    "prepaid_or_gift_card",
                    0.2,
                    FraudCondition::PaymentMethodIn {
                        methods: [
                            "prepaid_card",
                            "prepaid",
                            "gift_card",
                            "gift card",
                            "prepaid card",
                        ]
                        .map(String::from)
                        .to_vec(),
                    },
                ),
                // Alone with a large amount it stays below review: first orders are common.
                rule(
                    "new_user_large_order",
                    0.2,
                    FraudCondition::NewUserLargeOrder { amount: 1_000.0 },
                ),
                rule(
                    "order_velocity",
                    0.25,
                    FraudCondition::Velocity {
                        orders: 5,
                        window_seconds: 600,
                    },
                ),
                rule("country_mismatch", 0.2, FraudCondition::CountryMismatch),
            ],
            high_above: default_high_above(),
            medium_above: default_medium_above(),
            review_above: default_review_above(),
        }
    }
}

/// What scoring knows beyond the transaction itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct FraudContext<'a> {
    pub profile: Option<&'a CustomerProfile>,
    /// Times of this user's other orders the caller knows about (in the batch, recent history).
    pub recent_order_times: &'a [DateTime<Utc>],
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FraudAssessment {
    pub score: f64,
    pub risk_level: RiskLevel,
    pub review: bool,
    /// Names of the rules that fired, in rule order.
    pub matched_rules: Vec<Arc<str>>,
}

impl FraudRules {
    /// Parses a rule set from JSON (the `FRAUD_RULES_JSON` format).
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    pub fn assess(&self, tx: &CleanTransaction, context: &FraudContext<'_>) -> FraudAssessment {
        let mut score = 0.0;
        let mut matched_rules = Vec::new();
        for rule in &self.rules {
            if condition_holds(&rule.condition, tx, context) {
                score += rule.weight;
                matched_rules.push(rule.name.clone());
            }
        }
        let score = round_score(score.clamp(0.0, 1.0));
        FraudAssessment {
            score,
            risk_level: self.risk_level(score),
            review: score > self.review_above,
            matched_rules,
        }
    }

    pub fn risk_level(&self, score: f64) -> RiskLevel {
        if score > self.high_above {
            RiskLevel::High
        } else if score > self.medium_above {
            RiskLevel::Medium
        } else {
            RiskLevel::Low
        }
    }
}

/// Weights like 0.1 + 0.2 should compare as 0.3: keep six decimals.
fn round_score(score: f64) -> f64 {
    (score * 1_000_000.0).round() / 1_000_000.0
}

fn amount_exceeds(cents: i64, amount: f64) -> bool {
    (cents.unsigned_abs() as f64) > amount * 100.0
}

fn condition_holds(
    condition: &FraudCondition,
    tx: &CleanTransaction,
    context: &FraudContext<'_>,
) -> bool {
    match condition {
        FraudCondition::AmountAbove { amount } => amount_exceeds(tx.total_amount_cents, *amount),
        FraudCondition::PaymentMethodIn { methods } => tx
            .payment_method
            .as_deref()
            .is_some_and(|method| methods.iter().any(|m| m.eq_ignore_ascii_case(method))),
        FraudCondition::NewUserLargeOrder { amount } => {
            let first_order = tx.is_first_purchase
                || context
                    .profile
                    .is_some_and(|p| p.lifetime_orders == Some(0));
            first_order && amount_exceeds(tx.total_amount_cents, *amount)
        }
        FraudCondition::Velocity {
            orders,
            window_seconds,
        } => {
            let window_start = tx.event_time - TimeDelta::seconds(i64::from(*window_seconds));
            let earlier = context
                .recent_order_times
                .iter()
                .filter(|t| **t >= window_start && **t <= tx.event_time)
                .count();
            // This order plus the earlier ones in the window.
            earlier + 1 > *orders as usize
        }
        FraudCondition::CountryMismatch => match (
            context.profile.and_then(|p| p.country.as_deref()),
            tx.country_name.as_deref(),
        ) {
            (Some(profile_country), Some(order_country)) => {
                crate::geo::normalize_country(profile_country).as_deref() != Some(order_country)
            }
            _ => false,
        },
    }
}

/// Human summary for alerts: "score 0.70 (amount_over_1000, prepaid_or_gift_card) on 1234.00".
pub fn describe(tx: &CleanTransaction) -> String {
    format!(
        "score {:.2} ({}) on {}",
        tx.fraud.score,
        tx.fraud.matched_rules.join(", "),
        format_cents(tx.total_amount_cents)
    )
}

#[cfg(test)]
mod tests;
