//! The handler with the DynamoDB sink (`purchase_orders`) against moto.

mod common;

use common::*;
use ingest_api::config::SinkConfig;
use ingest_api::sink::DynamoDbSink;
use ingest_api::Deps;
use shopstream_emulators::MotoServer;

#[tokio::test]
async fn orders_are_stored_once_by_event_id() -> anyhow::Result<()> {
    let moto = MotoServer::start().await?;
    let dynamodb = create_table(&moto.sdk_config(), "purchase_orders", "event_id").await;
    let deps = Deps {
        config: config(SinkConfig::DynamoDb {
            table: "purchase_orders".into(),
        }),
        events_sink: DynamoDbSink::new(dynamodb.clone(), "purchase_orders"),
        orders_sink: DynamoDbSink::new(dynamodb.clone(), "purchase_orders"),
        idempotency: None,
    };

    let (response, metrics) = call(&deps, fixture("apigw-v2-orders-valid.json")).await;
    assert_eq!(response.status(), 202, "{}", response.body_text());
    assert_eq!(metrics.value("RecordsAccepted"), Some(2.0));
    let items = dynamodb.scan().table_name("purchase_orders").send().await?;
    assert_eq!(items.count(), 2);
    let order = dynamodb
        .get_item()
        .table_name("purchase_orders")
        .key(
            "event_id",
            aws_sdk_dynamodb::types::AttributeValue::S(
                "6f1c1a7e-2f55-4d0c-9a3e-3b7a1f0c0001".into(),
            ),
        )
        .send()
        .await?;
    let item = order.item().expect("the order is stored under its uuid");
    assert_eq!(item["user_id"].as_s().map(String::as_str), Ok("4711"));
    assert_eq!(
        item["number_of_installments"].as_n().map(String::as_str),
        Ok("3")
    );
    assert!(
        item.get("coupon_code").is_none(),
        "null fields are left out"
    );

    // The same order again: the conditional put keeps the stored one and says so.
    let (response, metrics) = call(&deps, fixture("apigw-v1-orders-valid.json")).await;
    assert_eq!(response.status(), 422, "{}", response.body_text());
    assert_eq!(
        reasons_of(&response.body_json(), 0),
        vec!["DUPLICATE_EVENT"]
    );
    assert_eq!(metrics.value("Rejected_DUPLICATE_EVENT"), Some(1.0));
    assert_eq!(
        dynamodb
            .scan()
            .table_name("purchase_orders")
            .send()
            .await?
            .count(),
        2
    );

    // Refused orders are not stored.
    let (response, _) = call(&deps, fixture("apigw-v2-events-partly-invalid.json")).await;
    assert_eq!(response.status(), 202);
    assert_eq!(
        dynamodb
            .scan()
            .table_name("purchase_orders")
            .send()
            .await?
            .count(),
        4
    );
    Ok(())
}
