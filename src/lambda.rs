//! The Lambda entry: a thin shell over the handler that shapes its outcome into what the
//! invoking service expects.

use crate::handler::{HandleError, Outcome, Registrar};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use std::sync::Arc;
use tracing::Instrument;

/// Serve invocations until the runtime stops the process.
pub async fn serve(registrar: Registrar) -> Result<(), lambda_runtime::Error> {
    let registrar = Arc::new(registrar);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let registrar = registrar.clone();
        let span = tracing::info_span!("invocation", request_id = %event.context.request_id);
        async move { respond(registrar.handle(&event.payload, false).await) }.instrument(span)
    }))
    .await
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
