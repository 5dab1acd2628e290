//! Log set-up: JSON lines for the Lambda (CloudWatch Logs Insights queries them by field),
//! and the same on stderr for the CLI, whose stdout carries the report.

use tracing_subscriber::EnvFilter;

/// Install the global subscriber. `LOG_LEVEL` (e.g. `debug`, or a filter such as
/// `glue_partition_registrar=debug`) overrides `default_level`.
pub fn init(default_level: &str, to_stderr: bool) {
    let level = std::env::var("LOG_LEVEL")
        .ok()
        .filter(|l| !l.trim().is_empty())
        .unwrap_or_else(|| default_level.to_owned());
    let filter = EnvFilter::try_new(&level).unwrap_or_else(|_| EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false);
    let _ = if to_stderr {
        builder.with_writer(std::io::stderr).try_init()
    } else {
        builder.try_init()
    };
}
