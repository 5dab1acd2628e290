//! The Lambda entry: a thin shell that gives the handler the invocation's deadline and turns
//! its report into what the invoking service expects. [`invoke`] is the whole invocation
//! without the runtime, so it is tested as a function.

use crate::handler::{HandleError, Outcome, Registrar};
use crate::maintenance;
use crate::metrics::{self, MetricsConfig};
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse};
use lambda_runtime::{LambdaEvent, service_fn};
use registrar_core::Deadline;
use serde_json::Value;
use serde_json::value::RawValue;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tracing::Instrument;

/// Time kept back from an event's deadline to write the report and answer: Glue and S3
/// calls stop this long before Lambda would kill the process.
pub const EVENT_MARGIN: Duration = Duration::from_secs(1);
/// The same for a backfill or sync, which stops between steps and reports where.
pub const REPAIR_MARGIN: Duration = Duration::from_secs(5);

/// Serve invocations until the runtime stops the process.
pub async fn serve(registrar: Registrar) -> Result<(), lambda_runtime::Error> {
    let registrar = Arc::new(registrar);
    let metrics = Arc::new(MetricsConfig::from_env());
    // The payload stays JSON text: a 10,000-record SQS batch as a `Value` tree would take
    // several times the memory of the text.
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        let registrar = registrar.clone();
        let metrics = metrics.clone();
        let span = tracing::info_span!("invocation", request_id = %event.context.request_id);
        async move {
            let deadline = deadline_of(event.context.deadline);
            invoke(
                &registrar,
                &metrics,
                event.payload.get(),
                &event.context.request_id,
                deadline,
            )
            .await
        }
        .instrument(span)
    }))
    .await
}

/// The invocation's deadline (milliseconds since the epoch, as the runtime gives it) as an
/// instant of this process's clock.
pub fn deadline_of(deadline_ms: u64) -> Deadline {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    Deadline::at(Instant::now() + Duration::from_millis(deadline_ms.saturating_sub(now_ms)))
}

/// One invocation: a maintenance request (backfill or sync) or an event, handled by
/// `deadline`, with its metrics and report logged, answered as the invoking service expects.
pub async fn invoke(
    registrar: &Registrar,
    metrics: &MetricsConfig,
    payload: &str,
    request_id: &str,
    deadline: Deadline,
) -> Result<Value, lambda_runtime::Error> {
    if let Some(request) = maintenance::parse(payload) {
        let result = match request {
            Ok(request) => {
                maintenance::run(registrar, &request, deadline.earlier(REPAIR_MARGIN)).await
            }
            Err(e) => Err(e),
        };
        metrics::emit_repair(metrics, result.as_ref().ok(), Some(request_id));
        return Ok(serde_json::to_value(result?)?);
    }
    let result = registrar
        .handle_text(payload, false, deadline.earlier(EVENT_MARGIN))
        .await;
    match &result {
        Ok(outcome) => {
            metrics::emit(metrics, outcome, Some(request_id), false);
            log_report(outcome);
        }
        Err(e) => tracing::error!(error = %e, "event not handled"),
    }
    respond(result)
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
/// to the queue (or an error, which returns the whole batch, when a failed record has no
/// id to name). Any other source invokes asynchronously: an error makes Lambda retry the
/// event and finally hand it to the dead-letter queue, so a failed object is never lost.
pub fn respond(outcome: Result<Outcome, HandleError>) -> Result<Value, lambda_runtime::Error> {
    let outcome = outcome?;
    let report = &outcome.report;
    if report.retry_whole_batch {
        return Err(
            "a failed SQS record has no messageId, so it cannot be named in batchItemFailures; the whole batch is retried"
                .into(),
        );
    }
    if let Some(ids) = &report.batch_item_failures {
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = ids
            .iter()
            .map(|id| {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id.clone();
                failure
            })
            .collect();
        return Ok(serde_json::to_value(response)?);
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
