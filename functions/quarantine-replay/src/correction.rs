//! Corrections applied to a quarantined JSON payload before it is re-validated: an RFC 7396
//! JSON merge patch, or a small list of field fixes. Neither may change a record's `event_id`:
//! a replayed record keeps its identity, so gold's deduplication by `event_id` still holds.

use serde::Deserialize;
use serde_json::{Map, Value};
use thiserror::Error;

pub const EVENT_ID: &str = "event_id";

/// One field fix, applied in order.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum FieldFix {
    /// Sets a top-level field (adding it when absent).
    Set { field: String, value: Value },
    /// Removes a top-level field.
    Remove { field: String },
    /// Moves a top-level field's value to another name (nothing happens when it is absent).
    Rename { from: String, to: String },
}

/// A correction as given in the invocation.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CorrectionSpec {
    /// `"mergePatch": null` is kept as a (refused) patch, not read as "no patch".
    #[serde(default, deserialize_with = "present")]
    pub merge_patch: Option<Value>,
    #[serde(default)]
    pub fixes: Vec<FieldFix>,
}

fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CorrectionError {
    #[error("invalid correction: a merge patch must be a JSON object (RFC 7396 would replace the whole record), got {0}")]
    PatchNotAnObject(&'static str),
    #[error("invalid correction: give either mergePatch or fixes, not both")]
    BothKinds,
    #[error("invalid correction: a field fix needs a non-empty field name")]
    EmptyField,
    #[error(
        "refused correction: it would change event_id ({0}); a replayed record keeps its event_id"
    )]
    ChangesEventId(String),
}

/// A checked correction.
#[derive(Debug, Clone, PartialEq)]
pub enum Correction {
    MergePatch(Map<String, Value>),
    Fixes(Vec<FieldFix>),
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Correction {
    /// Checks a correction before anything is read: its shape, and that it never touches
    /// `event_id` (no record may get a new identity, none may lose it).
    pub fn from_spec(spec: CorrectionSpec) -> Result<Option<Self>, CorrectionError> {
        match (spec.merge_patch, spec.fixes.is_empty()) {
            (Some(_), false) => Err(CorrectionError::BothKinds),
            (Some(Value::Object(patch)), true) => {
                if patch.contains_key(EVENT_ID) {
                    return Err(CorrectionError::ChangesEventId(
                        "the merge patch sets event_id".into(),
                    ));
                }
                Ok(Some(Correction::MergePatch(patch)))
            }
            (Some(other), true) => Err(CorrectionError::PatchNotAnObject(kind(&other))),
            (None, true) => Ok(None),
            (None, false) => {
                for fix in &spec.fixes {
                    let touched: Vec<&str> = match fix {
                        FieldFix::Set { field, .. } | FieldFix::Remove { field } => vec![field],
                        FieldFix::Rename { from, to } => vec![from, to],
                    };
                    if touched.iter().any(|f| f.trim().is_empty()) {
                        return Err(CorrectionError::EmptyField);
                    }
                    if touched.contains(&EVENT_ID) {
                        return Err(CorrectionError::ChangesEventId(
                            "a field fix touches event_id".into(),
                        ));
                    }
                }
                Ok(Some(Correction::Fixes(spec.fixes)))
            }
        }
    }

    /// Applies the correction to one record object.
    pub fn apply(&self, record: &mut Map<String, Value>) {
        match self {
            Correction::MergePatch(patch) => merge_object(record, patch),
            Correction::Fixes(fixes) => {
                for fix in fixes {
                    match fix {
                        FieldFix::Set { field, value } => {
                            record.insert(field.clone(), value.clone());
                        }
                        FieldFix::Remove { field } => {
                            record.remove(field);
                        }
                        FieldFix::Rename { from, to } => {
                            if let Some(value) = record.remove(from) {
                                record.insert(to.clone(), value);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// RFC 7396 MergePatch(target, patch).
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(patch) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            if let Value::Object(target) = target {
                merge_object(target, patch);
            }
        }
        other => *target = other.clone(),
    }
}

fn merge_object(target: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (name, value) in patch {
        if value.is_null() {
            target.remove(name);
        } else {
            merge_patch(target.entry(name.clone()).or_insert(Value::Null), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn spec(value: Value) -> CorrectionSpec {
        serde_json::from_value(value).expect("spec")
    }

    /// The examples of RFC 7396, appendix A.
    #[test]
    fn rfc_7396_examples() {
        let cases = [
            (json!({"a":"b"}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"b"}), json!({"b":"c"}), json!({"a":"b","b":"c"})),
            (json!({"a":"b"}), json!({"a":null}), json!({})),
            (
                json!({"a":"b","b":"c"}),
                json!({"a":null}),
                json!({"b":"c"}),
            ),
            (json!({"a":["b"]}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"c"}), json!({"a":["b"]}), json!({"a":["b"]})),
            (
                json!({"a":{"b":"c"}}),
                json!({"a":{"b":"d","c":null}}),
                json!({"a":{"b":"d"}}),
            ),
            (json!({"a":[{"b":"c"}]}), json!({"a":[1]}), json!({"a":[1]})),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a":"b"}), json!(["c"]), json!(["c"])),
            (json!({"a":"foo"}), json!(null), json!(null)),
            (json!({"a":"foo"}), json!("bar"), json!("bar")),
            (json!({"e":null}), json!({"a":1}), json!({"e":null,"a":1})),
            (json!([1, 2]), json!({"a":"b","c":null}), json!({"a":"b"})),
            (
                json!({}),
                json!({"a":{"bb":{"ccc":null}}}),
                json!({"a":{"bb":{}}}),
            ),
        ];
        for (mut target, patch, expected) in cases {
            merge_patch(&mut target, &patch);
            assert_eq!(target, expected, "patch {patch}");
        }
    }

    #[test]
    fn patches_that_are_not_objects_or_touch_event_id_are_refused() {
        for patch in [json!(null), json!([1]), json!("x"), json!(3)] {
            let err = Correction::from_spec(spec(json!({ "mergePatch": patch }))).unwrap_err();
            assert!(matches!(err, CorrectionError::PatchNotAnObject(_)), "{err}");
        }
        for patch in [json!({"event_id": "other"}), json!({"event_id": null})] {
            let err = Correction::from_spec(spec(json!({ "mergePatch": patch }))).unwrap_err();
            assert!(err.to_string().contains("event_id"), "{err}");
        }
        for fix in [
            json!({"op": "set", "field": "event_id", "value": "x"}),
            json!({"op": "remove", "field": "event_id"}),
            json!({"op": "rename", "from": "id", "to": "event_id"}),
            json!({"op": "rename", "from": "event_id", "to": "id"}),
        ] {
            let err = Correction::from_spec(spec(json!({ "fixes": [fix] }))).unwrap_err();
            assert!(matches!(err, CorrectionError::ChangesEventId(_)), "{err}");
        }
        let both = json!({"mergePatch": {"a": 1}, "fixes": [{"op": "remove", "field": "b"}]});
        assert_eq!(
            Correction::from_spec(spec(both)),
            Err(CorrectionError::BothKinds)
        );
        assert!(
            serde_json::from_value::<CorrectionSpec>(json!({"fixes": [{"op": "explode"}]}))
                .is_err()
        );
        assert_eq!(Correction::from_spec(spec(json!({}))), Ok(None));
    }

    #[test]
    fn field_fixes_apply_in_order() {
        let correction = Correction::from_spec(spec(json!({"fixes": [
            {"op": "rename", "from": "userId", "to": "user_id"},
            {"op": "set", "field": "quantity", "value": 2},
            {"op": "remove", "field": "debug"},
        ]})))
        .unwrap()
        .unwrap();
        let mut record = json!({"event_id": "e", "userId": "u-1", "quantity": -2, "debug": true});
        correction.apply(record.as_object_mut().unwrap());
        assert_eq!(
            record,
            json!({"event_id": "e", "user_id": "u-1", "quantity": 2})
        );
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(|n| json!(n)),
            "[a-c]{0,2}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                prop::collection::btree_map("[a-d]", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Applying the same merge patch twice gives what applying it once gives (RFC 7396
        /// patches are idempotent), and a patch without event_id never changes it.
        #[test]
        fn merge_patches_are_idempotent_and_keep_event_id(target in json_value(), patch in json_value()) {
            let mut target = json!({"event_id": "e-1", "body": target});
            let patch = json!({"body": patch});
            let mut once = target.clone();
            merge_patch(&mut once, &patch);
            let mut twice = once.clone();
            merge_patch(&mut twice, &patch);
            prop_assert_eq!(&once, &twice);
            prop_assert_eq!(&once["event_id"], &json!("e-1"));
            merge_patch(&mut target, &json!({}));
            prop_assert_eq!(target["event_id"].clone(), json!("e-1"));
        }
    }
}
