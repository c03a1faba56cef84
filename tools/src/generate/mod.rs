//! `shopstream generate`: realistic e-commerce traffic, seeded and reproducible.
//!
//! Transactions in the ITI `Transaction` shape (all 36 fields), clickstream and inventory
//! events, from a stable population of users (one profile per id) and a stable product
//! catalogue (one name, brand, category and price per id), with seasonal and hourly rhythm,
//! the ITI status mix, realistic marketing null rates, and configurable anomalies.

pub mod anomaly;
mod catalog;
mod line;
mod output;
mod people;
mod timeline;
pub mod world;

pub use output::{generate, OutputFormat};

use anomaly::AnomalyRates;
use catalog::{Catalog, Product};
use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc};
use line::{push_cents, Line};
use people::{push_postal_code, Population, Profile};
use shopstream::geo::{find_country, Country};
use shopstream::reason::RejectReason;
use shopstream::record::Entity;
use std::collections::BTreeMap;
use timeline::{TimeParts, Timeline};
use world::{
    BROWSERS, CAMPAIGNS, CATEGORIES, COUNTRY_PROFILES, COUPONS, PAYMENT_METHODS,
    PREFERENCE_PROFILES, REFERRALS,
};

use crate::rng::{Rng, Weighted};

/// What to generate.
#[derive(Debug, Clone)]
pub struct GeneratorConfig {
    pub seed: u64,
    pub events: u64,
    pub users: u64,
    pub products: u64,
    pub start: DateTime<Utc>,
    /// Length of the period the events are spread over, in hours.
    pub span_hours: u32,
    /// Relative weights of transactions, clickstream and inventory events.
    pub mix: [(Entity, u64); 3],
    pub anomalies: AnomalyRates,
    /// Fraction of valid transactions (0..1) seeded as fraud: a completed purchase of more
    /// than 5,000 paid by gift card, which the default rules score 0.7 (review above 0.5)
    /// whatever the profile or the user's history. Their ids are kept
    /// ([`Generator::seeded_fraud_ids`]) so a run can check that each one raised an alert.
    pub fraud_rate: f64,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            seed: 42,
            events: 100_000,
            users: 350_000,
            products: 50_000,
            start: Utc
                .with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
                .single()
                .unwrap_or_default(),
            span_hours: 365 * 24,
            mix: [
                (Entity::Transaction, 80),
                (Entity::Clickstream, 15),
                (Entity::Inventory, 5),
            ],
            anomalies: AnomalyRates::default(),
            fraud_rate: 0.0,
        }
    }
}

/// Counts of what was generated, for the run summary and tests.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct GeneratedCounts {
    pub events: u64,
    pub by_entity: BTreeMap<Entity, u64>,
    pub anomalies: BTreeMap<RejectReason, u64>,
    /// Transactions seeded as fraud (`GeneratorConfig::fraud_rate`).
    pub seeded_fraud: u64,
}

/// Added to a seeded fraud transaction's price: with quantity 1 its total passes 5,000.
const SEEDED_FRAUD_EXTRA_CENTS: i64 = 500_001;

/// The (transaction action, payment status, transaction status) mix of the ITI generator.
const STATUS_MIX: [((&str, &str, &str), u64); 6] = [
    (("purchase", "success", "completed"), 70),
    (("purchase", "pending", "pending"), 10),
    (("purchase", "failed", "failed"), 5),
    (("purchase", "cancelled", "cancelled"), 5),
    (("refund", "refunded", "refunded"), 5),
    (("return", "refunded", "returned"), 5),
];

const CLICK_TYPES: [(&str, u64); 4] = [
    ("page_view", 60),
    ("search", 20),
    ("add_to_cart", 15),
    ("login", 5),
];
const INVENTORY_ACTIONS: [(&str, u64); 3] = [("sale", 70), ("restock", 20), ("adjustment", 10)];

pub struct Generator {
    config: GeneratorConfig,
    rng: Rng,
    timeline: Timeline,
    population: Population,
    catalog: Catalog,
    countries: Vec<&'static Country>,
    entity_weights: Weighted,
    category_weights: Vec<Weighted>,
    status_weights: Weighted,
    click_weights: Weighted,
    inventory_weights: Weighted,
    browsers: Weighted,
    payments: Weighted,
    referrals: Weighted,
    campaigns: Weighted,
    coupons: Weighted,
    feedback_weights: Weighted,
    /// Case variants of each category name (as sent, lower, upper): the ITI data's
    /// inconsistencies that cleaning must fix.
    category_spellings: Vec<[String; 3]>,
    /// One bit per user: has this user bought before?
    purchased: Vec<u64>,
    /// Reused for values assembled before they are written (postal codes, price texts), so
    /// no event allocates.
    scratch: Vec<u8>,
    last_event_id: [u8; 36],
    seeded_fraud_ids: Vec<[u8; 36]>,
    counts: GeneratedCounts,
}

impl Generator {
    pub fn new(config: GeneratorConfig) -> Self {
        let weights =
            |items: &[(&str, u32)]| Weighted::new(items.iter().map(|(_, w)| u64::from(*w)));
        let countries = COUNTRY_PROFILES
            .iter()
            .map(|profile| find_country(profile.iso2).unwrap_or(&shopstream::geo::COUNTRIES[0]))
            .collect();
        Generator {
            rng: Rng::new(config.seed),
            timeline: Timeline::new(config.start, config.span_hours, config.events),
            population: Population::new(config.seed, config.users),
            catalog: Catalog::new(config.seed, config.products),
            countries,
            entity_weights: Weighted::new(config.mix.iter().map(|(_, w)| *w)),
            category_weights: PREFERENCE_PROFILES
                .iter()
                .map(|p| Weighted::new(p.iter().map(|w| u64::from(*w))))
                .collect(),
            status_weights: Weighted::new(STATUS_MIX.iter().map(|(_, w)| *w)),
            click_weights: Weighted::new(CLICK_TYPES.iter().map(|(_, w)| *w)),
            inventory_weights: Weighted::new(INVENTORY_ACTIONS.iter().map(|(_, w)| *w)),
            browsers: weights(BROWSERS),
            payments: weights(PAYMENT_METHODS),
            referrals: weights(REFERRALS),
            campaigns: weights(CAMPAIGNS),
            coupons: weights(COUPONS),
            feedback_weights: Weighted::new([5, 8, 17, 35, 35]),
            category_spellings: CATEGORIES
                .iter()
                .map(|c| {
                    [
                        c.name.to_owned(),
                        c.name.to_lowercase(),
                        c.name.to_uppercase(),
                    ]
                })
                .collect(),
            purchased: vec![0; (config.users as usize).div_ceil(64)],
            scratch: Vec::with_capacity(64),
            last_event_id: [b'0'; 36],
            seeded_fraud_ids: Vec::new(),
            counts: GeneratedCounts::default(),
            config,
        }
    }

    pub fn counts(&self) -> &GeneratedCounts {
        &self.counts
    }

    /// The `event_id`s of the transactions seeded as fraud so far, in generation order.
    pub fn seeded_fraud_ids(&self) -> impl Iterator<Item = &str> {
        self.seeded_fraud_ids
            .iter()
            .map(|id| std::str::from_utf8(id).unwrap_or_default())
    }

    /// Appends the next event as one JSON line; `None` when all events were generated.
    pub fn write_next(&mut self, out: &mut Vec<u8>) -> Option<Entity> {
        if self.counts.events >= self.config.events {
            return None;
        }
        let time = self.timeline.next(&mut self.rng);
        let entity = self.config.mix[self.entity_weights.pick(&mut self.rng)].0;
        match entity {
            Entity::Transaction => self.write_transaction(out, time),
            Entity::Clickstream => self.write_clickstream(out, time),
            Entity::Inventory => self.write_inventory(out, time),
        }
        self.counts.events += 1;
        *self.counts.by_entity.entry(entity).or_default() += 1;
        Some(entity)
    }

    fn next_event_id(&mut self) -> [u8; 36] {
        let (hi, lo) = (self.rng.next_u64(), self.rng.next_u64());
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&hi.to_be_bytes());
        bytes[8..].copy_from_slice(&lo.to_be_bytes());
        bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
        bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = [b'-'; 36];
        let mut at = 0;
        for (i, byte) in bytes.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                at += 1;
            }
            text[at] = HEX[usize::from(byte >> 4)];
            text[at + 1] = HEX[usize::from(byte & 0xf)];
            at += 2;
        }
        text
    }

    fn user(&mut self) -> Profile {
        let index = self.rng.below(self.population.size());
        self.population.profile(index)
    }

    fn write_transaction(&mut self, out: &mut Vec<u8>, time: DateTime<Utc>) {
        let anomaly = self.config.anomalies.draw(self.rng.unit());
        if let Some(reason) = anomaly {
            *self.counts.anomalies.entry(reason).or_default() += 1;
        }
        // Drawn only when seeding is on, so the traffic of a seed is unchanged without it.
        let seeded_fraud = anomaly.is_none()
            && self.config.fraud_rate > 0.0
            && self.rng.chance(self.config.fraud_rate);
        let mut event_id = self.next_event_id();
        if anomaly == Some(RejectReason::DuplicateEvent) {
            event_id = self.last_event_id;
        }
        self.last_event_id = event_id;
        if seeded_fraud {
            self.counts.seeded_fraud += 1;
            self.seeded_fraud_ids.push(event_id);
        }
        let user = self.user();
        let country = self.countries[user.country_index];
        let category = self.category_weights[user.country.preferences].pick(&mut self.rng);
        let product = self.catalog.pick(category, &mut self.rng);
        let ((mut action, payment_status, transaction_status), _) = if seeded_fraud {
            STATUS_MIX[0]
        } else {
            STATUS_MIX[self.status_weights.pick(&mut self.rng)]
        };
        if anomaly == Some(RejectReason::MissingShippingForPurchase) {
            action = "purchase";
        }
        let first_purchase = self.mark_purchase(user.index);
        let event_id_text = std::str::from_utf8(&event_id).unwrap_or_default();

        let mut line = Line::open(out);
        match anomaly {
            Some(RejectReason::MissingEventId) => line.str("event_id", ""),
            _ => line.str("event_id", event_id_text),
        }
        if anomaly == Some(RejectReason::DecodeError) {
            // A producer that died mid-record: the line is cut off.
            line.raw("quantity", b"");
            out.push(b'\n');
            return;
        }
        let quantity = if anomaly == Some(RejectReason::BadQuantity) {
            // Zero, or beyond MAX_QUANTITY: a negative purchase is repaired, not refused.
            match self.rng.below(2) {
                0 => 0,
                _ => 1_001 + self.rng.below(100) as i64,
            }
        } else if seeded_fraud {
            1
        } else {
            1 + self.rng.below(5) as i64
        };
        line.int("quantity", quantity);
        line.null("total_amount");
        line.opt_int("feedback_score", self.feedback());
        match anomaly {
            Some(RejectReason::NullUserId) => line.null("user_id"),
            Some(RejectReason::SystemRecord) => line.str("user_id", "SYSTEM_HEALTHCHECK"),
            Some(RejectReason::SchemaMismatch) => line.int("user_id", user.index as i64),
            _ => line.str("user_id", UserId::new(user.index).as_str()),
        }
        let first = world::FIRST_NAMES[user.first_name];
        let last = world::LAST_NAMES[user.last_name];
        line.str_parts("user_name", &[first, " ", last]);
        let mut number = itoa::Buffer::new();
        line.str_parts(
            "user_email",
            &[
                self.population.first_name_ascii(&user),
                ".",
                self.population.last_name_ascii(&user),
                number.format(user.email_number),
                "@",
                user.email_domain,
            ],
        );
        if user.malformed_phone {
            line.str("user_phone", "555-CALL-NOW");
        } else {
            let mut phone = itoa::Buffer::new();
            line.str_parts(
                "user_phone",
                &[
                    "+",
                    country.calling_code,
                    " ",
                    phone.format(user.phone_number),
                ],
            );
        }
        line.bool("is_first_purchase", first_purchase);
        line.str("language", user.country.language);
        line.str("currency", country.currency);
        line.str("city_name", user.city);
        line.str("country_name", country.name);
        line.int("product_id", product.id as i64);
        let mut model = itoa::Buffer::new();
        line.str_parts(
            "product_name",
            &[
                product.brand,
                " ",
                product.noun,
                " ",
                model.format(product.model),
            ],
        );
        let spelling = if self.rng.chance(0.1) {
            1 + self.rng.below(2) as usize
        } else {
            0
        };
        line.str(
            "product_category",
            &self.category_spellings[category][spelling],
        );
        line.str("product_brand", product.brand);
        if seeded_fraud {
            line.cents(
                "product_price",
                SEEDED_FRAUD_EXTRA_CENTS + product.price_cents as i64,
            );
        } else {
            self.write_price(&mut line, &product, country.currency, anomaly);
        }
        if anomaly == Some(RejectReason::MissingShippingForPurchase) {
            line.null("shipping_address");
        } else {
            let (street, house, _) =
                user.addresses[self.rng.below(user.address_count as u64) as usize];
            let mut house_number = itoa::Buffer::new();
            line.str_parts(
                "shipping_address",
                &[
                    house_number.format(house),
                    " ",
                    user.country.streets[street],
                    ", ",
                    user.city,
                ],
            );
        }
        let (_, _, postal_seed) = user.addresses[0];
        self.scratch.clear();
        push_postal_code(&mut self.scratch, user.country.postal_format, postal_seed);
        line.str(
            "postal_code",
            std::str::from_utf8(&self.scratch).unwrap_or_default(),
        );
        line.str("device_type", user.device);
        line.str("browser", BROWSERS[self.browsers.pick(&mut self.rng)].0);
        let referral =
            (!self.rng.chance(0.15)).then(|| REFERRALS[self.referrals.pick(&mut self.rng)].0);
        line.opt_str("referral_source", referral);
        let campaign =
            (!self.rng.chance(0.15)).then(|| CAMPAIGNS[self.campaigns.pick(&mut self.rng)].0);
        line.opt_str("campaign", campaign);
        let coupon = (!self.rng.chance(0.15)).then(|| COUPONS[self.coupons.pick(&mut self.rng)].0);
        line.opt_str("coupon_code", coupon);
        line.opt_bool("coupon_code_flag", Some(coupon.is_some()));
        let payment_method = if seeded_fraud {
            "gift_card"
        } else {
            PAYMENT_METHODS[self.payments.pick(&mut self.rng)].0
        };
        line.str("payment_method", payment_method);
        line.str("payment_status", payment_status);
        line.str("transaction_status", transaction_status);
        line.str(
            "action_type",
            if anomaly == Some(RejectReason::UnknownEventType) {
                "teleport"
            } else {
                action
            },
        );
        let shown_time = if anomaly == Some(RejectReason::FutureTimestamp) {
            Utc.with_ymd_and_hms(2099, time.month(), time.day().min(28), time.hour(), 0, 0)
                .single()
                .unwrap_or(time)
        } else {
            time
        };
        let parts = TimeParts::of(shown_time);
        match anomaly {
            Some(RejectReason::NullTimestamp) => line.null("event_timestamp"),
            Some(RejectReason::BadTimestamp) => line.str("event_timestamp", "31/12/2025 25:61"),
            _ => line.timestamp_parts("event_timestamp", &parts),
        }
        line.date_parts("dt_date", &parts);
        line.int("year", i64::from(parts.year));
        line.int("month", i64::from(parts.month));
        line.int("day", i64::from(parts.day));
        line.int("hour", i64::from(parts.hour));
        line.close();
    }

    /// ~5 % of prices arrive as strings with a currency symbol, as in the ITI data.
    fn write_price(
        &mut self,
        line: &mut Line<'_>,
        product: &Product,
        currency: &str,
        anomaly: Option<RejectReason>,
    ) {
        let cents = product.price_cents as i64;
        if anomaly == Some(RejectReason::BadPrice) {
            if self.rng.chance(0.5) {
                line.cents("product_price", -cents);
            } else {
                line.str("product_price", "N/A");
            }
            return;
        }
        if self.rng.chance(0.05) {
            self.scratch.clear();
            self.scratch
                .extend_from_slice(currency_symbol(currency).as_bytes());
            push_grouped_cents(&mut self.scratch, cents);
            line.str(
                "product_price",
                std::str::from_utf8(&self.scratch).unwrap_or_default(),
            );
        } else {
            line.cents("product_price", cents);
        }
    }

    /// ~10 % null, ~5 % out of range, the rest skewed towards 4 and 5.
    fn feedback(&mut self) -> Option<i64> {
        let u = self.rng.unit();
        if u < 0.10 {
            None
        } else if u < 0.15 {
            Some(*self.rng.pick(&[0, 6, 7, 10]))
        } else {
            Some(1 + self.feedback_weights.pick(&mut self.rng) as i64)
        }
    }

    /// Records a purchase by the user; true the first time.
    fn mark_purchase(&mut self, user: u64) -> bool {
        let (word, bit) = ((user / 64) as usize, user % 64);
        let Some(slot) = self.purchased.get_mut(word) else {
            return false;
        };
        let first = *slot & (1 << bit) == 0;
        *slot |= 1 << bit;
        first
    }

    fn write_clickstream(&mut self, out: &mut Vec<u8>, time: DateTime<Utc>) {
        let event_id = self.next_event_id();
        let user = self.user();
        let country = self.countries[user.country_index];
        let event_type = CLICK_TYPES[self.click_weights.pick(&mut self.rng)].0;
        let category = self.category_weights[user.country.preferences].pick(&mut self.rng);
        let product = self.catalog.pick(category, &mut self.rng);
        let mut line = Line::open(out);
        line.str(
            "event_id",
            std::str::from_utf8(&event_id).unwrap_or_default(),
        );
        line.str("event_type", event_type);
        line.str("user_id", UserId::new(user.index).as_str());
        let mut session = itoa::Buffer::new();
        let session_key = user.index.wrapping_mul(31) ^ (time.timestamp() as u64 / 1800);
        line.str_parts(
            "session_id",
            &["sess_", session.format(session_key % 100_000_000)],
        );
        line.timestamp("event_timestamp", time);
        let mut id = itoa::Buffer::new();
        let id_text = id.format(product.id);
        match event_type {
            "search" => line.str_parts("page_url", &["/search?q=", product.noun]),
            "login" => line.str("page_url", "/account/login"),
            _ => line.str_parts("page_url", &["/product/", id_text]),
        }
        let with_product = matches!(event_type, "page_view" | "add_to_cart");
        line.opt_int("product_id", with_product.then_some(product.id as i64));
        line.opt_str(
            "search_query",
            (event_type == "search").then_some(product.noun),
        );
        line.str("device_type", user.device);
        line.str("browser", BROWSERS[self.browsers.pick(&mut self.rng)].0);
        let referral =
            (!self.rng.chance(0.15)).then(|| REFERRALS[self.referrals.pick(&mut self.rng)].0);
        line.opt_str("referral_source", referral);
        line.str("country_name", country.name);
        line.close();
    }

    fn write_inventory(&mut self, out: &mut Vec<u8>, time: DateTime<Utc>) {
        let event_id = self.next_event_id();
        let action = INVENTORY_ACTIONS[self.inventory_weights.pick(&mut self.rng)].0;
        let category = self.rng.below(CATEGORIES.len() as u64) as usize;
        let product = self.catalog.pick(category, &mut self.rng);
        let warehouse = &COUNTRY_PROFILES[self.rng.below(6) as usize];
        let change = match action {
            "sale" => -1 - self.rng.below(5) as i64,
            "restock" => 50 + self.rng.below(451) as i64,
            _ => {
                let magnitude = 1 + self.rng.below(10) as i64;
                if self.rng.chance(0.5) {
                    magnitude
                } else {
                    -magnitude
                }
            }
        };
        let mut line = Line::open(out);
        line.str(
            "event_id",
            std::str::from_utf8(&event_id).unwrap_or_default(),
        );
        line.str("action_type", action);
        line.int("product_id", product.id as i64);
        let mut n = itoa::Buffer::new();
        line.str_parts(
            "warehouse_id",
            &["WH-", warehouse.iso2, "-", n.format(1 + self.rng.below(3))],
        );
        line.int("quantity_change", change);
        line.int("stock_level", self.rng.below(2_000) as i64);
        line.cents("unit_cost", (product.price_cents as i64 * 6) / 10);
        line.timestamp("event_timestamp", time);
        line.opt_str("reason", (action == "adjustment").then_some("stock count"));
        line.close();
    }
}

/// The stable user population of a configuration (profiles by user index).
pub fn population(config: &GeneratorConfig) -> Population {
    Population::new(config.seed, config.users)
}

/// `user_0000042`: the id of user number 42.
pub fn user_id(index: u64) -> String {
    UserId::new(index).as_str().to_owned()
}

/// A user id written into a stack buffer (the generator writes one per event).
pub struct UserId {
    text: [u8; 25],
    len: usize,
}

impl UserId {
    /// `user_` and the index, zero-padded to at least 7 digits.
    pub fn new(index: u64) -> Self {
        let mut text = [b'0'; 25];
        text[..5].copy_from_slice(b"user_");
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(index).as_bytes();
        let width = digits.len().max(7);
        text[5 + width - digits.len()..5 + width].copy_from_slice(digits);
        UserId {
            text,
            len: 5 + width,
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII was written.
        std::str::from_utf8(&self.text[..self.len]).unwrap_or_default()
    }
}

fn currency_symbol(currency: &str) -> &'static str {
    match currency {
        "USD" | "CAD" | "AUD" | "NZD" | "SGD" | "MXN" | "ARS" | "CLP" | "COP" => "$",
        "EUR" => "€",
        "GBP" => "£",
        "JPY" | "CNY" => "¥",
        "INR" => "₹",
        "BRL" => "R$ ",
        "KRW" => "₩",
        "TRY" => "₺",
        _ => "",
    }
}

/// `1299.99` as `1,299.99`.
fn push_grouped_cents(out: &mut Vec<u8>, cents: i64) {
    let mut plain = Vec::with_capacity(16);
    push_cents(&mut plain, cents);
    let dot = plain.iter().position(|b| *b == b'.').unwrap_or(plain.len());
    for (i, b) in plain[..dot].iter().enumerate() {
        if i > 0 && (dot - i) % 3 == 0 {
            out.push(b',');
        }
        out.push(*b);
    }
    out.extend_from_slice(&plain[dot..]);
}

#[cfg(test)]
mod tests;
