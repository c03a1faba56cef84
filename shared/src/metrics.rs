//! CloudWatch Embedded Metric Format: one JSON log line per invocation that CloudWatch turns
//! into metrics, with no API calls on the hot path.

use serde_json::{json, Map, Value};

pub const NAMESPACE: &str = "shopstream";
/// CloudWatch accepts at most 100 metrics per directive.
const MAX_METRICS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Percent,
    Milliseconds,
    Bytes,
    None,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Percent => "Percent",
            Unit::Milliseconds => "Milliseconds",
            Unit::Bytes => "Bytes",
            Unit::None => "None",
        }
    }
}

/// Metrics of one invocation, sharing one set of dimensions.
#[derive(Debug, Clone)]
pub struct MetricSet {
    namespace: String,
    dimensions: Vec<(String, String)>,
    metrics: Vec<(String, f64, Unit)>,
    properties: Map<String, Value>,
}

impl MetricSet {
    pub fn new(namespace: &str) -> Self {
        MetricSet {
            namespace: namespace.to_owned(),
            dimensions: Vec::new(),
            metrics: Vec::new(),
            properties: Map::new(),
        }
    }

    /// A set for a function: namespace `shopstream`, dimension `Function`.
    pub fn for_function(function: &str) -> Self {
        Self::new(NAMESPACE).dimension("Function", function)
    }

    pub fn dimension(mut self, name: &str, value: &str) -> Self {
        self.dimensions.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds to a metric (summing if it is already there).
    pub fn put(&mut self, name: &str, value: f64, unit: Unit) {
        if let Some((_, existing, _)) = self.metrics.iter_mut().find(|(n, _, _)| n == name) {
            *existing += value;
        } else if self.metrics.len() < MAX_METRICS {
            self.metrics.push((name.to_owned(), value, unit));
        }
    }

    pub fn count(&mut self, name: &str, value: usize) {
        self.put(name, value as f64, Unit::Count);
    }

    /// Searchable context that is not a metric (request id, batch position).
    pub fn property(&mut self, name: &str, value: impl Into<Value>) {
        self.properties.insert(name.to_owned(), value.into());
    }

    pub fn value(&self, name: &str) -> Option<f64> {
        self.metrics
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, v, _)| *v)
    }

    /// The EMF document for a timestamp in epoch milliseconds.
    pub fn to_emf(&self, timestamp_ms: i64) -> Value {
        let dimension_names: Vec<&str> = self.dimensions.iter().map(|(n, _)| n.as_str()).collect();
        let metric_definitions: Vec<Value> = self
            .metrics
            .iter()
            .map(|(name, _, unit)| json!({"Name": name, "Unit": unit.as_str()}))
            .collect();
        let mut root = self.properties.clone();
        for (name, value) in &self.dimensions {
            root.insert(name.clone(), Value::String(value.clone()));
        }
        for (name, value, _) in &self.metrics {
            root.insert(name.clone(), json!(value));
        }
        root.insert(
            "_aws".to_owned(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": [dimension_names],
                    "Metrics": metric_definitions,
                }],
            }),
        );
        Value::Object(root)
    }

    /// Prints the EMF line to stdout, where the Lambda log agent picks it up.
    /// Prints the EMF document on stdout (where Lambda's log agent picks it up), or keeps it
    /// when [`capture_emitted`] was called.
    pub fn emit(&self) {
        let document = self.to_emf(chrono::Utc::now().timestamp_millis());
        if let Ok(mut captured) = CAPTURED.lock() {
            if let Some(documents) = captured.as_mut() {
                documents.push(document.to_string());
                return;
            }
        }
        println!("{document}");
    }
}

/// Documents kept instead of printed, once [`capture_emitted`] is called.
static CAPTURED: std::sync::Mutex<Option<Vec<String>>> = std::sync::Mutex::new(None);

/// From now on, [`MetricSet::emit`] keeps its documents in memory instead of printing them,
/// for a process that runs handlers outside Lambda (`shopstream run` writes them to a file
/// instead of mixing them into its summary).
pub fn capture_emitted() {
    if let Ok(mut captured) = CAPTURED.lock() {
        captured.get_or_insert_with(Vec::new);
    }
}

/// The documents kept since the last call (empty when not capturing).
pub fn take_emitted() -> Vec<String> {
    CAPTURED
        .lock()
        .ok()
        .and_then(|mut captured| captured.as_mut().map(std::mem::take))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captured_documents_are_kept_instead_of_printed() {
        capture_emitted();
        let mut metrics = MetricSet::for_function("gold-transform");
        metrics.count("FactRows", 3);
        metrics.emit();
        let kept = take_emitted();
        assert!(
            kept.iter().any(|d| d.contains("\"FactRows\":3")),
            "{kept:?}"
        );
        assert!(take_emitted().iter().all(|d| !d.contains("\"FactRows\":3")));
    }

    #[test]
    fn emf_document_has_directive_dimensions_and_values() {
        let mut metrics = MetricSet::for_function("stream-enrich");
        metrics.count("RecordsIn", 10);
        metrics.count("RecordsIn", 5);
        metrics.put("RejectionRate", 20.0, Unit::Percent);
        metrics.property("batch", "shard-1");
        let doc = metrics.to_emf(1_700_000_000_000);
        assert_eq!(doc["Function"], "stream-enrich");
        assert_eq!(doc["RecordsIn"], 15.0);
        assert_eq!(doc["batch"], "shard-1");
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "shopstream");
        assert_eq!(directive["Dimensions"][0][0], "Function");
        assert_eq!(directive["Metrics"][1]["Unit"], "Percent");
        assert_eq!(doc["_aws"]["Timestamp"], 1_700_000_000_000i64);
    }

    #[test]
    fn metrics_beyond_the_cloudwatch_limit_are_dropped_not_invalid() {
        let mut metrics = MetricSet::new("x");
        for i in 0..150 {
            metrics.count(&format!("m{i}"), 1);
        }
        let doc = metrics.to_emf(0);
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .map(Vec::len),
            Some(100)
        );
    }
}
