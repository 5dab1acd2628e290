//! In-process caches of a warm Lambda: bounded in size and in age, so that memory stays flat
//! and changes made elsewhere (a dropped partition, an altered table) are seen in time.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// A set whose members expire after `ttl` and that never holds more than `capacity`.
#[derive(Debug)]
pub struct ExpiringSet<K> {
    entries: HashMap<K, Instant>,
    capacity: usize,
    ttl: Duration,
}

impl<K: Hash + Eq + Clone> ExpiringSet<K> {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            entries: HashMap::new(),
            capacity,
            ttl,
        }
    }

    pub fn contains(&self, key: &K, now: Instant) -> bool {
        self.entries
            .get(key)
            .is_some_and(|added| now.duration_since(*added) < self.ttl)
    }

    pub fn insert(&mut self, key: K, now: Instant) {
        if self.ttl.is_zero() {
            // Nothing would ever be found again: keep no memory for it.
            return;
        }
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&key) {
            let ttl = self.ttl;
            self.entries
                .retain(|_, added| now.duration_since(*added) < ttl);
            if self.entries.len() >= self.capacity {
                // Still full of live entries: forgetting them all costs only a few Glue
                // calls that answer "already exists", and keeps the bound simple and hard.
                self.entries.clear();
            }
        }
        self.entries.insert(key, now);
    }

    pub fn remove(&mut self, key: &K) {
        self.entries.remove(key);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_expire_after_ttl() {
        let mut s = ExpiringSet::new(10, Duration::from_secs(60));
        let t0 = Instant::now();
        s.insert("a", t0);
        assert!(s.contains(&"a", t0 + Duration::from_secs(59)));
        assert!(!s.contains(&"a", t0 + Duration::from_secs(61)));
    }

    #[test]
    fn size_never_exceeds_capacity() {
        let mut s = ExpiringSet::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        for i in 0..10 {
            s.insert(i, t0);
            assert!(s.len() <= 3);
        }
        assert!(s.contains(&9, t0));
    }

    #[test]
    fn zero_ttl_keeps_nothing() {
        let mut s = ExpiringSet::new(3, Duration::ZERO);
        let t0 = Instant::now();
        s.insert(1, t0);
        assert!(s.is_empty());
        assert!(!s.contains(&1, t0));
    }

    #[test]
    fn removed_members_are_gone() {
        let mut s = ExpiringSet::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        s.insert(1, t0);
        s.remove(&1);
        assert!(!s.contains(&1, t0));
    }
}
