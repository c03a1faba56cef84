use super::*;
use proptest::prelude::*;

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 11, 5).unwrap()
}

fn kinesis() -> SourceRange {
    SourceRange::Kinesis {
        shard_id: "shardId-000000000001".into(),
        first_sequence: "49590338271490256608559692538361571095921575989136588898".into(),
        last_sequence: "49590338271490256608559692540925702759324208523137515618".into(),
    }
}

#[test]
fn keys_follow_the_design_layout() {
    assert_eq!(
        silver_key(Entity::Transaction, day(), 7, &kinesis()),
        "silver/transaction/dt=2024-11-05/hour=07/shardId-000000000001-49590338271490256608559692538361571095921575989136588898-49590338271490256608559692540925702759324208523137515618.parquet"
    );
    let kafka = SourceRange::Kafka {
        topic: "shop.events".into(),
        partition: 3,
        first_offset: 100,
        last_offset: 199,
    };
    assert_eq!(
        quarantine_key(Some(Entity::Clickstream), day(), 23, &kafka),
        "quarantine/clickstream/dt=2024-11-05/hour=23/shop.events-3-100-199.jsonl"
    );
    assert_eq!(
        quarantine_key(None, day(), 0, &kafka),
        "quarantine/unknown/dt=2024-11-05/hour=00/shop.events-3-100-199.jsonl"
    );
    let dynamo = SourceRange::DynamoDb {
        shard_id: "shardId-00000001700000000000-abcdef01".into(),
        first_sequence: "300000000000000499659".into(),
        last_sequence: "300000000000000499700".into(),
    };
    assert_eq!(
        bronze_key("orders", day(), 9, &dynamo),
        "bronze/orders/dt=2024-11-05/hour=09/shardId-00000001700000000000-abcdef01-300000000000000499659-300000000000000499700.jsonl.gz"
    );
    let file = SourceRange::File {
        name: "traffic 2024-11-05.jsonl".into(),
        digest: "9f86d081884c7d65".into(),
        first_index: 0,
        last_index: 9_999,
    };
    assert_eq!(
        silver_key(Entity::Transaction, day(), 7, &file),
        "silver/transaction/dt=2024-11-05/hour=07/file-traffic_2024-11-05.jsonl-9f86d081884c7d65-0-9999.parquet"
    );
    assert_eq!(
        gold_key("final_fact", "20241105T0700", 3),
        "gold/final_fact/batch_id=20241105T0700/part-00003.parquet"
    );
    assert_eq!(
        manifest_key("20241105T0700"),
        "gold/_manifests/20241105T0700.json"
    );
}

#[test]
fn partitioned_keys_parse_back() {
    let key = silver_key(Entity::Inventory, day(), 4, &kinesis());
    let parsed = parse_partitioned_key(&key).unwrap();
    assert_eq!(
        (parsed.layer, parsed.dataset, parsed.dt, parsed.hour),
        ("silver", "inventory", day(), 4)
    );
    for bad in [
        "silver/x/dt=2024-11-05",
        "silver/x/dt=2024-13-05/hour=01/f",
        "silver/x/dt=2024-11-05/hour=24/f",
        "a/b/c/d/e/f",
    ] {
        assert_eq!(parse_partitioned_key(bad), None, "{bad}");
    }
}

#[test]
fn s3_event_keys_are_url_decoded() {
    assert_eq!(
        decode_s3_event_key("gold/_manifests/batch+1%3D2.json"),
        "gold/_manifests/batch 1=2.json"
    );
    assert_eq!(decode_s3_event_key("a%2Fb%ZZ"), "a/b%ZZ");
}

#[test]
fn source_ranges_display_as_their_object_stem() {
    assert_eq!(kinesis().to_string(), kinesis().object_stem());
    let dynamo = SourceRange::DynamoDb {
        shard_id: "s".into(),
        first_sequence: "1".into(),
        last_sequence: "9".into(),
    };
    assert_eq!(dynamo.to_string(), "s-1-9");
}

#[test]
fn segments_are_never_empty_nor_only_dots() {
    assert_eq!(safe_segment(""), "_");
    assert_eq!(safe_segment("."), "_.");
    assert_eq!(safe_segment(".."), "_..");
    assert_eq!(safe_segment("a.b"), "a.b");
    assert_eq!(safe_segment("..a"), "..a");
    assert_eq!(safe_segment("a/b c"), "a_b_c");
    assert_eq!(safe_segment("é"), "_");
}

#[test]
fn partitioned_keys_have_exactly_five_parts_and_an_hour_to_23() {
    let parsed = parse_partitioned_key("silver/x/dt=2024-11-05/hour=23/f.parquet").unwrap();
    assert_eq!((parsed.hour, parsed.file_name), (23, "f.parquet"));
    for bad in [
        "silver/x/dt=2024-11-05/hour=01/f/g",
        "silver/x/dt=2024-11-05/hour=01/",
        "silver/x/dt=2024-11-05/hour=1a/f",
        "silver/x/2024-11-05/hour=01/f",
        "silver/x/dt=2024-11-05/01/f",
    ] {
        assert_eq!(parse_partitioned_key(bad), None, "{bad}");
    }
}

proptest! {
    #[test]
    fn same_source_range_same_key_and_only_safe_characters(shard in "\\PC{0,30}", first in "\\PC{0,30}", last in "\\PC{0,30}", hour in 0u32..24) {
        let range = SourceRange::Kinesis { shard_id: shard, first_sequence: first, last_sequence: last };
        let key = silver_key(Entity::Transaction, day(), hour, &range);
        prop_assert_eq!(&key, &silver_key(Entity::Transaction, day(), hour, &range.clone()));
        let parsed = parse_partitioned_key(&key).unwrap();
        prop_assert_eq!(parsed.hour, hour);
        prop_assert!(parsed.file_name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)));
        prop_assert!(!key.contains(".."  ) || !key.contains("/../"));
    }

    #[test]
    fn different_kafka_ranges_never_share_a_key(a in 0i64..1_000, b in 0i64..1_000, p in 0i64..8) {
        let key = |first, last| silver_key(Entity::Transaction, day(), 0, &SourceRange::Kafka { topic: "t".into(), partition: p, first_offset: first, last_offset: last });
        prop_assert_eq!(key(a, b) == key(b, a), a == b);
    }
}
