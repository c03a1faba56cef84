//! DynamoDB JSON (`{"S": "x"}`, `{"N": "1.5"}`, ...) to plain JSON.

use serde_json::{Map, Number, Value};

/// One typed attribute value as plain JSON. Numbers stay JSON numbers when that is exact
/// (integers, decimals whose shortest f64 form reads back the same), otherwise they are kept
/// as their decimal string so no digit is lost. Binary stays base64 text.
pub fn plain(value: &Value) -> Value {
    let Some((kind, inner)) = value.as_object().and_then(|m| m.iter().next()) else {
        return value.clone();
    };
    match (kind.as_str(), inner) {
        ("S" | "B", Value::String(_)) => inner.clone(),
        ("N", Value::String(n)) => number(n),
        ("BOOL", Value::Bool(_)) => inner.clone(),
        ("NULL", _) => Value::Null,
        ("M", Value::Object(map)) => Value::Object(item(map)),
        ("L", Value::Array(items)) => Value::Array(items.iter().map(plain).collect()),
        ("SS" | "BS", Value::Array(_)) => inner.clone(),
        ("NS", Value::Array(items)) => Value::Array(
            items
                .iter()
                .map(|n| n.as_str().map(number).unwrap_or_else(|| n.clone()))
                .collect(),
        ),
        _ => value.clone(),
    }
}

/// A whole item (attribute name → typed value) as a plain JSON object.
pub fn item(map: &Map<String, Value>) -> Map<String, Value> {
    map.iter().map(|(k, v)| (k.clone(), plain(v))).collect()
}

fn number(text: &str) -> Value {
    let text = text.trim();
    if let Ok(i) = text.parse::<i64>() {
        return Value::Number(i.into());
    }
    if let Ok(u) = text.parse::<u64>() {
        return Value::Number(u.into());
    }
    match text.parse::<f64>().ok().and_then(Number::from_f64) {
        Some(n) if n.to_string() == text => Value::Number(n),
        _ => Value::String(text.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn typed_values_become_plain() {
        let typed = json!({
            "id": {"S": "o-1"}, "qty": {"N": "3"}, "price": {"N": "19.99"},
            "big": {"N": "123456789012345678901234567890"}, "paid": {"BOOL": true},
            "note": {"NULL": true}, "tags": {"SS": ["a", "b"]}, "sizes": {"NS": ["1", "2.5"]},
            "blob": {"B": "AAEqQQ=="},
            "lines": {"L": [{"M": {"sku": {"S": "x"}, "n": {"N": "2"}}}]}
        });
        let plain = Value::Object(item(typed.as_object().expect("object")));
        assert_eq!(
            plain,
            json!({
                "id": "o-1", "qty": 3, "price": 19.99, "big": "123456789012345678901234567890",
                "paid": true, "note": null, "tags": ["a", "b"], "sizes": [1, 2.5], "blob": "AAEqQQ==",
                "lines": [{"sku": "x", "n": 2}]
            })
        );
    }
}
