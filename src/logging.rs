//! Log set-up: JSON lines for the Lambda (CloudWatch Logs Insights queries them by field),
//! and the same on stderr for the CLI, whose stdout carries the report.

use std::str::FromStr;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Install the global subscriber. `LOG_LEVEL` (`error`, `warn`, `info`, `debug`, or
/// directives such as `warn,glue_partition_registrar=debug`) overrides `default_level`.
pub fn init(default_level: &str, to_stderr: bool) {
    let level = std::env::var("LOG_LEVEL")
        .ok()
        .filter(|l| !l.trim().is_empty())
        .unwrap_or_else(|| default_level.to_owned());
    let filter = Targets::from_str(level.trim())
        .or_else(|_| Targets::from_str(default_level))
        .unwrap_or_default();
    let format = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false);
    let registry = tracing_subscriber::registry().with(filter);
    let _ = if to_stderr {
        registry
            .with(format.with_writer(std::io::stderr))
            .try_init()
    } else {
        registry.with(format).try_init()
    };
}
