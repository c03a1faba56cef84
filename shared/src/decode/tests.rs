use super::*;
use crate::record::{Entity, ProductPrice, Transaction};
use crate::testdata::{iti_transaction, json_of};
use apache_avro::types::Value as AvroValue;
use proptest::prelude::*;

#[test]
fn decodes_an_iti_json_transaction() {
    let payload = json_of(&iti_transaction());
    let decoded = decode_json(&payload).unwrap();
    assert_eq!(decoded.record, Record::Transaction(iti_transaction()));
    assert!(decoded.problems.is_empty());
    assert_eq!(decoded.format, PayloadFormat::Json);
}

#[test]
fn collects_every_field_problem() {
    let payload = br#"{"event_id":"e1","user_id":5,"quantity":"two","product_price":{"amount":3},
        "event_timestamp":17,"action_type":["purchase"],"total_amount":"ignored"}"#;
    let decoded = decode_json(payload).unwrap();
    let found: Vec<(RejectReason, Option<&str>)> = decoded
        .problems
        .iter()
        .map(|p| (p.reason, p.field.as_deref()))
        .collect();
    assert_eq!(
        found,
        vec![
            (RejectReason::BadQuantity, Some("quantity")),
            (RejectReason::SchemaMismatch, Some("user_id")),
            (RejectReason::BadPrice, Some("product_price")),
            (RejectReason::UnknownEventType, Some("action_type")),
            (RejectReason::BadTimestamp, Some("event_timestamp")),
        ]
    );
    assert!(decoded.problems[0]
        .detail
        .contains("expected an integer, found a string"));
}

#[test]
fn unreadable_payloads_are_decode_errors_and_wrong_shapes_schema_mismatches() {
    let deep = "[".repeat(10_000);
    let cases: Vec<(&[u8], RejectReason)> = vec![
        (b"", RejectReason::DecodeError),
        (b"not json", RejectReason::DecodeError),
        (b"{\"event_id\": \"e1\"", RejectReason::DecodeError),
        (b"{\"user_id\": \"\xff\xfe\"}", RejectReason::DecodeError),
        (deep.as_bytes(), RejectReason::DecodeError),
        (b"[1,2,3]", RejectReason::SchemaMismatch),
        (b"42", RejectReason::SchemaMismatch),
        (
            b"{\"event_id\":\"a\",\"event_id\":\"b\"}",
            RejectReason::SchemaMismatch,
        ),
        (
            b"{\"record_type\":\"widget\"}",
            RejectReason::SchemaMismatch,
        ),
    ];
    for (payload, reason) in cases {
        let err = decode_json(payload).unwrap_err();
        assert_eq!(
            err.reason,
            reason,
            "{:?}: {err}",
            String::from_utf8_lossy(payload)
        );
    }
}

#[test]
fn integral_floats_are_integers_but_fractions_are_not() {
    let decoded = decode_json(br#"{"quantity": 2.0, "feedback_score": 4.5}"#).unwrap();
    let Record::Transaction(t) = &decoded.record else {
        panic!("not a transaction")
    };
    assert_eq!(t.quantity, Some(2));
    assert_eq!(decoded.problems.len(), 1);
    assert_eq!(decoded.problems[0].field.as_deref(), Some("feedback_score"));
    let huge = decode_json(br#"{"quantity": 18446744073709551615}"#).unwrap();
    assert_eq!(huge.problems[0].reason, RejectReason::BadQuantity);
}

#[test]
fn classifies_entities() {
    let cases: [(&[u8], Entity); 5] = [
        (
            br#"{"event_id":"1","event_type":"page_view"}"#,
            Entity::Clickstream,
        ),
        (
            br#"{"event_id":"1","action_type":"restock","warehouse_id":"W1"}"#,
            Entity::Inventory,
        ),
        (
            br#"{"event_id":"1","quantity_change":-2}"#,
            Entity::Inventory,
        ),
        (
            br#"{"event_id":"1","action_type":"purchase"}"#,
            Entity::Transaction,
        ),
        (
            br#"{"record_type":"inventory","event_id":"1"}"#,
            Entity::Inventory,
        ),
    ];
    for (payload, entity) in cases {
        assert_eq!(decode_json(payload).unwrap().record.entity(), entity);
    }
}

fn frame(schema_id: u32, body: &[u8]) -> Vec<u8> {
    let mut framed = vec![CONFLUENT_MAGIC];
    framed.extend_from_slice(&schema_id.to_be_bytes());
    framed.extend_from_slice(body);
    framed
}

/// A Transaction written by an independent producer: the reference schema text, apache-avro's
/// own value types, the union branches picked by hand.
fn reference_avro_body(price: AvroValue) -> Vec<u8> {
    let schema = apache_avro::Schema::parse_str(REFERENCE_SCHEMA).unwrap();
    let s = |v: &str| AvroValue::String(v.to_owned());
    let some = |index: u32, v: AvroValue| AvroValue::Union(index, Box::new(v));
    let null = AvroValue::Union(0, Box::new(AvroValue::Null));
    let record = AvroValue::Record(vec![
        ("event_id".into(), s("avro-1")),
        ("quantity".into(), AvroValue::Int(3)),
        ("total_amount".into(), null.clone()),
        ("feedback_score".into(), some(1, AvroValue::Int(5))),
        ("user_id".into(), some(1, s("user_7"))),
        ("user_name".into(), s("Kenji Sato")),
        ("user_email".into(), s("kenji@example.jp")),
        ("user_phone".into(), null.clone()),
        ("is_first_purchase".into(), AvroValue::Boolean(true)),
        ("language".into(), s("ja")),
        ("currency".into(), s("JPY")),
        ("city_name".into(), s("Tokyo")),
        ("country_name".into(), s("Japan")),
        ("product_id".into(), AvroValue::Int(77)),
        ("product_name".into(), s("Novel")),
        ("product_category".into(), s("Books")),
        ("product_brand".into(), s("Kodansha")),
        ("product_price".into(), price),
        ("shipping_address".into(), some(1, s("1-1 Chiyoda"))),
        ("postal_code".into(), some(1, s("100-0001"))),
        ("device_type".into(), s("desktop")),
        ("browser".into(), s("Firefox")),
        ("referral_source".into(), null.clone()),
        ("campaign".into(), null.clone()),
        ("coupon_code".into(), some(1, s("WELCOME10"))),
        ("coupon_code_flag".into(), some(1, AvroValue::Boolean(true))),
        ("payment_method".into(), s("credit_card")),
        ("payment_status".into(), s("success")),
        ("transaction_status".into(), s("completed")),
        ("action_type".into(), s("purchase")),
        ("event_timestamp".into(), some(1, s("2024-11-05T07:15:00"))),
        ("dt_date".into(), s("2024-11-05")),
        ("year".into(), AvroValue::Int(2024)),
        ("month".into(), AvroValue::Int(11)),
        ("day".into(), AvroValue::Int(5)),
        ("hour".into(), AvroValue::Int(7)),
    ]);
    avro::write_datum(&schema, record).unwrap()
}

/// The ITI reference schema, as kept in the repo (checked against ../shared/reference below).
const REFERENCE_SCHEMA: &str = include_str!("../../schemas/transaction.avsc");

#[test]
fn bundled_transaction_schema_is_the_iti_reference() {
    let reference = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/reference/iti-transaction.avsc");
    if let Ok(text) = std::fs::read_to_string(&reference) {
        assert_eq!(
            text, REFERENCE_SCHEMA,
            "shared/schemas/transaction.avsc drifted from the ITI reference"
        );
    }
    let schema = apache_avro::Schema::parse_str(REFERENCE_SCHEMA).unwrap();
    let apache_avro::Schema::Record(record) = schema else {
        panic!("not a record")
    };
    assert_eq!(record.fields.len(), 36);
    let names: Vec<&str> = record.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, Transaction::FIELD_NAMES);
}

#[test]
fn decodes_a_confluent_framed_iti_transaction_with_both_price_branches() {
    let schemas = AvroSchemas::bundled_defaults();
    for (price, expected) in [
        (
            AvroValue::Union(1, Box::new(AvroValue::Double(1299.5))),
            ProductPrice::Amount(1299.5),
        ),
        (
            AvroValue::Union(0, Box::new(AvroValue::String("¥1,299".into()))),
            ProductPrice::Text("¥1,299".into()),
        ),
    ] {
        let payload = frame(1, &reference_avro_body(price));
        let decoded = decode_payload(&payload, &schemas).unwrap();
        assert_eq!(
            decoded.format,
            PayloadFormat::ConfluentAvro { schema_id: 1 }
        );
        assert!(decoded.problems.is_empty(), "{:?}", decoded.problems);
        let Record::Transaction(t) = decoded.record else {
            panic!("not a transaction")
        };
        assert_eq!(t.event_id.as_deref(), Some("avro-1"));
        assert_eq!(t.quantity, Some(3));
        assert_eq!(t.user_id.as_deref(), Some("user_7"));
        assert_eq!(t.user_phone, None);
        assert_eq!(t.coupon_code_flag, Some(true));
        assert_eq!(t.product_price, Some(expected));
        assert_eq!(t.event_timestamp.as_deref(), Some("2024-11-05T07:15:00"));
        assert_eq!(t.hour, Some(7));
    }
}

#[test]
fn broken_avro_frames_are_refused_with_the_right_reason() {
    let schemas = AvroSchemas::bundled_defaults();
    let body = reference_avro_body(AvroValue::Union(1, Box::new(AvroValue::Double(5.0))));
    let mut trailing = frame(1, &body);
    trailing.push(0);
    let cases: Vec<(Vec<u8>, RejectReason)> = vec![
        (vec![0, 0, 0], RejectReason::DecodeError),
        (frame(99, &body), RejectReason::SchemaMismatch),
        (frame(1, &body[..body.len() / 2]), RejectReason::DecodeError),
        (frame(2, &body), RejectReason::DecodeError),
        (trailing, RejectReason::DecodeError),
        (frame(1, &[0xff; 16]), RejectReason::DecodeError),
    ];
    for (payload, reason) in cases {
        let err = decode_payload(&payload, &schemas).unwrap_err();
        assert_eq!(err.reason, reason, "{err}");
    }
    let wrong_magic = avro::decode_confluent(&[1, 0, 0, 0, 1, 2], &schemas).unwrap_err();
    assert_eq!(wrong_magic.reason, RejectReason::DecodeError);
}

#[test]
fn clickstream_and_inventory_round_trip_through_avro() {
    let schemas = AvroSchemas::bundled_defaults();
    for json in [
        &br#"{"event_id":"c1","event_type":"search","user_id":"u1","search_query":"usb c","event_timestamp":"2024-11-05T07:00:00Z","product_id":null}"#[..],
        &br#"{"event_id":"i1","action_type":"sale","product_id":9,"warehouse_id":"W-3","quantity_change":-2,"unit_cost":3.5,"event_timestamp":"2024-11-05T07:00:00Z"}"#[..],
    ] {
        let record = decode_json(json).unwrap().record;
        let id = schemas.id_for(record.entity()).unwrap();
        let schema = avro::bundled_schema(record.entity());
        let payload = avro::encode_confluent(id, schema, &record).unwrap();
        assert_eq!(decode_payload(&payload, &schemas).unwrap().record, record);
    }
}

fn arb_text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 _@.+-]{0,24}"
}

prop_compose! {
    /// A transaction with every non-nullable field of the Avro schema present.
    fn arb_transaction()(
        ids in (arb_text(), 1i64..=i64::from(i32::MAX), proptest::option::of(-10i64..10)),
        user in (proptest::option::of(arb_text()), arb_text(), arb_text(), proptest::option::of(arb_text()), any::<bool>()),
        place in (arb_text(), arb_text(), arb_text(), arb_text()),
        product in (0i64..=i64::from(i32::MAX), arb_text(), arb_text(), arb_text(),
            prop_oneof![(-1e9f64..1e9).prop_map(ProductPrice::Amount), arb_text().prop_map(ProductPrice::Text)]),
        shipping in (proptest::option::of(arb_text()), proptest::option::of(arb_text()), arb_text(), arb_text()),
        marketing in (proptest::option::of(arb_text()), proptest::option::of(arb_text()), proptest::option::of(arb_text()), proptest::option::of(any::<bool>())),
        status in (arb_text(), arb_text(), arb_text(), arb_text(), proptest::option::of(arb_text())),
        date in (arb_text(), 0i64..3000, 1i64..13, 1i64..32, 0i64..24),
    ) -> Transaction<'static> {
        Transaction {
            event_id: Some(ids.0.into()), quantity: Some(ids.1 % 1000), total_amount: None, feedback_score: ids.2,
            user_id: user.0.map(Into::into), user_name: Some(user.1.into()), user_email: Some(user.2.into()), user_phone: user.3.map(Into::into),
            is_first_purchase: Some(user.4),
            language: Some(place.0.into()), currency: Some(place.1.into()), city_name: Some(place.2.into()), country_name: Some(place.3.into()),
            product_id: Some(product.0), product_name: Some(product.1.into()), product_category: Some(product.2.into()),
            product_brand: Some(product.3.into()), product_price: Some(product.4),
            shipping_address: shipping.0.map(Into::into), postal_code: shipping.1.map(Into::into), device_type: Some(shipping.2.into()), browser: Some(shipping.3.into()),
            referral_source: marketing.0.map(Into::into), campaign: marketing.1.map(Into::into), coupon_code: marketing.2.map(Into::into), coupon_code_flag: marketing.3,
            payment_method: Some(status.0.into()), payment_status: Some(status.1.into()), transaction_status: Some(status.2.into()),
            action_type: Some(status.3.into()), event_timestamp: status.4.map(Into::into),
            dt_date: Some(date.0.into()), year: Some(date.1), month: Some(date.2), day: Some(date.3), hour: Some(date.4),
        }
    }
}

proptest! {
    #[test]
    fn json_round_trips_any_transaction(t in arb_transaction()) {
        let payload = json_of(&t);
        let decoded = decode_json(&payload).unwrap();
        prop_assert!(decoded.problems.is_empty());
        prop_assert_eq!(decoded.record, Record::Transaction(t));
    }

    #[test]
    fn avro_round_trips_any_transaction(t in arb_transaction()) {
        let schemas = AvroSchemas::bundled_defaults();
        let record = Record::Transaction(t);
        let payload = avro::encode_confluent(1, avro::bundled_schema(Entity::Transaction), &record).unwrap();
        prop_assert_eq!(decode_payload(&payload, &schemas).unwrap().record, record);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let schemas = AvroSchemas::bundled_defaults();
        let _ = decode_payload(&bytes, &schemas);
        let mut framed = vec![0, 0, 0, 0, 1];
        framed.extend_from_slice(&bytes);
        let _ = decode_payload(&framed, &schemas);
    }

    #[test]
    fn arbitrary_json_objects_never_panic(json in "\\{(\"[a-z_]{1,12}\": ?(null|true|-?[0-9]{1,25}(\\.[0-9]+)?|\"[^\"\\\\]{0,10}\"|\\[\\]|\\{\\}), ?){0,6}\"x\": 1\\}") {
        let _ = decode_json(json.as_bytes());
    }
}

#[test]
fn json_that_is_not_utf8_is_a_decode_error() {
    let mut payload = br#"{"event_id":"e-1","user_name":"Ana "#.to_vec();
    payload.extend_from_slice(&[0xff, 0xfe]);
    payload.extend_from_slice(br#""}"#);
    let rejection = decode_json(&payload).unwrap_err();
    assert_eq!(rejection.reason, RejectReason::DecodeError);
    assert!(
        rejection.detail.contains("offset 35"),
        "{}",
        rejection.detail
    );
}

#[test]
fn text_is_borrowed_from_the_payload_unless_it_had_escapes() {
    let payload = br#"{"event_id":"plain","user_id":"quote\"d \u00e9","event_type":"search"}"#;
    let decoded = decode_json(payload).unwrap();
    let Record::Clickstream(c) = decoded.record else {
        panic!("expected clickstream");
    };
    assert!(matches!(
        c.event_id,
        Some(std::borrow::Cow::Borrowed("plain"))
    ));
    assert!(matches!(c.user_id, Some(std::borrow::Cow::Owned(ref s)) if s == "quote\"d é"));
}
