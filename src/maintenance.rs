//! Maintenance requests: `{"backfill": {"table": "db.t"}}` and `{"sync": {"table": "db.t",
//! "prune": true, "update_schema": true}}`, as the scheduled repair sends them to the function
//! (and a person may, through `handle`).

use crate::config::TableName;
use crate::handler::Registrar;
use crate::sync::{LogProgress, SyncError, SyncOptions, sync};
use registrar_core::Deadline;
use registrar_core::name::NameError;
use registrar_core::report::Report;
use serde::Deserialize;
use serde_json::Value;

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

#[derive(Debug, thiserror::Error)]
pub enum MaintenanceError {
    #[error("malformed {kind} request: {message}")]
    Malformed { kind: &'static str, message: String },
    #[error(transparent)]
    Table(#[from] NameError),
    #[error(transparent)]
    Sync(#[from] SyncError),
}

/// Only `backfill` or `sync` at the top: any other event fails this at its first field.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    backfill: Option<Value>,
    sync: Option<Value>,
}

impl Request {
    /// Plan only, whatever the request says (`handle --dry-run`).
    pub fn dry_run(mut self, yes: bool) -> Self {
        self.dry_run |= yes;
        self
    }
}

/// `None` when the event is not a maintenance request.
pub fn parse(payload: &str) -> Option<Result<Request, MaintenanceError>> {
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
            .map_err(|e| MaintenanceError::Malformed {
                kind,
                message: e.to_string(),
            }),
    )
}

/// Run a request by `deadline`; the report says what was done and, if it stopped, where.
pub async fn run(
    registrar: &Registrar,
    request: &Request,
    deadline: Deadline,
) -> Result<Report, MaintenanceError> {
    let table = TableName::parse(&request.table)?;
    let options = SyncOptions {
        dry_run: request.dry_run,
        prune: request.prune,
        update_schema: request.update_schema,
        concurrency: request.concurrency.unwrap_or(8).clamp(1, 64),
        deadline,
        ..SyncOptions::default()
    };
    // Boxed: the sync future is deep enough to overflow the compiler's layout limit inline.
    Ok(Box::pin(sync(registrar, &table, &options, &LogProgress)).await?)
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
        let r =
            parse(&json!({"sync": {"table": "d.t", "prune": true, "dry_run": true}}).to_string())
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
