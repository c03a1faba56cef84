//! Sample records shared by the unit tests.

use crate::record::{ProductPrice, Transaction};

/// A complete, valid ITI transaction (a completed purchase on 2024-11-05 07:15 UTC).
pub(crate) fn iti_transaction() -> Transaction<'static> {
    Transaction {
        event_id: Some("3f2b6c1e-8a4d-4f7e-9b1a-2c3d4e5f6a7b".into()),
        quantity: Some(2),
        total_amount: None,
        feedback_score: Some(4),
        user_id: Some("user_000042".into()),
        user_name: Some("Ana Silva".into()),
        user_email: Some("Ana.Silva@Example.com".into()),
        user_phone: Some("+55 11 91234-5678".into()),
        is_first_purchase: Some(false),
        language: Some("pt-BR".into()),
        currency: Some("brl".into()),
        city_name: Some("são paulo".into()),
        country_name: Some("Brazil".into()),
        product_id: Some(1042),
        product_name: Some("Wireless Headphones".into()),
        product_category: Some(" electronics ".into()),
        product_brand: Some("Sony".into()),
        product_price: Some(ProductPrice::Amount(199.99)),
        shipping_address: Some("Rua Augusta 1200, São Paulo".into()),
        postal_code: Some("01304-001".into()),
        device_type: Some("Mobile".into()),
        browser: Some("Chrome".into()),
        referral_source: None,
        campaign: Some("black_friday".into()),
        coupon_code: None,
        coupon_code_flag: None,
        payment_method: Some("credit_card".into()),
        payment_status: Some("success".into()),
        transaction_status: Some("completed".into()),
        action_type: Some("purchase".into()),
        event_timestamp: Some("2024-11-05T07:15:00Z".into()),
        dt_date: Some("2024-11-05".into()),
        year: Some(2024),
        month: Some(11),
        day: Some(5),
        hour: Some(7),
    }
}

/// The clock the tests validate against: an hour after the sample's event time.
pub(crate) fn test_now() -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    chrono::Utc.with_ymd_and_hms(2024, 11, 5, 8, 15, 0).unwrap()
}

pub(crate) fn json_of(t: &Transaction) -> Vec<u8> {
    serde_json::to_vec(t).unwrap()
}

/// `t` as JSON, decoded and cleaned with the default rules; panics when it is refused. The
/// payload is leaked so the clean row can borrow from it for the rest of the test.
pub(crate) fn cleaned(t: &Transaction) -> crate::clean::CleanTransaction<'static> {
    let payload: &'static [u8] = Box::leak(json_of(t).into_boxed_slice());
    let decoded = crate::decode::decode_json(payload).unwrap();
    match crate::clean::accept(
        decoded,
        test_now(),
        &crate::validate::ValidationRules::default(),
    ) {
        Ok(crate::clean::CleanRecord::Transaction(clean)) => clean,
        other => panic!("expected a clean transaction, got {other:?}"),
    }
}
