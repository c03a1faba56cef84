//! The ledger in DynamoDB (batch and claim items) with plan objects in the lake bucket.

use super::{
    allowed, plan_key, select_inputs, truncate_utf8, BatchRecord, BatchState, BatchWindow,
    InputObject, Plan, TransitionFields, CLAIM_PREFIX, MAX_ERROR_BYTES, STATE_INDEX,
};
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, KeysAndAttributes, Projection, ProjectionType, ReturnValue, ScalarAttributeType,
};
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// A planner that has not finished claiming its inputs after this long is presumed dead (a
/// Lambda runs 15 minutes at most); the next planner releases its claims and deletes it.
pub const PLAN_LEASE: TimeDelta = TimeDelta::minutes(20);
const PLAN_ATTEMPTS: u32 = 5;
const BATCH_GET_LIMIT: usize = 100;
const KIND_BATCH: &str = "batch";
const KIND_CLAIM: &str = "claim";

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("batch {batch_id} is not in the ledger")]
    NotFound { batch_id: String },
    #[error("batch {batch_id} may not move from {from} to {to}")]
    NotAllowed {
        batch_id: String,
        from: BatchState,
        to: BatchState,
    },
    #[error("batch {batch_id} is {actual:?}, not {expected} (another worker moved it)")]
    WrongState {
        batch_id: String,
        expected: BatchState,
        actual: Option<BatchState>,
    },
    #[error("DynamoDB {operation} on {table}: {message}")]
    DynamoDb {
        operation: &'static str,
        table: String,
        message: String,
    },
    #[error("S3 {operation} s3://{bucket}/{key}: {message}")]
    S3 {
        operation: &'static str,
        bucket: String,
        key: String,
        message: String,
    },
    #[error("ledger item {batch_id} is malformed: {problem}")]
    Malformed { batch_id: String, problem: String },
    #[error("plan s3://{bucket}/{key} is not a plan: {source}")]
    BadPlan {
        bucket: String,
        key: String,
        source: serde_json::Error,
    },
    #[error("no conflict-free batch after {attempts} planning attempts (other planners busy)")]
    Contended { attempts: u32 },
}

/// An input another batch holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimConflict {
    pub key: String,
    pub claimed_by: String,
}

/// What [`Ledger::plan`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum PlanOutcome {
    /// A new batch, every input claimed by it.
    Planned(Box<PlannedBatch>),
    /// Every candidate is already in a batch.
    NothingToPlan,
    /// Another planner is planning (or has planned) exactly these inputs.
    PlannedElsewhere { batch_id: String },
}

/// A batch planned by this planner: its ledger item and its plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedBatch {
    pub record: BatchRecord,
    pub plan: Plan,
}

/// The `batches` table and the lake bucket holding the plan objects.
#[derive(Debug, Clone)]
pub struct Ledger {
    dynamodb: aws_sdk_dynamodb::Client,
    s3: aws_sdk_s3::Client,
    table: String,
    bucket: String,
}

fn time_text(time: DateTime<Utc>) -> String {
    // Fixed width, so text order is time order (the index's range key).
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn s(text: impl Into<String>) -> AttributeValue {
    AttributeValue::S(text.into())
}

fn n(number: u64) -> AttributeValue {
    AttributeValue::N(number.to_string())
}

fn claim_pk(key: &str) -> String {
    format!("{CLAIM_PREFIX}{key}")
}

fn is_condition_failure<E: ProvideErrorMetadata>(
    err: &aws_sdk_dynamodb::error::SdkError<E>,
) -> bool {
    err.code() == Some("ConditionalCheckFailedException")
}

impl Ledger {
    pub fn new(
        dynamodb: aws_sdk_dynamodb::Client,
        s3: aws_sdk_s3::Client,
        table: impl Into<String>,
        bucket: impl Into<String>,
    ) -> Self {
        Ledger {
            dynamodb,
            s3,
            table: table.into(),
            bucket: bucket.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    fn dynamo_error<E>(
        &self,
        operation: &'static str,
        err: aws_sdk_dynamodb::error::SdkError<E>,
    ) -> LedgerError
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        LedgerError::DynamoDb {
            operation,
            table: self.table.clone(),
            message: DisplayErrorContext(err).to_string(),
        }
    }

    /// The batch item, read consistently; `None` when there is none.
    pub async fn get(&self, batch_id: &str) -> Result<Option<BatchRecord>, LedgerError> {
        let output = self
            .dynamodb
            .get_item()
            .table_name(&self.table)
            .key("batch_id", s(batch_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.dynamo_error("GetItem", e))?;
        output.item().map(decode_record).transpose()
    }

    /// Which batch holds each of `keys` (keys no batch holds are absent).
    pub async fn claims_of(&self, keys: &[String]) -> Result<HashMap<String, String>, LedgerError> {
        let mut claims = HashMap::new();
        for chunk in keys.chunks(BATCH_GET_LIMIT) {
            let mut distinct: Vec<&String> = chunk.iter().collect();
            distinct.sort();
            distinct.dedup();
            let mut request = KeysAndAttributes::builder().consistent_read(true);
            for key in distinct {
                request = request.keys(HashMap::from([("batch_id".to_owned(), s(claim_pk(key)))]));
            }
            let mut pending = Some(request.build().map_err(|e| LedgerError::DynamoDb {
                operation: "BatchGetItem",
                table: self.table.clone(),
                message: e.to_string(),
            })?);
            let mut round = 0u32;
            while let Some(request) = pending.take() {
                let output = self
                    .dynamodb
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| self.dynamo_error("BatchGetItem", e))?;
                for item in output
                    .responses()
                    .and_then(|r| r.get(&self.table))
                    .into_iter()
                    .flatten()
                {
                    let pk = text(item, "batch_id");
                    let holder = text(item, "claimed_by");
                    if let (Some(pk), Some(holder)) = (pk, holder) {
                        if let Some(key) = pk.strip_prefix(CLAIM_PREFIX) {
                            claims.insert(key.to_owned(), holder.to_owned());
                        }
                    }
                }
                pending = output
                    .unprocessed_keys()
                    .and_then(|u| u.get(&self.table))
                    .filter(|k| !k.keys().is_empty())
                    .cloned();
                if pending.is_some() {
                    round += 1;
                    tokio::time::sleep(Duration::from_millis(20 << round.min(6))).await;
                }
            }
        }
        Ok(claims)
    }

    /// Writes `gold/_plans/<batch_id>.json`.
    pub async fn write_plan(&self, plan: &Plan) -> Result<(), LedgerError> {
        let key = plan.key();
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type("application/json")
            .body(plan.to_json().into())
            .send()
            .await
            .map_err(|e| LedgerError::S3 {
                operation: "PutObject",
                bucket: self.bucket.clone(),
                key,
                message: aws_sdk_s3::error::DisplayErrorContext(e).to_string(),
            })?;
        Ok(())
    }

    /// Reads the plan of `batch_id` from the lake.
    pub async fn read_plan(&self, batch_id: &str) -> Result<Plan, LedgerError> {
        let key = plan_key(batch_id);
        let s3_error = |operation, message: String| LedgerError::S3 {
            operation,
            bucket: self.bucket.clone(),
            key: key.clone(),
            message,
        };
        let output = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await
            .map_err(|e| {
                s3_error(
                    "GetObject",
                    aws_sdk_s3::error::DisplayErrorContext(e).to_string(),
                )
            })?;
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|e| s3_error("GetObject", e.to_string()))?
            .into_bytes();
        Plan::from_json(&bytes).map_err(|source| LedgerError::BadPlan {
            bucket: self.bucket.clone(),
            key: key.clone(),
            source,
        })
    }

    /// Plans the next batch from `candidates` (objects listed in the lake): releases stale
    /// unfinished plans, selects up to `max_objects` unclaimed candidates, writes the plan
    /// object, creates the `PLANNED` item (`attribute_not_exists`), claims every input in key
    /// order and finally marks the item `inputs_claimed`. A claim conflict undoes this
    /// attempt and plans again from what is left.
    pub async fn plan(
        &self,
        candidates: Vec<InputObject>,
        max_objects: usize,
        now: DateTime<Utc>,
    ) -> Result<PlanOutcome, LedgerError> {
        self.release_stale_plans(now).await?;
        for attempt in 0..PLAN_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(25 * u64::from(attempt))).await;
            }
            let keys: Vec<String> = candidates.iter().map(|c| c.key.clone()).collect();
            let claims = self.claims_of(&keys).await?;
            let inputs = select_inputs(candidates.clone(), |k| claims.contains_key(k), max_objects);
            if inputs.is_empty() {
                return Ok(PlanOutcome::NothingToPlan);
            }
            let plan = Plan::new(inputs);
            self.write_plan(&plan).await?;
            if !self.create_planned(&plan, now).await? {
                return Ok(PlanOutcome::PlannedElsewhere {
                    batch_id: plan.batch_id,
                });
            }
            match self.claim_all(&plan, now).await? {
                None => {
                    let record = self.mark_claimed(&plan.batch_id, now).await?;
                    return Ok(PlanOutcome::Planned(Box::new(PlannedBatch {
                        record,
                        plan,
                    })));
                }
                Some(_conflict) => self.abandon(&plan).await?,
            }
        }
        Err(LedgerError::Contended {
            attempts: PLAN_ATTEMPTS,
        })
    }

    async fn create_planned(&self, plan: &Plan, now: DateTime<Utc>) -> Result<bool, LedgerError> {
        let now_text = time_text(now);
        let result = self
            .dynamodb
            .put_item()
            .table_name(&self.table)
            .item("batch_id", s(&plan.batch_id))
            .item("kind", s(KIND_BATCH))
            .item("state", s(BatchState::Planned.as_str()))
            .item("inputs_claimed", AttributeValue::Bool(false))
            .item("plan_key", s(plan.key()))
            .item("input_objects", n(plan.inputs.len() as u64))
            .item("input_bytes", n(plan.input_bytes()))
            .item("first_partition", s(&plan.window.first_partition))
            .item("last_partition", s(&plan.window.last_partition))
            .item("planned_at", s(&now_text))
            .item("updated_at", s(&now_text))
            .item(
                "state_times",
                AttributeValue::M(HashMap::from([(
                    BatchState::Planned.as_str().to_owned(),
                    s(&now_text),
                )])),
            )
            .item("version", n(0))
            .condition_expression("attribute_not_exists(batch_id)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(self.dynamo_error("PutItem", e)),
        }
    }

    /// Claims the inputs one by one in key order (so planners contending for the same keys
    /// cannot block each other in a cycle); the first conflict stops it.
    async fn claim_all(
        &self,
        plan: &Plan,
        now: DateTime<Utc>,
    ) -> Result<Option<ClaimConflict>, LedgerError> {
        let now_text = time_text(now);
        for input in &plan.inputs {
            let result = self
                .dynamodb
                .put_item()
                .table_name(&self.table)
                .item("batch_id", s(claim_pk(&input.key)))
                .item("kind", s(KIND_CLAIM))
                .item("claimed_by", s(&plan.batch_id))
                .item("claimed_at", s(&now_text))
                .condition_expression("attribute_not_exists(batch_id) OR claimed_by = :me")
                .expression_attribute_values(":me", s(&plan.batch_id))
                .send()
                .await;
            match result {
                Ok(_) => {}
                Err(e) if is_condition_failure(&e) => {
                    let holder = self.claims_of(std::slice::from_ref(&input.key)).await?;
                    return Ok(Some(ClaimConflict {
                        key: input.key.clone(),
                        claimed_by: holder.get(&input.key).cloned().unwrap_or_default(),
                    }));
                }
                Err(e) => return Err(self.dynamo_error("PutItem", e)),
            }
        }
        Ok(None)
    }

    /// Undoes an unfinished plan: its claims, then its item (only while still unclaimed).
    async fn abandon(&self, plan: &Plan) -> Result<(), LedgerError> {
        for input in &plan.inputs {
            let result = self
                .dynamodb
                .delete_item()
                .table_name(&self.table)
                .key("batch_id", s(claim_pk(&input.key)))
                .condition_expression("claimed_by = :me")
                .expression_attribute_values(":me", s(&plan.batch_id))
                .send()
                .await;
            match result {
                Ok(_) => {}
                Err(e) if is_condition_failure(&e) => {}
                Err(e) => return Err(self.dynamo_error("DeleteItem", e)),
            }
        }
        let result = self
            .dynamodb
            .delete_item()
            .table_name(&self.table)
            .key("batch_id", s(&plan.batch_id))
            .condition_expression("#state = :planned AND inputs_claimed = :false")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":planned", s(BatchState::Planned.as_str()))
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(self.dynamo_error("DeleteItem", e)),
        }
    }

    /// Abandons `PLANNED` items still claiming after [`PLAN_LEASE`]: their planner died.
    async fn release_stale_plans(&self, now: DateTime<Utc>) -> Result<(), LedgerError> {
        for record in self.list_by_state(BatchState::Planned).await? {
            if !record.inputs_claimed && record.planned_at + PLAN_LEASE < now {
                let plan = self.read_plan(&record.batch_id).await?;
                self.abandon(&plan).await?;
            }
        }
        Ok(())
    }

    async fn mark_claimed(
        &self,
        batch_id: &str,
        now: DateTime<Utc>,
    ) -> Result<BatchRecord, LedgerError> {
        let output = self
            .dynamodb
            .update_item()
            .table_name(&self.table)
            .key("batch_id", s(batch_id))
            .update_expression(
                "SET inputs_claimed = :true, updated_at = :now, version = version + :one",
            )
            .condition_expression("#state = :planned")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":now", s(time_text(now)))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":planned", s(BatchState::Planned.as_str()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match output.map(|o| o.attributes.unwrap_or_default()) {
            Ok(item) => decode_record(&item),
            Err(e) if is_condition_failure(&e) => {
                Err(self.wrong_state(batch_id, BatchState::Planned).await)
            }
            Err(e) => Err(self.dynamo_error("UpdateItem", e)),
        }
    }

    async fn wrong_state(&self, batch_id: &str, expected: BatchState) -> LedgerError {
        match self.get(batch_id).await {
            Ok(Some(record)) => LedgerError::WrongState {
                batch_id: batch_id.to_owned(),
                expected,
                actual: Some(record.state),
            },
            Ok(None) => LedgerError::NotFound {
                batch_id: batch_id.to_owned(),
            },
            Err(e) => e,
        }
    }

    /// Moves `batch_id` from `from` to `to` (refused unless [`allowed`]) if, and only if, it
    /// is in `from` now, setting `fields`, `updated_at`, `state_times[to]` and `version + 1`.
    /// Returns the item as written.
    pub async fn transition(
        &self,
        batch_id: &str,
        from: BatchState,
        to: BatchState,
        fields: &TransitionFields,
        now: DateTime<Utc>,
    ) -> Result<BatchRecord, LedgerError> {
        if !allowed(from, to) {
            return Err(LedgerError::NotAllowed {
                batch_id: batch_id.to_owned(),
                from,
                to,
            });
        }
        self.update(batch_id, from, Some(to), fields, now).await
    }

    /// Sets `fields` on `batch_id` while it is in `state`, without changing state (e.g. the
    /// route `"emr"` on a `PLANNED` batch too large for the Lambda).
    pub async fn annotate(
        &self,
        batch_id: &str,
        state: BatchState,
        fields: &TransitionFields,
        now: DateTime<Utc>,
    ) -> Result<BatchRecord, LedgerError> {
        self.update(batch_id, state, None, fields, now).await
    }

    async fn update(
        &self,
        batch_id: &str,
        from: BatchState,
        to: Option<BatchState>,
        fields: &TransitionFields,
        now: DateTime<Utc>,
    ) -> Result<BatchRecord, LedgerError> {
        let now_text = time_text(now);
        let mut sets = vec![
            "updated_at = :now".to_owned(),
            "version = version + :one".to_owned(),
        ];
        let mut request = self
            .dynamodb
            .update_item()
            .table_name(&self.table)
            .key("batch_id", s(batch_id))
            .condition_expression("#state = :from")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":from", s(from.as_str()))
            .expression_attribute_values(":now", s(&now_text))
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllNew);
        if let Some(to) = to {
            sets.push("#state = :to".into());
            sets.push("state_times.#to = :now".into());
            request = request
                .expression_attribute_names("#to", to.as_str())
                .expression_attribute_values(":to", s(to.as_str()));
        }
        for (name, value) in field_values(fields) {
            // Aliased: some field names (`error`) are DynamoDB reserved words.
            sets.push(format!("#{name} = :{name}"));
            request = request
                .expression_attribute_names(format!("#{name}"), name)
                .expression_attribute_values(format!(":{name}"), value);
        }
        let output = request
            .update_expression(format!("SET {}", sets.join(", ")))
            .send()
            .await;
        match output.map(|o| o.attributes.unwrap_or_default()) {
            Ok(item) => decode_record(&item),
            Err(e) if is_condition_failure(&e) => Err(self.wrong_state(batch_id, from).await),
            Err(e) => Err(self.dynamo_error("UpdateItem", e)),
        }
    }

    /// Every batch in `state`, oldest update first (a query on [`STATE_INDEX`], all pages).
    pub async fn list_by_state(&self, state: BatchState) -> Result<Vec<BatchRecord>, LedgerError> {
        let mut records = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let output = self
                .dynamodb
                .query()
                .table_name(&self.table)
                .index_name(STATE_INDEX)
                .key_condition_expression("#state = :state")
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":state", s(state.as_str()))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| self.dynamo_error("Query", e))?;
            for item in output.items() {
                records.push(decode_record(item)?);
            }
            match output.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => break,
            }
        }
        Ok(records)
    }
}

fn field_values(fields: &TransitionFields) -> Vec<(&'static str, AttributeValue)> {
    let TransitionFields {
        route,
        cluster_id,
        step_id,
        statement_id,
        manifest_key,
        error,
        input_rows,
        output_rows,
        bad_inputs,
        objects_deleted,
    } = fields;
    let texts = [
        ("route", route.as_deref()),
        ("cluster_id", cluster_id.as_deref()),
        ("step_id", step_id.as_deref()),
        ("statement_id", statement_id.as_deref()),
        ("manifest_key", manifest_key.as_deref()),
        (
            "error",
            error.as_deref().map(|e| truncate_utf8(e, MAX_ERROR_BYTES)),
        ),
    ];
    let numbers = [
        ("input_rows", *input_rows),
        ("output_rows", *output_rows),
        ("bad_inputs", *bad_inputs),
        ("objects_deleted", *objects_deleted),
    ];
    texts
        .into_iter()
        .filter_map(|(name, value)| value.map(|v| (name, s(v))))
        .chain(
            numbers
                .into_iter()
                .filter_map(|(name, value)| value.map(|v| (name, n(v)))),
        )
        .collect()
}

fn text<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

fn decode_record(item: &HashMap<String, AttributeValue>) -> Result<BatchRecord, LedgerError> {
    let batch_id = text(item, "batch_id").unwrap_or_default().to_owned();
    let malformed = |problem: String| LedgerError::Malformed {
        batch_id: batch_id.clone(),
        problem,
    };
    let required =
        |name: &str| text(item, name).ok_or_else(|| malformed(format!("no text attribute {name}")));
    let number = |name: &str| -> Result<Option<u64>, LedgerError> {
        match item.get(name) {
            None => Ok(None),
            Some(value) => value
                .as_n()
                .ok()
                .and_then(|v| v.parse().ok())
                .map(Some)
                .ok_or_else(|| malformed(format!("{name} is not a non-negative integer"))),
        }
    };
    let time = |name: &str, value: &str| -> Result<DateTime<Utc>, LedgerError> {
        DateTime::parse_from_rfc3339(value)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| malformed(format!("{name}: {e}")))
    };
    let state: BatchState = required("state")?
        .parse()
        .map_err(|e: super::UnknownState| malformed(e.to_string()))?;
    let mut state_times = BTreeMap::new();
    if let Some(AttributeValue::M(map)) = item.get("state_times") {
        for (name, value) in map {
            let entered: BatchState = name
                .parse()
                .map_err(|e: super::UnknownState| malformed(e.to_string()))?;
            let value = value
                .as_s()
                .map_err(|_| malformed(format!("state_times.{name} is not text")))?;
            state_times.insert(entered, time("state_times", value)?);
        }
    }
    let optional = |name: &str| text(item, name).map(str::to_owned);
    Ok(BatchRecord {
        state,
        inputs_claimed: matches!(item.get("inputs_claimed"), Some(AttributeValue::Bool(true))),
        plan_key: required("plan_key")?.to_owned(),
        input_objects: number("input_objects")?.unwrap_or(0),
        input_bytes: number("input_bytes")?.unwrap_or(0),
        window: BatchWindow {
            first_partition: required("first_partition")?.to_owned(),
            last_partition: required("last_partition")?.to_owned(),
        },
        planned_at: time("planned_at", required("planned_at")?)?,
        updated_at: time("updated_at", required("updated_at")?)?,
        state_times,
        version: number("version")?.unwrap_or(0),
        fields: TransitionFields {
            route: optional("route"),
            cluster_id: optional("cluster_id"),
            step_id: optional("step_id"),
            statement_id: optional("statement_id"),
            manifest_key: optional("manifest_key"),
            error: optional("error"),
            input_rows: number("input_rows")?,
            output_rows: number("output_rows")?,
            bad_inputs: number("bad_inputs")?,
            objects_deleted: number("objects_deleted")?,
        },
        batch_id,
    })
}

/// Creates the `batches` table (on-demand) with its [`STATE_INDEX`], as the templates
/// declare it; for tests and the local runner.
pub async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
) -> Result<(), LedgerError> {
    let error = |message: String| LedgerError::DynamoDb {
        operation: "CreateTable",
        table: name.to_owned(),
        message,
    };
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| error(e.to_string()))
    };
    let key = |name: &str, key_type: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
            .map_err(|e| error(e.to_string()))
    };
    let index = GlobalSecondaryIndex::builder()
        .index_name(STATE_INDEX)
        .key_schema(key("state", KeyType::Hash)?)
        .key_schema(key("updated_at", KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(|e| error(e.to_string()))?;
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("batch_id")?)
        .attribute_definitions(attribute("state")?)
        .attribute_definitions(attribute("updated_at")?)
        .key_schema(key("batch_id", KeyType::Hash)?)
        .global_secondary_indexes(index)
        .send()
        .await
        .map_err(|e| error(DisplayErrorContext(e).to_string()))?;
    Ok(())
}
