//! How many listings a walk keeps in flight: additive increase while S3 answers as fast as it
//! did, multiplicative decrease when it says to slow down (TCP's AIMD); below one listing in
//! flight, a gap between listings that doubles on each slow-down and shrinks while S3 keeps
//! up, so that a prefix limited to fewer listings a second than one chain sends is met too. S3 scales a prefix's
//! request rate up over time and answers `503 SlowDown` past it
//! (https://docs.aws.amazon.com/AmazonS3/latest/userguide/optimizing-performance.html): a repair
//! fanned out over many functions, each at a fixed width, would keep hitting the limit, each
//! retry adding to the load. Pure: the shell times the answers and counts the throttles.

use std::time::Duration;

/// An answer this much slower than the fastest seen no longer counts as "latency holds".
const SLOWER: f64 = 2.0;
/// The longest gap between two listings.
const MAX_GAP: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct Pace {
    /// Listings in flight allowed now (fractional: grows by 1/width an answer, so about one a
    /// round of answers).
    width: f64,
    ceiling: f64,
    /// The fastest answer seen: what "latency holds" is measured against.
    fastest: Option<Duration>,
    /// Answers since the last decrease, throttled ones included: one decrease a round,
    /// however many throttles a burst of requests met.
    since_decrease: usize,
    /// A round: the listings that were in flight at the last decrease, whose answers (and
    /// throttles) may still come back from before it.
    round: usize,
    /// Time between two listings' starts, once one in flight is still too many.
    gap: Duration,
}

impl Pace {
    /// Start at `start` listings in flight, never more than `ceiling` (`--concurrency`).
    pub fn new(start: usize, ceiling: usize) -> Self {
        let ceiling = ceiling.max(1) as f64;
        Self {
            width: (start.max(1) as f64).min(ceiling),
            ceiling,
            fastest: None,
            since_decrease: usize::MAX,
            round: 0,
            gap: Duration::ZERO,
        }
    }

    /// How long to wait between starting two listings (zero but at one in flight).
    pub fn gap(&self) -> Duration {
        self.gap
    }

    /// Listings that may be in flight now.
    pub fn width(&self) -> usize {
        self.width.floor().max(1.0) as usize
    }

    /// A listing answered in `latency`.
    pub fn answered(&mut self, latency: Duration) {
        self.since_decrease = self.since_decrease.saturating_add(1);
        let fastest = *self.fastest.get_or_insert(latency);
        if latency < fastest {
            self.fastest = Some(latency);
        }
        if latency.as_secs_f64() > SLOWER * fastest.as_secs_f64().max(0.001) {
            return;
        }
        if self.gap > Duration::ZERO {
            self.gap = self.gap.mul_f64(0.95);
            if self.gap < Duration::from_millis(1) {
                self.gap = Duration::ZERO;
            }
            return;
        }
        self.width = (self.width + 1.0 / self.width).min(self.ceiling);
    }

    /// S3 said to slow down (`SlowDown`, a 503, throttling): halve, once a round. A throttled
    /// answer is an answer of the round: a walk that meets nothing but throttles (no answer to
    /// time) still halves again once what was in flight has come back, down to the gap.
    pub fn slow_down(&mut self) {
        self.since_decrease = self.since_decrease.saturating_add(1);
        if self.since_decrease < self.round {
            return;
        }
        self.since_decrease = 0;
        self.round = self.width();
        if self.width >= 2.0 {
            self.width /= 2.0;
            return;
        }
        self.width = 1.0;
        let floor = self.fastest.unwrap_or(Duration::from_millis(50));
        self.gap = (self.gap * 2).max(floor).min(MAX_GAP);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(80);

    #[test]
    fn the_width_grows_about_one_a_round_while_latency_holds_up_to_its_ceiling() {
        let mut p = Pace::new(4, 8);
        for _ in 0..5 {
            p.answered(MS);
        }
        assert_eq!(p.width(), 5);
        for _ in 0..100 {
            p.answered(MS);
        }
        assert_eq!(p.width(), 8, "never past the ceiling");
    }

    #[test]
    fn slower_answers_hold_the_width() {
        let mut p = Pace::new(4, 64);
        p.answered(MS);
        for _ in 0..20 {
            p.answered(MS * 3);
        }
        assert_eq!(p.width(), 4);
    }

    #[test]
    fn a_slow_down_halves_once_a_round() {
        let mut p = Pace::new(16, 64);
        p.slow_down();
        assert_eq!(p.width(), 8);
        // The rest of the burst that met the same limit: no further halving.
        p.slow_down();
        p.slow_down();
        assert_eq!(p.width(), 8);
        // The rest of the 16 that were in flight come back; the next throttle is a new round.
        for _ in 0..13 {
            p.answered(MS);
        }
        p.slow_down();
        assert_eq!(p.width(), 4);
        for _ in 0..50 {
            p.slow_down();
            for _ in 0..8 {
                p.answered(MS * 10);
            }
        }
        assert_eq!(p.width(), 1, "never below one");
        assert!(p.gap() > Duration::ZERO, "then a gap between listings");
    }

    #[test]
    fn a_round_of_nothing_but_throttles_halves_again() {
        let mut p = Pace::new(16, 64);
        p.slow_down();
        assert_eq!(p.width(), 8);
        // The other 15 of the burst throttled too: one decrease for them all.
        for _ in 0..15 {
            p.slow_down();
        }
        assert_eq!(p.width(), 8);
        // The next listing, sent at 8, throttled as well, and none answered: a new round.
        p.slow_down();
        assert_eq!(p.width(), 4);
        for _ in 0..100 {
            p.slow_down();
        }
        assert_eq!(p.width(), 1);
        assert!(p.gap() > Duration::ZERO, "then a gap between listings");
    }

    #[test]
    fn the_gap_doubles_at_one_in_flight_and_closes_while_latency_holds() {
        let mut p = Pace::new(1, 8);
        p.slow_down();
        let first = p.gap();
        assert!(
            first > Duration::ZERO,
            "a gap once one in flight is too many"
        );
        p.answered(MS);
        p.slow_down();
        assert!(p.gap() > first, "{:?} then {:?}", first, p.gap());
        let mut answers = 0;
        while p.gap() > Duration::ZERO {
            p.answered(MS);
            answers += 1;
            assert!(answers < 200, "the gap never closed");
        }
        assert_eq!(p.width(), 1);
        p.answered(MS);
        assert_eq!(p.width(), 2, "then the width grows again");
    }
}
