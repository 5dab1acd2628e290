//! The Lambda entry: a thin shell over the handler that shapes its outcome into what the
//! invoking service expects.

use crate::handler::{HandleError, Outcome, Registrar};
use crate::metrics::{self, MetricsConfig};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use std::sync::Arc;
use tracing::Instrument;

/// Serve invocations until the runtime stops the process.
pub async fn serve(registrar: Registrar) -> Result<(), lambda_runtime::Error> {
    let registrar = Arc::new(registrar);
    let metrics = Arc::new(MetricsConfig::from_env());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let registrar = registrar.clone();
        let metrics = metrics.clone();
        let span = tracing::info_span!("invocation", request_id = %event.context.request_id);
        async move {
            let result = registrar.handle(&event.payload, false).await;
            match &result {
                Ok(outcome) => {
                    metrics::emit(&metrics, outcome, false);
                    log_report(outcome);
                }
                Err(e) => tracing::error!(error = %e, "event not handled"),
            }
            respond(result)
        }
        .instrument(span)
    }))
    .await
}

/// CloudWatch Logs takes events of at most 256 KiB; a report larger than this is logged
/// as its counts only (the per-object lines and the summary carry the rest).
const MAX_LOGGED_REPORT: usize = 200 * 1024;

fn log_report(outcome: &Outcome) {
    match serde_json::to_string(&outcome.report) {
        Ok(json) if json.len() <= MAX_LOGGED_REPORT => tracing::info!(report = %json, "report"),
        _ => tracing::info!(
            report_bytes = "too large",
            "report omitted; see the invocation summary"
        ),
    }
}

/// The invocation's result. SQS: exactly `batchItemFailures`, so only failed messages return
/// to the queue. Any other source invokes asynchronously: an error makes Lambda retry the
/// event and finally hand it to the on-failure destination, so a failed object is never lost.
pub fn respond(outcome: Result<Outcome, HandleError>) -> Result<Value, lambda_runtime::Error> {
    let outcome = outcome?;
    let report = &outcome.report;
    if report.batch_item_failures.is_some() {
        return Ok(report.sqs_response());
    }
    if report.has_failures() {
        return Err(format!(
            "{} object(s) failed to register (first: {}); the event will be retried",
            report.failed.len(),
            report.failed[0].error
        )
        .into());
    }
    Ok(serde_json::to_value(report)?)
}
