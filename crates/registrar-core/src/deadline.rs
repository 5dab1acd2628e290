//! The time an invocation has: every wait on the network and every retry is bounded by it.
//!
//! A Lambda is killed at its deadline, and a killed SQS invocation returns its whole batch to
//! the queue, into the same trouble. So the work stops early enough to answer, naming what it
//! did not do, and Lambda deletes the rest.

use std::time::{Duration, Instant};

/// When work must have stopped. [`Deadline::NONE`] (the CLI) never passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Deadline(Option<Instant>);

impl Deadline {
    /// No deadline: a person at a terminal can press Ctrl-C.
    pub const NONE: Deadline = Deadline(None);

    pub fn at(instant: Instant) -> Self {
        Self(Some(instant))
    }

    pub fn after(duration: Duration) -> Self {
        Self::at(Instant::now() + duration)
    }

    /// The instant, if there is one.
    pub fn instant(&self) -> Option<Instant> {
        self.0
    }

    /// Time left; `None` when there is no deadline.
    pub fn remaining(&self) -> Option<Duration> {
        self.0
            .map(|at| at.saturating_duration_since(Instant::now()))
    }

    pub fn passed(&self) -> bool {
        self.remaining().is_some_and(|left| left.is_zero())
    }

    /// Whether waiting `wait` (a backoff before a retry) still leaves time for the retry.
    pub fn allows(&self, wait: Duration) -> bool {
        self.remaining().is_none_or(|left| left > wait)
    }

    /// The same deadline brought forward by `margin` (kept to write the answer).
    pub fn earlier(self, margin: Duration) -> Self {
        Self(self.0.map(|at| at.checked_sub(margin).unwrap_or(at)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_deadline_never_passes_and_allows_any_wait() {
        assert!(!Deadline::NONE.passed());
        assert!(Deadline::NONE.allows(Duration::from_secs(3600)));
        assert_eq!(Deadline::NONE.remaining(), None);
    }

    #[test]
    fn a_wait_longer_than_what_is_left_is_not_allowed() {
        let d = Deadline::after(Duration::from_secs(2));
        assert!(d.allows(Duration::from_millis(100)));
        assert!(!d.allows(Duration::from_secs(3)));
    }

    #[test]
    fn bringing_a_deadline_forward_can_make_it_pass() {
        let d = Deadline::after(Duration::from_millis(500)).earlier(Duration::from_secs(1));
        assert!(d.passed());
    }
}
