//! Log set-up: JSON lines in the shape AWS Lambda Powertools writes (flat `level`, `message`,
//! `timestamp`, `service`, `cold_start`, `function_request_id`, then the line's own fields),
//! so that the queries people already run in CloudWatch Logs Insights find these lines too.
//! The Lambda writes them on stdout; the CLI on stderr, whose stdout carries the report.

use serde_json::{Map, Value};
use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// The invocation a log line belongs to: one at a time per process, as the Lambda runtime
/// hands them out.
#[derive(Debug, Clone, Default)]
struct Invocation {
    request_id: Option<String>,
    cold_start: bool,
}

static SERVICE: Mutex<Option<String>> = Mutex::new(None);
static INVOCATION: Mutex<Option<Invocation>> = Mutex::new(None);

/// Every line from here on belongs to this invocation; the first of a process is its cold
/// start.
pub fn start_invocation(request_id: &str) {
    let mut slot = INVOCATION.lock().unwrap_or_else(|e| e.into_inner());
    let cold_start = slot.is_none();
    *slot = Some(Invocation {
        request_id: Some(request_id.to_owned()),
        cold_start,
    });
}

/// Install the global subscriber: `level` (`LOG_LEVEL`: `error`, `warn`, `info`, `debug`, or
/// directives such as `warn,glue_partition_registrar=debug`), else `default_level`; the AWS
/// SDK's own lines only from warnings up unless the directives say otherwise.
pub fn init(level: Option<&str>, default_level: &str, service: &str, to_stderr: bool) {
    *SERVICE.lock().unwrap_or_else(|e| e.into_inner()) = Some(service.to_owned());
    let level = level.unwrap_or(default_level);
    let filter = Targets::from_str(level.trim())
        .or_else(|_| Targets::from_str(default_level))
        .unwrap_or_default();
    let format = tracing_subscriber::fmt::layer().event_format(Powertools);
    let registry = tracing_subscriber::registry().with(filter);
    let _ = if to_stderr {
        registry
            .with(format.with_writer(std::io::stderr))
            .try_init()
    } else {
        registry.with(format).try_init()
    };
}

/// The Powertools line format.
struct Powertools;

/// The fields of an event, as JSON values.
struct Fields(Map<String, Value>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_owned(), Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field.name().to_owned(), Value::String(value.to_owned()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), value.into());
    }
}

impl<S, N> FormatEvent<S, N> for Powertools
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = Fields(Map::new());
        event.record(&mut fields);
        let mut line = Map::new();
        line.insert(
            "level".into(),
            event.metadata().level().as_str().to_owned().into(),
        );
        line.insert(
            "message".into(),
            fields.0.remove("message").unwrap_or(Value::Null),
        );
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        line.insert("timestamp".into(), registrar_core::time::format(now).into());
        let service = SERVICE.lock().unwrap_or_else(|e| e.into_inner()).clone();
        line.insert("service".into(), service.unwrap_or_default().into());
        if let Some(invocation) = INVOCATION
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            line.insert("cold_start".into(), invocation.cold_start.into());
            if let Some(id) = &invocation.request_id {
                line.insert("function_request_id".into(), id.clone().into());
            }
        }
        for (k, v) in fields.0 {
            line.entry(k).or_insert(v);
        }
        writeln!(writer, "{}", Value::Object(line))
    }
}
