//! Cleaning: turning an accepted record into the typed, normalised row the lake stores.
//!
//! Rules (DESIGN.md, "Records"): prices parsed to exact cents; feedback clamped to 1..5 or
//! null; category trimmed and upper-cased; e-mail and phone normalised (E.164 where possible,
//! else NOT_PROVIDED); null marketing fields become direct / no_campaign / no_coupon;
//! `total_amount = price × quantity`.
//!
//! Sign convention (silver and gold): refunds and returns have a negative `quantity` and so a
//! negative `total_amount`, whichever sign the producer gave the quantity; every other
//! transaction has both positive. A purchase sent with a negative quantity is repaired to its
//! absolute value (`NEGATIVE_PURCHASE_QUANTITY=repair`, the default) and the repair is
//! recorded on the row ([`Repairs`]), or refused (`refuse`) by validation.

use crate::contact::{normalize_email, normalize_phone, NOT_PROVIDED};
use crate::decode::Decoded;
use crate::fraud::FraudAssessment;
use crate::geo::{normalize_country, normalize_place};
use crate::reason::Rejection;
use crate::record::Record;
use crate::record::{ClickstreamEvent, Entity, InventoryEvent, Text, Transaction};
use crate::validate::{is_money_back, validate_record, Facts, ValidationRules};
use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use std::borrow::Cow;

pub const DEFAULT_REFERRAL: &str = "direct";
pub const DEFAULT_CAMPAIGN: &str = "no_campaign";
pub const DEFAULT_COUPON: &str = "no_coupon";

/// A change cleaning made to a value beyond normalising it, recorded on the row so nothing
/// is changed silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Repair {
    /// A purchase arrived with a negative quantity; its absolute value was kept.
    NegativePurchaseQuantity,
}

impl Repair {
    pub const ALL: [Repair; 1] = [Repair::NegativePurchaseQuantity];

    pub fn as_str(self) -> &'static str {
        match self {
            Repair::NegativePurchaseQuantity => "NEGATIVE_PURCHASE_QUANTITY",
        }
    }

    // With one repair kind (discriminant 0) the bit is 1 however it is computed: the mutants
    // `-> 1` and `<<` → `>>` are equivalent until a second kind exists (excluded in
    // .cargo/mutants.toml; remove the exclusion when adding one).
    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// The repairs applied to one row (a small set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Repairs(u8);

impl Repairs {
    pub fn insert(&mut self, repair: Repair) {
        self.0 |= repair.bit();
    }

    pub fn contains(self, repair: Repair) -> bool {
        self.0 & repair.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Repair> {
        Repair::ALL.into_iter().filter(move |r| self.contains(*r))
    }

    /// Comma-separated codes in a fixed order, `""` when none (the silver `repairs` column).
    pub fn codes(self) -> String {
        self.iter()
            .map(Repair::as_str)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// A transaction ready for the silver layer.
#[derive(Debug, Clone, PartialEq)]
pub struct CleanTransaction<'a> {
    pub event_id: Text<'a>,
    pub event_time: DateTime<Utc>,
    pub user_id: Text<'a>,
    pub user_name: Option<Text<'a>>,
    pub user_email: Text<'a>,
    pub user_phone: Text<'a>,
    pub is_first_purchase: bool,
    pub language: Option<Text<'a>>,
    pub currency: Option<Text<'a>>,
    pub city_name: Option<Text<'a>>,
    pub country_name: Option<Text<'a>>,
    pub product_id: i64,
    pub product_name: Option<Text<'a>>,
    pub product_category: Option<Text<'a>>,
    pub product_brand: Option<Text<'a>>,
    pub unit_price_cents: i64,
    /// Signed: negative for refunds and returns, positive otherwise.
    pub quantity: i32,
    /// `unit_price_cents × quantity`: negative for refunds and returns.
    pub total_amount_cents: i64,
    /// What cleaning repaired on this row.
    pub repairs: Repairs,
    pub feedback_score: Option<i32>,
    pub shipping_address: Option<Text<'a>>,
    pub postal_code: Option<Text<'a>>,
    pub device_type: Option<Text<'a>>,
    pub browser: Option<Text<'a>>,
    pub referral_source: Text<'a>,
    pub campaign: Text<'a>,
    pub coupon_code: Text<'a>,
    pub coupon_code_flag: bool,
    pub payment_method: Option<Text<'a>>,
    pub payment_status: Option<Text<'a>>,
    pub transaction_status: Option<Text<'a>>,
    pub action_type: Text<'a>,
    /// Filled by scoring ([`crate::fraud::FraudRules::assess`]); low risk until then.
    pub fraud: FraudAssessment,
    /// Filled by enrichment from the customer profile, when there is one.
    pub customer_segment: Option<String>,
    pub profile_country: Option<Text<'a>>,
}

/// A clickstream event ready for the silver layer.
#[derive(Debug, Clone, PartialEq)]
pub struct CleanClickstream<'a> {
    pub event_id: Text<'a>,
    pub event_type: Text<'a>,
    pub event_time: DateTime<Utc>,
    pub user_id: Text<'a>,
    pub session_id: Option<Text<'a>>,
    pub page_url: Option<Text<'a>>,
    pub product_id: Option<i64>,
    pub search_query: Option<Text<'a>>,
    pub device_type: Option<Text<'a>>,
    pub browser: Option<Text<'a>>,
    pub referral_source: Text<'a>,
    pub country_name: Option<Text<'a>>,
}

/// A stock movement ready for the silver layer.
#[derive(Debug, Clone, PartialEq)]
pub struct CleanInventory<'a> {
    pub event_id: Text<'a>,
    pub action_type: Text<'a>,
    pub event_time: DateTime<Utc>,
    pub product_id: i64,
    pub warehouse_id: Text<'a>,
    pub quantity_change: i64,
    pub stock_level: Option<i64>,
    pub unit_cost_cents: Option<i64>,
    pub reason: Option<Text<'a>>,
}

/// A clean row of any entity.
// Transactions are most of the traffic: boxing them would add an allocation per record.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum CleanRecord<'a> {
    Transaction(CleanTransaction<'a>),
    Clickstream(CleanClickstream<'a>),
    Inventory(CleanInventory<'a>),
}

impl CleanRecord<'_> {
    pub fn entity(&self) -> Entity {
        match self {
            CleanRecord::Transaction(_) => Entity::Transaction,
            CleanRecord::Clickstream(_) => Entity::Clickstream,
            CleanRecord::Inventory(_) => Entity::Inventory,
        }
    }

    pub fn event_id(&self) -> &str {
        match self {
            CleanRecord::Transaction(r) => &r.event_id,
            CleanRecord::Clickstream(r) => &r.event_id,
            CleanRecord::Inventory(r) => &r.event_id,
        }
    }

    pub fn event_time(&self) -> DateTime<Utc> {
        match self {
            CleanRecord::Transaction(r) => r.event_time,
            CleanRecord::Clickstream(r) => r.event_time,
            CleanRecord::Inventory(r) => r.event_time,
        }
    }

    /// The lake partition of the row: event date and hour (UTC).
    pub fn partition(&self) -> (NaiveDate, u32) {
        let time = self.event_time();
        (time.date_naive(), time.hour())
    }
}

/// Validates and, when nothing is wrong, cleans: the one call stream handlers make per record.
pub fn accept<'a>(
    decoded: Decoded<'a>,
    now: DateTime<Utc>,
    rules: &ValidationRules,
) -> Result<CleanRecord<'a>, Vec<Rejection>> {
    let (rejections, facts) = validate_record(&decoded.record, &decoded.problems, now, rules);
    if !rejections.is_empty() {
        return Err(rejections);
    }
    Ok(match decoded.record {
        Record::Transaction(t) => CleanRecord::Transaction(clean_transaction(t, facts)),
        Record::Clickstream(c) => CleanRecord::Clickstream(clean_clickstream(c, facts)),
        Record::Inventory(i) => CleanRecord::Inventory(clean_inventory(i, facts)),
    })
}

/// Applies a text normalisation to a field, keeping the borrow of the payload when the
/// result is (part of) the input, as it usually is.
fn normalized<'a>(
    text: Text<'a>,
    normalize: impl for<'s> FnOnce(&'s str) -> Option<Cow<'s, str>>,
) -> Option<Text<'a>> {
    match text {
        Cow::Borrowed(text) => normalize(text),
        Cow::Owned(text) => {
            let result = normalize(&text)?;
            // Unchanged only if the result is the input itself: a borrowed constant of the
            // same length (`NOT_PROVIDED` for a 12-character phone) is a change.
            let unchanged = matches!(&result, Cow::Borrowed(part)
                if part.as_ptr() == text.as_ptr() && part.len() == text.len());
            if unchanged {
                drop(result);
                Some(Cow::Owned(text))
            } else {
                Some(Cow::Owned(result.into_owned()))
            }
        }
    }
}

/// Without surrounding whitespace.
fn trimmed(value: Option<Text<'_>>) -> Text<'_> {
    value
        .and_then(|v| normalized(v, |v| Some(Cow::Borrowed(v.trim()))))
        .unwrap_or_default()
}

/// Trimmed, whitespace-collapsed, `None` when empty.
fn tidy_str(value: &str) -> Option<Cow<'_, str>> {
    // Most values are already tidy: keep them without copying.
    let tidy = if crate::geo::is_collapsed(value) {
        Cow::Borrowed(value)
    } else {
        Cow::Owned(crate::geo::collapse_whitespace(value))
    };
    (!tidy.is_empty()).then_some(tidy)
}

fn tidy(value: Option<Text<'_>>) -> Option<Text<'_>> {
    value.and_then(|v| normalized(v, tidy_str))
}

fn upper(value: Option<Text<'_>>) -> Option<Text<'_>> {
    value.and_then(|v| normalized(v, upper_str))
}

fn upper_str(value: &str) -> Option<Cow<'_, str>> {
    tidy_str(value).map(crate::contact::uppercase)
}

fn lower(value: Option<Text<'_>>) -> Option<Text<'_>> {
    value.and_then(|v| normalized(v, lower_str))
}

fn lower_str(value: &str) -> Option<Cow<'_, str>> {
    tidy_str(value).map(crate::contact::lowercase)
}

/// Trimmed and lower-cased (an action or event type).
fn code(value: Option<Text<'_>>) -> Text<'_> {
    value
        .and_then(|v| {
            normalized(v, |v| {
                let v = v.trim();
                let code = if v.bytes().any(|b| b.is_ascii_uppercase()) {
                    Cow::Owned(v.to_ascii_lowercase())
                } else {
                    Cow::Borrowed(v)
                };
                (!code.is_empty()).then_some(code)
            })
        })
        .unwrap_or_default()
}

fn or_default<'a>(value: Option<Text<'a>>, default: &'static str) -> Text<'a> {
    tidy(value).unwrap_or(Cow::Borrowed(default))
}

// Validation guarantees the fields unwrapped with defaults below are present; the defaults
// only keep cleaning total if it is ever called on its own.
fn clean_transaction(t: Transaction<'_>, facts: Facts) -> CleanTransaction<'_> {
    let money_back = is_money_back(t.action_type.as_deref(), t.transaction_status.as_deref());
    let given = t.quantity.unwrap_or(1);
    let mut repairs = Repairs::default();
    // `given <= 0` would be the same here: validation has refused a zero quantity before
    // `accept` cleans (an equivalent mutant, excluded in .cargo/mutants.toml).
    if given < 0 && !money_back {
        repairs.insert(Repair::NegativePurchaseQuantity);
    }
    let magnitude = given.unsigned_abs().clamp(1, i32::MAX as u64) as i32;
    let quantity = if money_back { -magnitude } else { magnitude };
    let unit_price_cents = facts.price_cents.unwrap_or(0);
    let action_type = code(t.action_type);
    let transaction_status = lower(t.transaction_status);
    let total_amount_cents = unit_price_cents.saturating_mul(i64::from(quantity));
    let coupon_code = tidy(t.coupon_code);
    let country_name = t
        .country_name
        .and_then(|c| normalized(c, normalize_country));
    CleanTransaction {
        event_id: trimmed(t.event_id),
        event_time: facts.event_time.unwrap_or_default(),
        user_id: trimmed(t.user_id),
        user_name: tidy(t.user_name),
        user_email: t
            .user_email
            .and_then(|e| normalized(e, |e| Some(normalize_email(Some(e)))))
            .unwrap_or(Cow::Borrowed(NOT_PROVIDED)),
        user_phone: t
            .user_phone
            .and_then(|p| {
                normalized(p, |p| {
                    Some(normalize_phone(Some(p), country_name.as_deref()))
                })
            })
            .unwrap_or(Cow::Borrowed(NOT_PROVIDED)),
        is_first_purchase: t.is_first_purchase.unwrap_or(false),
        language: tidy(t.language),
        currency: upper(t.currency),
        city_name: t.city_name.and_then(|c| normalized(c, normalize_place)),
        country_name,
        product_id: t.product_id.unwrap_or_default(),
        product_name: tidy(t.product_name),
        product_category: upper(t.product_category),
        product_brand: tidy(t.product_brand),
        unit_price_cents,
        quantity,
        total_amount_cents,
        repairs,
        feedback_score: t.feedback_score.map(|score| score.clamp(1, 5) as i32),
        shipping_address: tidy(t.shipping_address),
        postal_code: upper(t.postal_code),
        device_type: lower(t.device_type),
        browser: tidy(t.browser),
        referral_source: or_default(t.referral_source, DEFAULT_REFERRAL),
        campaign: or_default(t.campaign, DEFAULT_CAMPAIGN),
        coupon_code_flag: coupon_code.is_some(),
        coupon_code: coupon_code.unwrap_or(Cow::Borrowed(DEFAULT_COUPON)),
        payment_method: lower(t.payment_method),
        payment_status: lower(t.payment_status),
        transaction_status,
        action_type,
        fraud: FraudAssessment::default(),
        customer_segment: None,
        profile_country: None,
    }
}

fn clean_clickstream(c: ClickstreamEvent<'_>, facts: Facts) -> CleanClickstream<'_> {
    CleanClickstream {
        event_id: trimmed(c.event_id),
        event_type: code(c.event_type),
        event_time: facts.event_time.unwrap_or_default(),
        user_id: trimmed(c.user_id),
        session_id: tidy(c.session_id),
        page_url: tidy(c.page_url),
        product_id: c.product_id,
        search_query: tidy(c.search_query),
        device_type: lower(c.device_type),
        browser: tidy(c.browser),
        referral_source: or_default(c.referral_source, DEFAULT_REFERRAL),
        country_name: c
            .country_name
            .and_then(|c| normalized(c, normalize_country)),
    }
}

fn clean_inventory(i: InventoryEvent<'_>, facts: Facts) -> CleanInventory<'_> {
    CleanInventory {
        event_id: trimmed(i.event_id),
        action_type: code(i.action_type),
        event_time: facts.event_time.unwrap_or_default(),
        product_id: i.product_id.unwrap_or_default(),
        warehouse_id: tidy(i.warehouse_id).unwrap_or_default(),
        quantity_change: i.quantity_change.unwrap_or_default(),
        stock_level: i.stock_level,
        unit_cost_cents: facts.price_cents,
        reason: tidy(i.reason),
    }
}

/// ITI-compatible derived date fields of a timestamp: (dt_date, year, month, day, hour).
pub fn date_parts(time: DateTime<Utc>) -> (String, i32, i32, i32, i32) {
    let (year, month, day) = (time.year(), time.month(), time.day());
    let dt_date = if (0..=9999).contains(&year) {
        iso_date(year as u32, month, day)
    } else {
        time.format("%Y-%m-%d").to_string()
    };
    (dt_date, year, month as i32, day as i32, time.hour() as i32)
}

/// `YYYY-MM-DD`, as chrono's `%Y-%m-%d` writes it, without the formatting machinery (this runs
/// once per row).
fn iso_date(year: u32, month: u32, day: u32) -> String {
    let digit = |n: u32| char::from(b'0' + (n % 10) as u8);
    [
        digit(year / 1000),
        digit(year / 100),
        digit(year / 10),
        digit(year),
        '-',
        digit(month / 10),
        digit(month),
        '-',
        digit(day / 10),
        digit(day),
    ]
    .iter()
    .collect()
}

#[cfg(test)]
mod tests;
