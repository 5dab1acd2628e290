//! One way in, for the Lambda and the CLI alike: a payload is classified once
//! (`registrar_core::request::classify`), then handled as an event or run as a maintenance
//! request (backfill, sync, or a state machine's split). The two front ends differ only in
//! how they answer.

use crate::handler::{HandleError, Outcome, Registrar};
use crate::sync::{self, Progress, SyncError, SyncOptions};
use registrar_core::name::NameError;
use registrar_core::pass::{Cursor, CursorError};
use registrar_core::report::{Report, SplitPlan};
use registrar_core::request::{Invocation, Maintenance, RequestError, classify};
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
    /// A table cut into units for a state machine.
    Split(SplitPlan),
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
}

impl InvocationError {
    /// The input or the configuration cannot work (as opposed to a call that failed).
    pub fn is_unusable(&self) -> bool {
        match self {
            Self::Sync(SyncError::Catalog(e)) => {
                !matches!(e, crate::catalog::CatalogError::Call(_))
            }
            _ => true,
        }
    }
}

impl Answer {
    /// Whether something failed (the CLI's exit status 1).
    pub fn has_failures(&self) -> bool {
        match self {
            Self::Event(outcome) => outcome.report.has_failures(),
            Self::Maintenance { report, .. } => report.has_failures(),
            Self::Split(_) => false,
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
        prune: request.prune,
        update_schema: request.update_schema,
        deadline,
        ..SyncOptions::default()
    };
    if let Some(n) = request.concurrency {
        options.concurrency = n.clamp(1, 256);
    }
    if let Some(n) = request.glue_concurrency {
        options.glue_concurrency = n.clamp(1, 64);
    }
    if let Some(groups) = request.split {
        // Boxed: the future is deep enough to overflow the compiler's layout limit inline.
        let plan = Box::pin(sync::split(registrar, &table, &options, groups)).await?;
        return Ok(Answer::Split(plan));
    }
    match &request.resume {
        None => {}
        // A pass whose groups all finished, with nothing left for this run.
        Some(cursors) if cursors.is_empty() => {
            return Ok(Answer::Maintenance {
                report: registrar_core::report::Tally::new(request.dry_run).finish(None),
                summary: request.summary,
            });
        }
        Some(cursors) => {
            let merged =
                Cursor::merge(cursors.clone()).map_err(|e: CursorError| SyncError::Cursor(e))?;
            options.resume = Some(merged);
        }
    }
    let report = Box::pin(sync::sync(registrar, &table, &options, progress)).await?;
    Ok(Answer::Maintenance {
        report,
        summary: request.summary,
    })
}
