//! Any bytes through every decoder and what follows a successful decode (validation,
//! cleaning): nothing may panic, whatever arrives on a stream.

#![no_main]

use libfuzzer_sys::fuzz_target;
use shopstream::clean::accept;
use shopstream::decode::{decode_payload, AvroSchemas};
use shopstream::validate::ValidationRules;
use std::sync::OnceLock;

fn schemas() -> &'static AvroSchemas {
    static SCHEMAS: OnceLock<AvroSchemas> = OnceLock::new();
    SCHEMAS.get_or_init(AvroSchemas::bundled_defaults)
}

fuzz_target!(|data: &[u8]| {
    let now = chrono::DateTime::from_timestamp(1_730_800_000, 0).unwrap_or_default();
    let rules = ValidationRules::default();
    if let Ok(decoded) = decode_payload(data, schemas()) {
        let _ = accept(decoded, now, &rules);
    }
    // The same bytes as the body of a Confluent frame for each bundled schema id.
    for schema_id in 1u32..=3 {
        let mut framed = Vec::with_capacity(data.len() + 5);
        framed.push(0);
        framed.extend_from_slice(&schema_id.to_be_bytes());
        framed.extend_from_slice(data);
        if let Ok(decoded) = decode_payload(&framed, schemas()) {
            let _ = accept(decoded, now, &rules);
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = shopstream::money::parse_price_text(text);
        let _ = shopstream::timestamp::parse_event_timestamp(text);
        let _ = shopstream::contact::normalize_phone(Some(text), Some("Germany"));
        let _ = shopstream::contact::normalize_email(Some(text));
        let _ = shopstream::lake::decode_s3_event_key(text);
    }
});
