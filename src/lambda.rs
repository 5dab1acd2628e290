//! The Lambda entry: a thin shell that gives the handler the invocation's deadline and turns
//! its report into what the invoking service expects. [`invoke`] is the whole invocation
//! without the runtime, so it is tested as a function.

use crate::handler::{HandleError, Outcome, Registrar};
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
        return maintenance::run(registrar, request?, deadline).await;
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

/// Scheduled repairs: `{"backfill": {"table": "db.t"}}` or `{"sync": {"table": "db.t", "prune": true}}`.
mod maintenance {
    use crate::config::TableName;
    use crate::handler::Registrar;
    use crate::sync::{LogProgress, SyncOptions, sync};
    use registrar_core::Deadline;
    use serde::Deserialize;
    use serde_json::Value;
    use std::time::Duration;

    /// Time kept back from the Lambda deadline to finish the report and return it.
    const MARGIN: Duration = Duration::from_secs(5);

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Request {
        table: String,
        #[serde(default)]
        dry_run: bool,
        #[serde(default)]
        prune: bool,
        #[serde(default)]
        update_schema: bool,
        #[serde(default)]
        concurrency: Option<usize>,
    }

    /// Only `backfill` or `sync` at the top: any other event fails this at its first field.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Envelope {
        backfill: Option<Value>,
        sync: Option<Value>,
    }

    /// `None` when the event is not a maintenance request.
    pub fn parse(payload: &str) -> Option<Result<Request, lambda_runtime::Error>> {
        let envelope: Envelope = serde_json::from_str(payload).ok()?;
        let (kind, body) = match envelope {
            Envelope {
                backfill: Some(b), ..
            } => ("backfill", b),
            Envelope { sync: Some(b), .. } => ("sync", b),
            _ => return None,
        };
        Some(
            serde_json::from_value::<Request>(body)
                .map(|mut r| {
                    r.prune &= kind == "sync";
                    r.update_schema &= kind == "sync";
                    r
                })
                .map_err(|e| format!("malformed {kind} request: {e}").into()),
        )
    }

    pub async fn run(
        registrar: &Registrar,
        request: Request,
        deadline: Deadline,
    ) -> Result<Value, lambda_runtime::Error> {
        let table = TableName::parse(&request.table)?;
        let options = SyncOptions {
            dry_run: request.dry_run,
            prune: request.prune,
            update_schema: request.update_schema,
            concurrency: request.concurrency.unwrap_or(8).clamp(1, 64),
            deadline: deadline.earlier(MARGIN),
            ..SyncOptions::default()
        };
        // Boxed: the sync future is deep enough to overflow the compiler's layout limit inline.
        let report = Box::pin(sync(registrar, &table, &options, &LogProgress)).await?;
        tracing::info!(
            table = %table,
            created = report.created.len(),
            existing = report.existing.len(),
            deleted = report.deleted.len(),
            updated = report.updated.len(),
            failed = report.failed.len(),
            stopped = report.stopped.as_deref(),
            "sync summary"
        );
        Ok(serde_json::to_value(report)?)
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use serde_json::json;

        #[test]
        fn other_events_are_not_maintenance() {
            assert!(parse(&json!({"Records": []}).to_string()).is_none());
        }

        #[test]
        fn backfill_never_prunes() {
            let r = parse(&json!({"backfill": {"table": "d.t", "prune": true}}).to_string())
                .unwrap()
                .unwrap();
            assert!(!r.prune);
            assert_eq!(r.table, "d.t");
        }

        #[test]
        fn sync_may_prune() {
            let r = parse(
                &json!({"sync": {"table": "d.t", "prune": true, "dry_run": true}}).to_string(),
            )
            .unwrap()
            .unwrap();
            assert!(r.prune && r.dry_run);
        }

        #[test]
        fn malformed_request_is_an_error_naming_it() {
            let err = parse(&json!({"sync": {"tabel": "d.t"}}).to_string())
                .unwrap()
                .unwrap_err();
            assert!(err.to_string().contains("malformed sync request"));
        }
    }
}
