use super::*;
use crate::contact::NOT_PROVIDED;
use crate::decode::decode_json;
use crate::reason::RejectReason;
use crate::record::ProductPrice;
use crate::testdata::{cleaned, iti_transaction, json_of, test_now};
use proptest::prelude::*;

fn clean(t: &Transaction<'static>) -> CleanTransaction<'static> {
    cleaned(t)
}

fn with(change: impl FnOnce(&mut Transaction<'static>)) -> Transaction<'static> {
    let mut t = iti_transaction();
    change(&mut t);
    t
}

#[test]
fn the_sample_is_cleaned_by_every_rule() {
    let c = clean(&iti_transaction());
    assert_eq!(c.unit_price_cents, 19_999);
    assert_eq!(c.total_amount_cents, 39_998);
    assert_eq!(c.product_category.as_deref(), Some("ELECTRONICS"));
    assert_eq!(c.user_email, "ana.silva@example.com");
    assert_eq!(c.user_phone, "+5511912345678");
    assert_eq!(c.city_name.as_deref(), Some("São Paulo"));
    assert_eq!(c.currency.as_deref(), Some("BRL"));
    assert_eq!(c.referral_source, "direct");
    assert_eq!(c.campaign, "black_friday");
    assert_eq!(c.coupon_code, "no_coupon");
    assert!(!c.coupon_code_flag);
    assert_eq!(c.device_type.as_deref(), Some("mobile"));
    assert_eq!(c.event_time.to_rfc3339(), "2024-11-05T07:15:00+00:00");
    assert_eq!(c.feedback_score, Some(4));
}

#[test]
fn price_strings_with_currency_symbols_are_parsed() {
    let c = clean(&with(|t| {
        t.product_price = Some(ProductPrice::Text("R$ 1.299,90".into()))
    }));
    assert_eq!(c.unit_price_cents, 129_990);
    assert_eq!(c.total_amount_cents, 259_980);
}

#[test]
fn refunds_and_returns_keep_their_negative_sign() {
    for (action, status) in [
        ("refund", "refunded"),
        ("return", "returned"),
        ("refund", "completed"),
    ] {
        let c = clean(&with(|t| {
            t.action_type = Some(action.into());
            t.transaction_status = Some(status.into());
        }));
        assert_eq!(c.total_amount_cents, -39_998, "{action}/{status}");
        assert_eq!(c.quantity, -2, "{action}/{status}");
        assert!(c.repairs.is_empty());
    }
    let by_status = clean(&with(|t| t.transaction_status = Some("Refunded".into())));
    assert_eq!(by_status.total_amount_cents, -39_998);
}

#[test]
fn feedback_is_clamped_or_null() {
    for (given, expected) in [
        (Some(9), Some(5)),
        (Some(0), Some(1)),
        (Some(-4), Some(1)),
        (Some(3), Some(3)),
        (None, None),
    ] {
        assert_eq!(
            clean(&with(|t| t.feedback_score = given)).feedback_score,
            expected,
            "{given:?}"
        );
    }
}

#[test]
fn contacts_that_cannot_be_normalised_are_not_provided() {
    let c = clean(&with(|t| {
        t.user_email = Some("not-an-email".into());
        t.user_phone = Some("call me".into());
    }));
    assert_eq!(c.user_email, NOT_PROVIDED);
    assert_eq!(c.user_phone, NOT_PROVIDED);
}

/// Text the decoder had to copy (Avro bodies, parsed values) is owned: an invalid contact of
/// exactly the length of `NOT_PROVIDED` (12 characters) must still become `NOT_PROVIDED`.
#[test]
fn owned_contacts_of_twelve_characters_that_cannot_be_normalised_are_not_provided() {
    let owned = |email: &str, phone: &str| {
        let mut value: serde_json::Value =
            serde_json::from_slice(&json_of(&iti_transaction())).unwrap();
        value["user_email"] = email.into();
        value["user_phone"] = phone.into();
        let decoded = crate::decode::decode_json_value(value).unwrap();
        match accept(
            decoded,
            test_now(),
            &crate::validate::ValidationRules::default(),
        ) {
            Ok(CleanRecord::Transaction(clean)) => clean,
            other => panic!("expected a clean transaction, got {other:?}"),
        }
    };
    let c = owned("no-at-sign.x", "555-CALL-NOW");
    assert_eq!(c.user_email, NOT_PROVIDED);
    assert_eq!(c.user_phone, NOT_PROVIDED);
    // An owned value that is already normal stays as it is.
    let c = owned("ana@mail.com", "+14155550100");
    assert_eq!(
        (&*c.user_email, &*c.user_phone),
        ("ana@mail.com", "+14155550100")
    );
}

#[test]
fn marketing_nulls_get_defaults_and_coupon_flag_follows_the_code() {
    let c = clean(&with(|t| {
        t.campaign = None;
        t.referral_source = Some("  ".into());
        t.coupon_code = Some("SAVE10".into());
        t.coupon_code_flag = Some(false);
    }));
    assert_eq!(
        (c.referral_source.as_ref(), c.campaign.as_ref()),
        ("direct", "no_campaign")
    );
    assert_eq!(c.coupon_code, "SAVE10");
    assert!(c.coupon_code_flag);
}

#[test]
fn refused_records_come_back_with_reasons() {
    let payload = json_of(&with(|t| t.user_id = None));
    let decoded = decode_json(&payload).unwrap();
    let refused = accept(decoded, test_now(), &ValidationRules::default()).unwrap_err();
    assert_eq!(refused[0].reason, RejectReason::NullUserId);
}

#[test]
fn a_refund_written_with_a_negative_quantity_cleans_like_one_written_positive() {
    let negative = clean(&with(|t| {
        t.action_type = Some("return".into());
        t.quantity = Some(-2);
    }));
    let positive = clean(&with(|t| {
        t.action_type = Some("return".into());
        t.quantity = Some(2);
    }));
    assert_eq!(negative, positive);
    assert_eq!(negative.quantity, -2);
    assert_eq!(negative.total_amount_cents, -39_998);
    assert!(negative.repairs.is_empty());
}

#[test]
fn a_negative_purchase_is_repaired_to_its_absolute_value_and_says_so() {
    let c = clean(&with(|t| t.quantity = Some(-2)));
    assert_eq!(c.quantity, 2);
    assert_eq!(c.total_amount_cents, 39_998);
    assert!(c.repairs.contains(Repair::NegativePurchaseQuantity));
    assert_eq!(c.repairs.codes(), "NEGATIVE_PURCHASE_QUANTITY");
    let untouched = clean(&iti_transaction());
    assert!(untouched.repairs.is_empty());
    assert_eq!(untouched.repairs.codes(), "");
}

#[test]
fn a_negative_purchase_is_refused_when_the_policy_says_refuse() {
    let payload = json_of(&with(|t| t.quantity = Some(-2)));
    let rules = ValidationRules {
        negative_purchase_quantity: crate::validate::NegativePurchaseQuantity::Refuse,
        ..ValidationRules::default()
    };
    let refused = accept(decode_json(&payload).unwrap(), test_now(), &rules).unwrap_err();
    assert_eq!(refused[0].reason, RejectReason::BadQuantity);
}

proptest! {
    #[test]
    fn quantity_and_total_share_one_sign_convention(
        cents in 1i64..10_000_000,
        quantity in prop_oneof![-1_000i64..=-1, 1i64..=1_000],
        action in prop_oneof![Just("purchase"), Just("refund"), Just("return"), Just("exchange")],
    ) {
        let c = clean(&with(|t| {
            t.product_price = Some(ProductPrice::Text(crate::money::format_cents(cents)));
            t.quantity = Some(quantity);
            t.action_type = Some(action.into());
        }));
        let money_back = matches!(action, "refund" | "return");
        prop_assert_eq!(i64::from(c.quantity).abs(), quantity.abs());
        prop_assert_eq!(c.quantity < 0, money_back);
        prop_assert_eq!(c.total_amount_cents, cents * i64::from(c.quantity));
        prop_assert_eq!(
            c.repairs.contains(Repair::NegativePurchaseQuantity),
            quantity < 0 && !money_back
        );
    }

    #[test]
    fn total_is_price_times_quantity_with_the_sign_of_the_action(
        cents in 1i64..10_000_000,
        quantity in 1i64..=1_000,
        action in prop_oneof![Just("purchase"), Just("refund"), Just("return"), Just("exchange")],
    ) {
        let c = clean(&with(|t| {
            t.product_price = Some(ProductPrice::Text(crate::money::format_cents(cents)));
            t.quantity = Some(quantity);
            t.action_type = Some(action.into());
        }));
        let magnitude = cents * quantity;
        let expected = if matches!(action, "refund" | "return") { -magnitude } else { magnitude };
        prop_assert_eq!(c.total_amount_cents, expected);
        prop_assert_eq!(c.unit_price_cents, cents);
    }

    #[test]
    fn categories_are_trimmed_and_upper_case(category in "[ a-zA-Z&]{1,20}") {
        let c = clean(&with(|t| t.product_category = Some(category.clone().into())));
        let expected = crate::geo::collapse_whitespace(&category).to_uppercase();
        prop_assert_eq!(c.product_category.as_deref(), Some(expected.as_str()).filter(|s| !s.is_empty()));
    }
}

proptest! {
    #[test]
    fn date_parts_match_chrono_formatting(seconds in -62_000_000_000i64..253_000_000_000i64) {
        let time = DateTime::from_timestamp(seconds, 0).unwrap();
        let (dt, year, month, day, hour) = date_parts(time);
        prop_assert_eq!(dt, time.format("%Y-%m-%d").to_string());
        prop_assert_eq!(
            (year, month, day, hour),
            (time.year(), time.month() as i32, time.day() as i32, time.hour() as i32)
        );
    }

    #[test]
    fn trimmed_matches_trim(text in "[ \t]{0,2}[a-z0-9_ ]{0,8}[ \t]{0,2}") {
        prop_assert_eq!(trimmed(Some(text.as_str().into())), text.trim());
        prop_assert_eq!(trimmed(Some(text.clone().into())), text.trim());
    }
}

proptest! {
    /// Text borrowed from the payload (the JSON path) and owned text (Avro bodies and API
    /// arrays decode through a `Value`) are cleaned to the same row.
    #[test]
    fn borrowed_and_owned_text_clean_the_same(
        city in "[ a-zA-Zã]{0,12}",
        category in "[ a-zé]{0,10}",
        email in "[ A-Za-z.@]{0,16}",
        phone in "[ +0-9-]{0,14}",
        action in "[ a-zA-Z]{0,9}",
    ) {
        let t = with(|t| {
            t.city_name = Some(city.into());
            t.product_category = Some(category.into());
            t.user_email = Some(email.into());
            t.user_phone = Some(phone.into());
            t.action_type = Some(action.into());
        });
        let payload = json_of(&t);
        let rules = ValidationRules::default();
        let borrowed = accept(decode_json(&payload).unwrap(), test_now(), &rules);
        let value: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        let owned = accept(crate::decode::decode_json_value(value).unwrap(), test_now(), &rules);
        prop_assert_eq!(borrowed, owned);
    }
}

fn accepted(json: &str) -> CleanRecord<'static> {
    let payload: &'static [u8] = Box::leak(json.as_bytes().to_vec().into_boxed_slice());
    let decoded = decode_json(payload).unwrap();
    accept(decoded, test_now(), &ValidationRules::default()).unwrap()
}

#[test]
fn every_clean_record_tells_its_entity_id_time_and_partition() {
    let transaction = CleanRecord::Transaction(clean(&iti_transaction()));
    let clickstream = accepted(
        r#"{"event_id":" c1 ","event_type":" Page_View ","user_id":"u1","event_timestamp":"2024-11-05T06:59:59Z","session_id":"  s  1 ","device_type":"Desktop","referral_source":null,"country_name":"usa"}"#,
    );
    let inventory = accepted(
        r#"{"event_id":"i1","action_type":"SALE","product_id":9,"warehouse_id":" W-3 ","quantity_change":-2,"unit_cost":3.5,"event_timestamp":"2024-11-04T23:00:00Z","reason":"  "}"#,
    );
    let day = |d| NaiveDate::from_ymd_opt(2024, 11, d).unwrap();
    for (record, entity, id, time, partition) in [
        (
            &transaction,
            Entity::Transaction,
            "3f2b6c1e-8a4d-4f7e-9b1a-2c3d4e5f6a7b",
            "2024-11-05T07:15:00+00:00",
            (day(5), 7),
        ),
        (
            &clickstream,
            Entity::Clickstream,
            "c1",
            "2024-11-05T06:59:59+00:00",
            (day(5), 6),
        ),
        (
            &inventory,
            Entity::Inventory,
            "i1",
            "2024-11-04T23:00:00+00:00",
            (day(4), 23),
        ),
    ] {
        assert_eq!(record.entity(), entity);
        assert_eq!(record.event_id(), id);
        assert_eq!(record.event_time().to_rfc3339(), time);
        assert_eq!(record.partition(), partition);
    }
    let CleanRecord::Clickstream(c) = clickstream else {
        panic!("not a clickstream event")
    };
    assert_eq!(c.event_type, "page_view");
    assert_eq!(c.session_id.as_deref(), Some("s 1"));
    assert_eq!(c.device_type.as_deref(), Some("desktop"));
    assert_eq!(c.referral_source, DEFAULT_REFERRAL);
    assert_eq!(c.country_name.as_deref(), Some("United States"));
    let CleanRecord::Inventory(i) = inventory else {
        panic!("not an inventory event")
    };
    assert_eq!(i.action_type, "sale");
    assert_eq!(i.warehouse_id, "W-3");
    assert_eq!((i.product_id, i.quantity_change), (9, -2));
    assert_eq!(i.unit_cost_cents, Some(350));
    assert_eq!(i.reason, None);
}

#[test]
fn text_fields_are_tidied_and_cased_per_field() {
    let c = clean(&with(|t| {
        t.user_name = Some("  Ana   Silva ".into());
        t.product_name = Some("   ".into());
        t.currency = Some(" usd ".into());
        t.postal_code = Some("sw1a 1aa".into());
        t.payment_method = Some(" Credit_Card ".into());
        t.payment_status = Some("SUCCESS".into());
        t.transaction_status = Some("Completed".into());
        t.browser = Some(" Firefox ".into());
        t.language = Some("en-GB".into());
        t.campaign = Some("  ".into());
        t.coupon_code = Some("  ".into());
        t.action_type = Some(" PURCHASE ".into());
    }));
    assert_eq!(c.user_name.as_deref(), Some("Ana Silva"));
    assert_eq!(c.product_name, None);
    assert_eq!(c.currency.as_deref(), Some("USD"));
    assert_eq!(c.postal_code.as_deref(), Some("SW1A 1AA"));
    assert_eq!(c.payment_method.as_deref(), Some("credit_card"));
    assert_eq!(c.payment_status.as_deref(), Some("success"));
    assert_eq!(c.transaction_status.as_deref(), Some("completed"));
    assert_eq!(c.browser.as_deref(), Some("Firefox"));
    assert_eq!(c.language.as_deref(), Some("en-GB"));
    assert_eq!(c.campaign, DEFAULT_CAMPAIGN);
    assert_eq!(
        (c.coupon_code.as_ref(), c.coupon_code_flag),
        (DEFAULT_COUPON, false)
    );
    assert_eq!(c.action_type, "purchase");
    assert_eq!(c.total_amount_cents, 39_998);
}
