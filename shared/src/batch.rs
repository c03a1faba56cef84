//! Partial batch responses for stream event source mappings. Only records that failed for a
//! transient reason are listed: Lambda retries from the lowest one, so a record that can never
//! succeed must be quarantined and counted as processed instead.

use aws_lambda_events::event::streams::{
    DynamoDbBatchItemFailure, DynamoDbEventResponse, KinesisBatchItemFailure, KinesisEventResponse,
};
use serde::{Deserialize, Serialize};

/// `{"batchItemFailures":[{"itemIdentifier":"<sequence number>"}]}` for Kinesis.
pub fn kinesis_response<I, S>(failed_sequence_numbers: I) -> KinesisEventResponse
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut response = KinesisEventResponse::default();
    for sequence_number in failed_sequence_numbers {
        let mut failure = KinesisBatchItemFailure::default();
        failure.item_identifier = Some(sequence_number.into());
        response.batch_item_failures.push(failure);
    }
    response
}

/// The same shape for DynamoDB Streams (sequence numbers of the stream records).
pub fn dynamodb_response<I, S>(failed_sequence_numbers: I) -> DynamoDbEventResponse
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut response = DynamoDbEventResponse::default();
    for sequence_number in failed_sequence_numbers {
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = Some(sequence_number.into());
        response.batch_item_failures.push(failure);
    }
    response
}

/// Kafka (MSK and self-managed) partial batch response, which the events crate does not
/// have yet: `{"batchItemFailures":[{"itemIdentifier":{"partition":"<topic>-<partition>","offset":N}}]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KafkaEventResponse {
    pub batch_item_failures: Vec<KafkaBatchItemFailure>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KafkaBatchItemFailure {
    pub item_identifier: KafkaItemIdentifier,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KafkaItemIdentifier {
    /// `<topic>-<partition>`, the key of the event's `records` map.
    pub partition: String,
    pub offset: i64,
}

impl KafkaEventResponse {
    pub fn push(&mut self, topic: &str, partition: i64, offset: i64) {
        self.batch_item_failures.push(KafkaBatchItemFailure {
            item_identifier: KafkaItemIdentifier {
                partition: format!("{topic}-{partition}"),
                offset,
            },
        });
    }

    pub fn is_complete_success(&self) -> bool {
        self.batch_item_failures.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kinesis_response_lists_sequence_numbers() {
        let response = kinesis_response(["495903", "495904"]);
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            json!({"batchItemFailures": [{"itemIdentifier": "495903"}, {"itemIdentifier": "495904"}]})
        );
        let empty = kinesis_response(Vec::<String>::new());
        assert_eq!(
            serde_json::to_value(&empty).unwrap(),
            json!({"batchItemFailures": []})
        );
    }

    #[test]
    fn dynamodb_response_lists_sequence_numbers() {
        let response = dynamodb_response(["111"]);
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            json!({"batchItemFailures": [{"itemIdentifier": "111"}]})
        );
    }

    #[test]
    fn kafka_response_uses_topic_partition_and_offset() {
        let mut response = KafkaEventResponse::default();
        assert!(response.is_complete_success());
        response.push("orders.v1", 3, 42);
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            json!({"batchItemFailures": [{"itemIdentifier": {"partition": "orders.v1-3", "offset": 42}}]})
        );
    }
}
