//! Avro in the Confluent wire format: magic byte 0, a 4-byte big-endian schema id, then the
//! Avro binary body written with that schema.

use super::{decode_json_value, Decoded, PayloadFormat};
use crate::reason::{RejectReason, Rejection};
use crate::record::{Entity, Record};
use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::schema::Schema;
use apache_avro::types::Value as AvroValue;
use apache_avro::writer::datum::GenericDatumWriter;
use std::collections::HashMap;
use std::sync::{Once, OnceLock};
use thiserror::Error;

pub const CONFLUENT_MAGIC: u8 = 0;
const HEADER_LEN: usize = 5;
/// Upper bound on one allocation while decoding an Avro body. Stream records are at most 1 MiB
/// (Kinesis) or a few MiB (Kafka), so a length prefix claiming more is corrupt input.
const MAX_AVRO_ALLOCATION: usize = 16 * 1024 * 1024;

const TRANSACTION_AVSC: &str = include_str!("../../schemas/transaction.avsc");
const CLICKSTREAM_AVSC: &str = include_str!("../../schemas/clickstream.avsc");
const INVENTORY_AVSC: &str = include_str!("../../schemas/inventory.avsc");

#[derive(Debug, Error)]
pub enum AvroError {
    #[error("invalid schema mapping {spec:?}: {problem}")]
    Mapping { spec: String, problem: String },
    #[error("record does not fit the schema: {0}")]
    Encode(String),
}

/// The bundled schema of an entity (the `.avsc` files under `shared/schemas/`).
pub fn bundled_schema(entity: Entity) -> &'static Schema {
    static SCHEMAS: OnceLock<[Schema; 3]> = OnceLock::new();
    let schemas = SCHEMAS.get_or_init(|| {
        // The bundled files are checked by the tests; failing to parse them is a build defect.
        let parse = |text: &str| Schema::parse_str(text).expect("bundled Avro schema parses");
        [
            parse(TRANSACTION_AVSC),
            parse(CLICKSTREAM_AVSC),
            parse(INVENTORY_AVSC),
        ]
    });
    match entity {
        Entity::Transaction => &schemas[0],
        Entity::Clickstream => &schemas[1],
        Entity::Inventory => &schemas[2],
    }
}

/// Writer schemas by Confluent schema-registry id, each tied to the entity it carries.
#[derive(Debug, Clone, Default)]
pub struct AvroSchemas {
    by_id: HashMap<u32, (Entity, Schema)>,
}

impl AvroSchemas {
    pub fn new() -> Self {
        Self::default()
    }

    /// The bundled schemas under ids 1 (transaction), 2 (clickstream) and 3 (inventory): the
    /// default when no mapping is configured.
    pub fn bundled_defaults() -> Self {
        let mut schemas = Self::new();
        for (id, entity) in [
            (1, Entity::Transaction),
            (2, Entity::Clickstream),
            (3, Entity::Inventory),
        ] {
            schemas.register(id, entity, bundled_schema(entity).clone());
        }
        schemas
    }

    /// Parses a mapping such as `"1=transaction,7=clickstream"` onto the bundled schemas:
    /// the ids are whatever the schema registry assigned.
    pub fn from_mapping(spec: &str) -> Result<Self, AvroError> {
        let mut schemas = Self::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let problem = |problem: String| AvroError::Mapping {
                spec: spec.to_owned(),
                problem,
            };
            let (id, entity) = part
                .split_once('=')
                .ok_or_else(|| problem(format!("{part:?} is not id=entity")))?;
            let id: u32 = id
                .trim()
                .parse()
                .map_err(|_| problem(format!("{id:?} is not a schema id")))?;
            let entity: Entity = entity.parse().map_err(problem)?;
            schemas.register(id, entity, bundled_schema(entity).clone());
        }
        Ok(schemas)
    }

    pub fn register(&mut self, id: u32, entity: Entity, schema: Schema) {
        self.by_id.insert(id, (entity, schema));
    }

    pub fn get(&self, id: u32) -> Option<(Entity, &Schema)> {
        self.by_id
            .get(&id)
            .map(|(entity, schema)| (*entity, schema))
    }

    /// The id registered for an entity, if any (lowest id wins).
    pub fn id_for(&self, entity: Entity) -> Option<u32> {
        self.by_id
            .iter()
            .filter(|(_, (e, _))| *e == entity)
            .map(|(id, _)| *id)
            .min()
    }
}

fn limit_avro_allocations() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        apache_avro::util::max_allocation_bytes(MAX_AVRO_ALLOCATION);
    });
}

/// Decodes one Confluent-framed Avro record.
pub fn decode_confluent(
    payload: &[u8],
    schemas: &AvroSchemas,
) -> Result<Decoded<'static>, Rejection> {
    limit_avro_allocations();
    if payload.len() < HEADER_LEN {
        return Err(Rejection::new(
            RejectReason::DecodeError,
            format!(
                "Confluent Avro frame is {} bytes, shorter than its 5-byte header",
                payload.len()
            ),
        ));
    }
    if payload[0] != CONFLUENT_MAGIC {
        return Err(Rejection::new(
            RejectReason::DecodeError,
            format!(
                "Confluent Avro frame starts with byte {}, not the magic byte 0",
                payload[0]
            ),
        ));
    }
    let schema_id = u32::from_be_bytes([payload[1], payload[2], payload[3], payload[4]]);
    let (entity, schema) = schemas.get(schema_id).ok_or_else(|| {
        Rejection::new(
            RejectReason::SchemaMismatch,
            format!("schema id {schema_id} is not a registered schema"),
        )
    })?;
    let mut body = &payload[HEADER_LEN..];
    let reader = GenericDatumReader::builder(schema).build().map_err(|e| {
        Rejection::new(
            RejectReason::SchemaMismatch,
            format!("schema id {schema_id} is unusable: {e}"),
        )
    })?;
    let value = reader.read_value(&mut body).map_err(|e| {
        Rejection::new(
            RejectReason::DecodeError,
            format!("Avro body does not decode with schema id {schema_id}: {e}"),
        )
    })?;
    if !body.is_empty() {
        return Err(Rejection::new(
            RejectReason::DecodeError,
            format!(
                "{} bytes left after the Avro record: written with another schema than id {schema_id}?",
                body.len()
            ),
        ));
    }
    let mut json = avro_to_json(value);
    match json.as_object_mut() {
        Some(object) => {
            object.insert("record_type".into(), entity.as_str().into());
        }
        None => {
            return Err(Rejection::new(
                RejectReason::SchemaMismatch,
                format!("schema id {schema_id} does not describe a record"),
            ))
        }
    }
    let mut decoded = decode_json_value(json)?;
    decoded.format = PayloadFormat::ConfluentAvro { schema_id };
    Ok(decoded)
}

/// Encodes a record as Confluent-framed Avro with the given schema.
pub fn encode_confluent(
    schema_id: u32,
    schema: &Schema,
    record: &Record,
) -> Result<Vec<u8>, AvroError> {
    let value = json_to_avro(&record.to_json_value(), schema).map_err(AvroError::Encode)?;
    let body = write_datum(schema, value)?;
    let mut framed = Vec::with_capacity(HEADER_LEN + body.len());
    framed.push(CONFLUENT_MAGIC);
    framed.extend_from_slice(&schema_id.to_be_bytes());
    framed.extend_from_slice(&body);
    Ok(framed)
}

/// The Avro binary encoding of one value (no framing).
pub fn write_datum(schema: &Schema, value: AvroValue) -> Result<Vec<u8>, AvroError> {
    GenericDatumWriter::builder(schema)
        .build()
        .and_then(|writer| writer.write_value_to_vec(value))
        .map_err(|e| AvroError::Encode(e.to_string()))
}

/// Converts a decoded Avro value to JSON, unwrapping unions.
pub fn avro_to_json(value: AvroValue) -> serde_json::Value {
    use serde_json::Value as Json;
    match value {
        AvroValue::Null => Json::Null,
        AvroValue::Boolean(b) => Json::Bool(b),
        AvroValue::Int(i) => Json::from(i),
        AvroValue::Long(i) => Json::from(i),
        AvroValue::Float(f) => float_to_json(f as f64),
        AvroValue::Double(f) => float_to_json(f),
        AvroValue::String(s) | AvroValue::Enum(_, s) => Json::String(s),
        AvroValue::Union(_, inner) => avro_to_json(*inner),
        AvroValue::Record(fields) => Json::Object(
            fields
                .into_iter()
                .map(|(name, v)| (name, avro_to_json(v)))
                .collect(),
        ),
        AvroValue::Map(entries) => Json::Object(
            entries
                .into_iter()
                .map(|(name, v)| (name, avro_to_json(v)))
                .collect(),
        ),
        AvroValue::Array(items) => Json::Array(items.into_iter().map(avro_to_json).collect()),
        other => Json::String(format!("{other:?}")),
    }
}

/// NaN and infinities have no JSON number: keep them as text so price checks refuse them.
fn float_to_json(f: f64) -> serde_json::Value {
    serde_json::Number::from_f64(f)
        .map(serde_json::Value::Number)
        .unwrap_or_else(|| serde_json::Value::String(f.to_string()))
}

/// Converts JSON to an Avro value of `schema`, choosing union branches by the JSON type.
pub fn json_to_avro(json: &serde_json::Value, schema: &Schema) -> Result<AvroValue, String> {
    use serde_json::Value as Json;
    match (schema, json) {
        (Schema::Record(record), Json::Object(object)) => {
            let mut fields = Vec::with_capacity(record.fields.len());
            for field in &record.fields {
                let value = object.get(&field.name).unwrap_or(&Json::Null);
                let converted = json_to_avro(value, &field.schema)
                    .map_err(|e| format!("field {}: {e}", field.name))?;
                fields.push((field.name.clone(), converted));
            }
            Ok(AvroValue::Record(fields))
        }
        (Schema::Union(union), _) => {
            for (index, variant) in union.variants().iter().enumerate() {
                if let Ok(value) = json_to_avro(json, variant) {
                    return Ok(AvroValue::Union(index as u32, Box::new(value)));
                }
            }
            Err(format!("{json} fits no branch of the union"))
        }
        (Schema::Null, Json::Null) => Ok(AvroValue::Null),
        (Schema::Boolean, Json::Bool(b)) => Ok(AvroValue::Boolean(*b)),
        (Schema::Int, Json::Number(n)) => n
            .as_i64()
            .and_then(|i| i32::try_from(i).ok())
            .map(AvroValue::Int)
            .ok_or_else(|| format!("{n} is not a 32-bit integer")),
        (Schema::Long, Json::Number(n)) => n
            .as_i64()
            .map(AvroValue::Long)
            .ok_or_else(|| format!("{n} is not a 64-bit integer")),
        (Schema::Double, Json::Number(n)) => n
            .as_f64()
            .map(AvroValue::Double)
            .ok_or_else(|| format!("{n} is not a double")),
        (Schema::Float, Json::Number(n)) => n
            .as_f64()
            .map(|f| AvroValue::Float(f as f32))
            .ok_or_else(|| format!("{n} is not a float")),
        (Schema::String, Json::String(s)) => Ok(AvroValue::String(s.clone())),
        (schema, json) => Err(format!("{json} is not a {schema:?}")),
    }
}
