//! `Partition Complete` events put on the bus the module names (`COMPLETION_BUS`): batched as
//! EventBridge takes them (at most 10 entries and 256 KB a `PutEvents`, each entry's size as
//! EventBridge counts it), a failed entry asked again in rounds with backoff, and what is
//! still failing returned as failed, so that the objects that completed the partition fail
//! too and their messages come back: a completion is never lost, only possibly told twice
//! (with the same id).
//! https://docs.aws.amazon.com/eventbridge/latest/userguide/calculate-putevents-entry-size.html

use crate::aws::{CallError, ErrorKind, call};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use registrar_core::Deadline;
use registrar_core::completion::{DETAIL_TYPE, PartitionComplete, SOURCE};
use std::time::Duration;

const EVENTS: &str = "EventBridge";
/// Entries a `PutEvents` takes.
const MAX_ENTRIES: usize = 10;
/// Bytes a `PutEvents` takes, entries' sizes as EventBridge counts them.
const MAX_BYTES: usize = 256 * 1024;
/// Rounds a failed entry is asked again in.
const ROUNDS: u32 = 4;

/// Where completions are announced.
#[derive(Debug, Clone)]
pub struct Announcer {
    client: aws_sdk_eventbridge::Client,
    bus: Option<String>,
}

impl Announcer {
    pub fn new(client: aws_sdk_eventbridge::Client, bus: Option<String>) -> Self {
        Self { client, bus }
    }

    /// Whether a bus is configured.
    pub fn enabled(&self) -> bool {
        self.bus.is_some()
    }

    /// Put one event per completion; each one's outcome, in order.
    pub async fn announce(
        &self,
        events: &[PartitionComplete],
        deadline: Deadline,
    ) -> Vec<Result<(), CallError>> {
        let Some(bus) = &self.bus else {
            return events.iter().map(|_| Ok(())).collect();
        };
        let mut results: Vec<Option<Result<(), CallError>>> = vec![None; events.len()];
        let mut waiting: Vec<usize> = (0..events.len()).collect();
        for round in 0..=ROUNDS {
            if waiting.is_empty() {
                break;
            }
            if round > 0 {
                let wait = Duration::from_millis(100 * 2u64.pow(round));
                if !deadline.allows(wait) {
                    break;
                }
                tokio::time::sleep(wait).await;
            }
            let mut failed = Vec::new();
            for batch in batches(&waiting, events) {
                let entries: Vec<PutEventsRequestEntry> =
                    batch.iter().map(|i| entry(bus, &events[*i])).collect();
                let send = self.client.put_events().set_entries(Some(entries)).send();
                match call(deadline, EVENTS, "PutEvents", send).await {
                    Ok(out) => {
                        for (i, answer) in batch.iter().zip(out.entries()) {
                            match answer.error_code() {
                                None => results[*i] = Some(Ok(())),
                                Some(code) => {
                                    results[*i] = Some(Err(CallError::from_code(
                                        EVENTS,
                                        "PutEvents",
                                        code,
                                        answer.error_message().unwrap_or(""),
                                    )));
                                    failed.push(*i);
                                }
                            }
                        }
                    }
                    Err(e) => {
                        let retry = e.kind.is_transient() && e.kind != ErrorKind::Deadline;
                        for i in &batch {
                            results[*i] = Some(Err(e.clone()));
                            if retry {
                                failed.push(*i);
                            }
                        }
                    }
                }
            }
            waiting = failed;
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(CallError::deadline(EVENTS, "PutEvents"))))
            .collect()
    }
}

/// An event's entry.
fn entry(bus: &str, event: &PartitionComplete) -> PutEventsRequestEntry {
    PutEventsRequestEntry::builder()
        .event_bus_name(bus)
        .source(SOURCE)
        .detail_type(DETAIL_TYPE)
        .detail(serde_json::to_string(event).expect("events serialise"))
        .build()
}

/// An entry's size as EventBridge counts it: the time (14 bytes), source, detail-type and
/// detail in UTF-8.
fn size(event: &PartitionComplete) -> usize {
    14 + SOURCE.len() + DETAIL_TYPE.len() + serde_json::to_string(event).map_or(0, |d| d.len())
}

/// The entries in `PutEvents` calls of at most 10 entries and 256 KB.
fn batches(indices: &[usize], events: &[PartitionComplete]) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut bytes = 0;
    for &i in indices {
        let n = size(&events[i]);
        match out.last_mut() {
            Some(batch) if batch.len() < MAX_ENTRIES && bytes + n <= MAX_BYTES => {
                batch.push(i);
                bytes += n;
            }
            _ => {
                out.push(vec![i]);
                bytes = n;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use registrar_core::completion::{CompletedBy, Registered};

    fn event(location_len: usize) -> PartitionComplete {
        PartitionComplete {
            id: "0".repeat(32),
            database: "d".into(),
            table: "t".into(),
            values: vec!["1".into()],
            partition: [("dt".to_owned(), "1".to_owned())].into(),
            location: "x".repeat(location_len),
            registered: Registered::Created,
            completed_by: CompletedBy::Marker,
            marker: None,
            partition_end: None,
            service: "s".into(),
        }
    }

    #[test]
    fn entries_go_ten_to_a_call_and_never_more_than_256_kb() {
        let small: Vec<PartitionComplete> = (0..25).map(|_| event(10)).collect();
        let indices: Vec<usize> = (0..25).collect();
        let sizes: Vec<usize> = batches(&indices, &small).iter().map(Vec::len).collect();
        assert_eq!(sizes, [10, 10, 5]);
        let large: Vec<PartitionComplete> = (0..4).map(|_| event(100 * 1024)).collect();
        let sizes: Vec<usize> = batches(&[0, 1, 2, 3], &large)
            .iter()
            .map(Vec::len)
            .collect();
        assert_eq!(sizes, [2, 2]);
    }
}
