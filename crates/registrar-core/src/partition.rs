//! Partitions as they travel between planning, the walk and the writer: named types, not
//! tuples, so that no reader re-derives which string is the location.

use foldhash::quality::RandomState;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::hash::{BuildHasher, Hash, Hasher};

/// A partition to register: its values, in partition key order, and its location.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PartitionSpec {
    pub values: Vec<String>,
    pub location: String,
}

impl PartitionSpec {
    pub fn new(values: Vec<String>, location: String) -> Self {
        Self { values, location }
    }
}

/// A partition whose objects were removed: what to settle, and the keys whose removal asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal<'k> {
    pub partition: PartitionSpec,
    pub removed: Vec<&'k str>,
}

/// A 128-bit fingerprint of a partition's values or directory: what a backfill keeps of a
/// catalog of a million partitions (16 bytes each instead of their descriptors), and of the
/// directories it found. Two independent 64-bit hashes with seeds drawn per process: the
/// fingerprints never leave the process, so nobody can choose names that collide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(u128);

/// A set of fingerprints, hashed by their own bits: they are random already.
pub type FingerprintSet = HashSet<Fingerprint, PassThrough>;

/// The hasher of a [`FingerprintSet`].
#[derive(Debug, Clone, Copy, Default)]
pub struct PassThrough;

impl BuildHasher for PassThrough {
    type Hasher = PassThroughHasher;
    fn build_hasher(&self) -> PassThroughHasher {
        PassThroughHasher(0)
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct PassThroughHasher(u64);

impl Hasher for PassThroughHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u128(&mut self, n: u128) {
        self.0 ^= n as u64;
    }
}

/// Makes [`Fingerprint`]s; one per process (its seeds are random).
#[derive(Debug, Clone, Default)]
pub struct Fingerprinter {
    high: RandomState,
    low: RandomState,
}

impl Fingerprinter {
    pub fn values(&self, values: &[String]) -> Fingerprint {
        self.of(values)
    }

    pub fn dir(&self, dir: &str) -> Fingerprint {
        self.of(dir)
    }

    fn of(&self, x: impl Hash + Copy) -> Fingerprint {
        let high = u128::from(self.high.hash_one(x));
        Fingerprint((high << 64) | u128::from(self.low.hash_one(x)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_fingerprinted_by_content_and_order() {
        let f = Fingerprinter::default();
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(f.values(&v(&["a", "b"])), f.values(&v(&["a", "b"])));
        assert_ne!(f.values(&v(&["a", "b"])), f.values(&v(&["b", "a"])));
        // Values are hashed with their lengths: ["ab", ""] is not ["a", "b"].
        assert_ne!(f.values(&v(&["ab", ""])), f.values(&v(&["a", "b"])));
    }
}
