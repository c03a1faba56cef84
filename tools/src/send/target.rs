//! `--to TARGET`: where generated events go.

use anyhow::{bail, Context, Result};
use std::fmt;
use std::str::FromStr;

/// A destination for generated events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The ingest API (`POST /v1/events` behind API Gateway): NDJSON requests.
    Http { url: String },
    /// A Kinesis data stream, by name or ARN: PutRecords.
    Kinesis { stream: String },
    /// A Kafka topic: produce requests to the brokers found from `bootstrap`.
    Kafka {
        bootstrap: Vec<String>,
        topic: String,
    },
}

impl Target {
    /// `http`, `kinesis` or `kafka`.
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Http { .. } => "http",
            Target::Kinesis { .. } => "kinesis",
            Target::Kafka { .. } => "kafka",
        }
    }
}

impl FromStr for Target {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> Result<Self> {
        let text = text.trim();
        let (scheme, rest) = text.split_once("://").with_context(|| {
            format!(
                "{text:?} is not a target: expected http(s)://HOST[:PORT]/PATH, \
                 kinesis://STREAM or kafka://HOST:PORT[,HOST:PORT...]/TOPIC"
            )
        })?;
        match scheme.to_ascii_lowercase().as_str() {
            "http" | "https" => {
                let url: hyper::Uri = text
                    .parse()
                    .with_context(|| format!("{text:?} is not a valid URL"))?;
                if url.host().is_none_or(str::is_empty) {
                    bail!("{text:?} has no host");
                }
                Ok(Target::Http {
                    url: text.to_owned(),
                })
            }
            "kinesis" => {
                let stream = rest.trim_end_matches('/');
                if stream.is_empty() {
                    bail!("{text:?} names no stream: expected kinesis://STREAM");
                }
                Ok(Target::Kinesis {
                    stream: stream.to_owned(),
                })
            }
            "kafka" => {
                let (servers, topic) = rest.split_once('/').with_context(|| {
                    format!("{text:?} names no topic: expected kafka://HOST:PORT/TOPIC")
                })?;
                let topic = topic.trim_end_matches('/');
                if topic.is_empty() || topic.contains('/') {
                    bail!("{text:?}: expected kafka://HOST:PORT[,HOST:PORT...]/TOPIC");
                }
                let bootstrap: Vec<String> = servers
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                if bootstrap.is_empty() {
                    bail!("{text:?} names no bootstrap server");
                }
                if let Some(server) = bootstrap.iter().find(|s| !s.contains(':')) {
                    bail!("bootstrap server {server:?} has no port (e.g. {server}:9092)");
                }
                Ok(Target::Kafka {
                    bootstrap,
                    topic: topic.to_owned(),
                })
            }
            other => bail!("unknown target scheme {other:?}: use http, https, kinesis or kafka"),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Http { url } => f.write_str(url),
            Target::Kinesis { stream } => write!(f, "kinesis://{stream}"),
            Target::Kafka { bootstrap, topic } => {
                write!(f, "kafka://{}/{topic}", bootstrap.join(","))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_print_back() {
        for text in [
            "http://127.0.0.1:8080/v1/events",
            "https://api.example.com/v1/events",
            "kinesis://shopstream-events",
            "kinesis://arn:aws:kinesis:eu-west-1:123456789012:stream/events",
            "kafka://127.0.0.1:9092/shopstream-events",
            "kafka://b-1:9092,b-2:9092/events",
        ] {
            let target: Target = text.parse().unwrap();
            assert_eq!(target.to_string(), text);
        }
        assert_eq!(
            "kafka://a:1, b:2/t".parse::<Target>().unwrap(),
            Target::Kafka {
                bootstrap: vec!["a:1".into(), "b:2".into()],
                topic: "t".into()
            }
        );
    }

    #[test]
    fn bad_targets_say_what_is_wrong() {
        for (text, expected) in [
            ("events.jsonl", "is not a target"),
            ("ftp://x/y", "unknown target scheme"),
            ("kinesis://", "names no stream"),
            ("kafka://127.0.0.1:9092", "names no topic"),
            ("kafka://127.0.0.1:9092/", "expected kafka://"),
            ("kafka://broker/topic", "has no port"),
            ("http:///v1/events", "URL"),
        ] {
            let error = text.parse::<Target>().unwrap_err();
            assert!(format!("{error:#}").contains(expected), "{text}: {error:#}");
        }
    }
}
