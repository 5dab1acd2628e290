//! The Lambda entry: a thin shell that gives the handler the invocation's deadline and turns
//! its report into what the invoking service expects. [`invoke`] is the whole invocation
//! without the runtime, so it is tested as a function.

use crate::handler::{Outcome, Registrar};
use crate::invocation::{self, Answer, InvocationError, Options};
use crate::logging;
use crate::metrics::{self, MetricsConfig};
use crate::sync::LogProgress;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse};
use bytes::Bytes;
use lambda_runtime::layers::TracingLayer;
use lambda_runtime::tower::layer::layer_fn;
use lambda_runtime::{LambdaEvent, LambdaInvocation, Runtime, Service, service_fn};
use registrar_core::Deadline;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tracing::Instrument;

/// What an invocation that fails answers the runtime with: its `errorType` is what a state
/// machine's `Retry` matches (`RepairNoTime`, `RepairRunFailed`, ...).
pub use lambda_runtime::Diagnostic;
pub use lambda_runtime::Error;

/// Time kept back from an event's deadline to write the report and answer: Glue and S3
/// calls stop this long before Lambda would kill the process.
pub const EVENT_MARGIN: Duration = Duration::from_secs(1);
/// The same for a backfill or sync, which stops between steps and reports where.
pub const REPAIR_MARGIN: Duration = Duration::from_secs(5);

/// Serve invocations until the runtime stops the process.
pub async fn serve(
    registrar: Registrar,
    metrics: MetricsConfig,
) -> Result<(), lambda_runtime::Error> {
    let registrar = Arc::new(registrar);
    let metrics = Arc::new(metrics);
    let payloads = Payloads::default();
    let taken = payloads.clone();
    // The handler's own payload is `null`: the event's bytes come from the layer below.
    let handler = service_fn(move |event: LambdaEvent<()>| {
        let registrar = registrar.clone();
        let metrics = metrics.clone();
        let payload = taken.take(&event.context.request_id);
        let span = tracing::info_span!("invocation", request_id = %event.context.request_id);
        async move {
            let payload = payload.ok_or("the runtime gave no payload for this invocation")?;
            let text = std::str::from_utf8(&payload)
                .map_err(|e| format!("the event is not UTF-8 text: {e}"))?;
            let deadline = deadline_of(event.context.deadline);
            invoke(
                &registrar,
                &metrics,
                text,
                &event.context.request_id,
                deadline,
            )
            .await
        }
        .instrument(span)
    });
    Runtime::new(handler)
        .layer(TracingLayer::new())
        .layer(layer_fn(move |inner| TakePayload {
            inner,
            payloads: payloads.clone(),
        }))
        .run()
        .await
}

/// The payload of the invocation in progress, from [`TakePayload`] to the handler.
#[derive(Clone, Default)]
struct Payloads(Arc<Mutex<Option<(String, Bytes)>>>);

impl Payloads {
    fn put(&self, request_id: &str, payload: Bytes) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some((request_id.to_owned(), payload));
    }

    /// The payload of `request_id`; `None` if another invocation's is waiting, which the
    /// sequential runtime never does.
    fn take(&self, request_id: &str) -> Option<Bytes> {
        let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match slot.take() {
            Some((id, payload)) if id == request_id => Some(payload),
            _ => None,
        }
    }
}

/// Hands the handler the event's bytes as the Runtime API sent them. The runtime would read
/// the whole payload into the handler's type first: for a 10,000-record SQS batch (5 MB of
/// JSON) that pass alone was 4.5 ms of CPU, a sixth of the invocation, and the handler reads
/// the text again anyway. The runtime is left `null` to read.
struct TakePayload<S> {
    inner: S,
    payloads: Payloads,
}

impl<S: Service<LambdaInvocation>> Service<LambdaInvocation> for TakePayload<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut invocation: LambdaInvocation) -> S::Future {
        let payload = std::mem::replace(&mut invocation.body, Bytes::from_static(b"null"));
        self.payloads.put(&invocation.context.request_id, payload);
        self.inner.call(invocation)
    }
}

/// The invocation's deadline (milliseconds since the epoch, as the runtime gives it) as an
/// instant of this process's clock.
pub fn deadline_of(deadline_ms: u64) -> Deadline {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    Deadline::at(Instant::now() + Duration::from_millis(deadline_ms.saturating_sub(now_ms)))
}

/// One invocation: a maintenance request (backfill, sync, a state machine's split) or an
/// event, handled by `deadline`, with its metrics and report logged, answered as the
/// invoking service expects.
pub async fn invoke(
    registrar: &Registrar,
    metrics: &MetricsConfig,
    payload: &str,
    request_id: &str,
    deadline: Deadline,
) -> Result<Value, Diagnostic> {
    logging::start_invocation(request_id);
    let progress = LogProgress::default();
    let options = Options {
        dry_run: false,
        event_deadline: deadline.earlier(EVENT_MARGIN),
        repair_deadline: deadline.earlier(REPAIR_MARGIN),
        progress: &progress,
    };
    let answer = invocation::run(registrar, payload, &options).await;
    match &answer {
        Ok(Answer::Event(outcome)) => {
            metrics::emit(metrics, outcome, Some(request_id), false);
            log_report(outcome);
        }
        Ok(Answer::Maintenance { report, .. }) => {
            metrics::emit_repair(metrics, Some(report), Some(request_id))
        }
        Ok(Answer::Split(_) | Answer::Planned(_) | Answer::Reviewed(_)) => {}
        Err(InvocationError::Event(e)) => tracing::error!(error = %e, "event not handled"),
        Err(e) => {
            tracing::error!(error = %e, error_type = e.name(), "maintenance request failed");
            metrics::emit_repair(metrics, None, Some(request_id));
        }
    }
    let answer = answer.map_err(|e| Diagnostic {
        error_type: e.name().to_owned(),
        error_message: e.to_string(),
    })?;
    respond(answer).map_err(|e| Diagnostic {
        error_type: "EventFailed".to_owned(),
        error_message: e.to_string(),
    })
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
/// A maintenance request answers its report (its summary when asked), a split its plan.
pub fn respond(answer: Answer) -> Result<Value, lambda_runtime::Error> {
    let outcome = match answer {
        Answer::Event(outcome) => outcome,
        Answer::Maintenance {
            report,
            summary: true,
        } => {
            return Ok(serde_json::to_value(report.summary())?);
        }
        Answer::Maintenance { report, .. } => return Ok(serde_json::to_value(report)?),
        Answer::Split(plan) => return Ok(serde_json::to_value(plan)?),
        Answer::Planned(planned) => return Ok(serde_json::to_value(planned)?),
        Answer::Reviewed(reviewed) => return Ok(serde_json::to_value(reviewed)?),
    };
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
