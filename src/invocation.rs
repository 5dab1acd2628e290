//! One way in, for the Lambda and the CLI alike: a payload is classified once
//! (`registrar_core::request::classify`), then handled as an event, run as a maintenance
//! request (a run of a backfill or sync pass), or run as one of the repair state machine's
//! own steps. The two front ends differ only in how they answer.

use crate::handler::{HandleError, Outcome, Registrar};
use crate::repair::{self, Planned, RepairError, Reviewed};
use crate::sync::{self, PassRequest, Progress, Ran, SyncError, SyncOptions};
use registrar_core::name::NameError;
use registrar_core::report::{Report, SplitPlan};
use registrar_core::request::{Invocation, Maintenance, RepairStep, RequestError, classify};
use registrar_core::{Deadline, TableName};

/// How to run one payload.
pub struct Options<'p> {
    /// Plan and read, write nothing (`handle --dry-run`).
    pub dry_run: bool,
    /// When an event's work must have stopped.
    pub event_deadline: Deadline,
    /// When a maintenance request's work must have stopped.
    pub repair_deadline: Deadline,
    pub progress: &'p dyn Progress,
}

/// What a payload gave.
#[derive(Debug)]
pub enum Answer {
    /// An event's outcome.
    Event(Outcome),
    /// A backfill's or sync's report; `summary` when the request asked for counts and the
    /// cursor only.
    Maintenance { report: Report, summary: bool },
    /// A pass's first run for a state machine: its groups.
    Split(SplitPlan),
    /// The tables an execution repairs, where its map reads them.
    Planned(Planned),
    /// Which tables an execution did not repair, and why.
    Reviewed(Reviewed),
}

#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    #[error(transparent)]
    Event(#[from] HandleError),
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error(transparent)]
    Table(#[from] NameError),
    #[error(transparent)]
    Sync(#[from] SyncError),
    #[error(transparent)]
    Repair(#[from] RepairError),
}

impl InvocationError {
    /// The input or the configuration cannot work (as opposed to a call that failed).
    pub fn is_unusable(&self) -> bool {
        match self {
            Self::Sync(e) => e.is_unusable(),
            Self::Repair(RepairError::Results(_)) => false,
            Self::Repair(RepairError::Checkpoint(e)) => !e.is_transient(),
            _ => true,
        }
    }

    /// The error's name, as a state machine's `Retry` and `Catch` match it (the Lambda's
    /// `errorType`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sync(e) => e.name(),
            Self::Repair(_) if !self.is_unusable() => "RepairRunFailed",
            Self::Event(_) => "EventFailed",
            _ => "RepairRefused",
        }
    }
}

impl Answer {
    /// Whether something failed (the CLI's exit status 1).
    pub fn has_failures(&self) -> bool {
        match self {
            Self::Event(outcome) => outcome.report.has_failures(),
            Self::Maintenance { report, .. } => report.has_failures(),
            Self::Split(_) | Self::Planned(_) => false,
            Self::Reviewed(r) => r.failed > 0,
        }
    }
}

/// Handle one payload.
pub async fn run(
    registrar: &Registrar,
    payload: &str,
    options: &Options<'_>,
) -> Result<Answer, InvocationError> {
    match classify(payload) {
        Invocation::Event(text) => Ok(Answer::Event(
            registrar
                .handle_text(text, options.dry_run, options.event_deadline)
                .await?,
        )),
        Invocation::Maintenance(request) => {
            let request = request?.dry_run(options.dry_run);
            maintenance(
                registrar,
                &request,
                options.repair_deadline,
                options.progress,
            )
            .await
        }
        Invocation::Repair(step) => match step? {
            RepairStep::Plan { tables, execution } => Ok(Answer::Planned(
                repair::plan(registrar, &tables, &execution, options.repair_deadline).await?,
            )),
            RepairStep::Review { bucket, key } => Ok(Answer::Reviewed(
                repair::review(registrar, &bucket, &key, options.repair_deadline).await?,
            )),
        },
    }
}

/// Run a backfill or sync request by `deadline`: its report says what was done and, if it
/// stopped, where to go on.
pub async fn maintenance(
    registrar: &Registrar,
    request: &Maintenance,
    deadline: Deadline,
    progress: &dyn Progress,
) -> Result<Answer, InvocationError> {
    let table = TableName::parse(&request.table)?;
    let mut options = SyncOptions {
        dry_run: request.dry_run,
        deadline,
        ..SyncOptions::default()
    };
    if let Some(n) = request.concurrency {
        options.concurrency = n.clamp(1, 256);
    }
    if let Some(n) = request.glue_concurrency {
        options.glue_concurrency = n.clamp(1, 64);
    }
    let pass = PassRequest {
        table,
        prune: request.prune,
        update_schema: request.update_schema,
        window_days: request.window_days,
        step: request.step.clone(),
    };
    // Boxed: the future is deep enough to overflow the compiler's layout limit inline.
    match Box::pin(sync::run(registrar, &pass, &options, progress)).await? {
        Ran::Report(report) => Ok(Answer::Maintenance {
            report: *report,
            summary: request.summary,
        }),
        Ran::Split(plan) => Ok(Answer::Split(plan)),
    }
}
